"""Langevin trajectories of an Itô SDE ``dx = A(x) dt + B(x) dW``, ``D = ½ B Bᵀ`` (docs/theory.md §1).

Fields come either from a :class:`~fpsolve.FokkerPlanck` problem (its grid arrays, interpolated
multilinearly between cell centres; walls as on the grid) or from Numba-jitted callables
(:class:`Fields`, exact fields, optional walls from a grid).  Walkers run in parallel over
threads; each has its own random stream derived from ``(seed, walker index)`` only, so a seed
gives the same trajectories whatever the number of threads.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike

from .._deprecate import renamed_keyword
from .._kernels.codes import BOUNDARY_CODES, EULER_MARUYAMA, FREE, HEUN
from ..errors import DivergenceWarning, FieldError, InputError, InputTypeError
from ..solve.grid import Grid
from ..solve.problem import FokkerPlanck, check_psd
from . import _driver as drv
from ._driver import MAX_RECORD_BYTES, RngLike, seed_from
from .trajectory import Trajectory

CHUNK_WALKER_STEPS = 20_000_000  # walker-steps per kernel call: ~0.5 s, so progress can show
STABILITY_LIMIT = 2.0  # Euler-Maruyama and Heun on dx = -λ x dt are stable iff λ dt < 2


@dataclass(frozen=True)
class Method:
    """An SDE integrator (``langevin(method=...)``): its name, kernel code and declared orders.

    The integrators are the values of ``fpsolve.simulate.METHODS``, looked up by name.

    Attributes
    ----------
    name : str
        The key in ``METHODS``: ``"euler_maruyama"`` or ``"heun"``.
    code : int
        The integrator's code for the stepping kernels.
    weak_order : int
        Declared weak order (error of expectations, in ``dt``).
    strong_order : float
        Declared strong order (pathwise error, in ``dt``; for multiplicative noise).
    additive_noise_only : bool
        Whether it needs a constant diffusion.
    description : str
        The update in one line.
    """

    name: str
    code: int
    weak_order: int
    strong_order: float
    additive_noise_only: bool
    description: str


METHODS = {
    "euler_maruyama": Method(
        "euler_maruyama", EULER_MARUYAMA, weak_order=1, strong_order=0.5, additive_noise_only=False,
        description="x += A(x) dt + B(x) √dt ξ (Itô)",
    ),
    "heun": Method(
        "heun", HEUN, weak_order=2, strong_order=1.0, additive_noise_only=True,
        description="stochastic Heun for additive noise: x̃ = x + A(x) dt + B √dt ξ, "
        "x += ½ (A(x) + A(x̃)) dt + B √dt ξ",
    ),
}


def _is_jitted(f: Any) -> bool:
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover
        return False
    return isinstance(f, Dispatcher)


@dataclass(frozen=True, eq=False)
class Fields:
    """Exact drift and diffusion as Numba-jitted callables, for :func:`langevin`.

    Parameters
    ----------
    drift : numba-jitted callable
        ``drift(x, out)``: ``x`` float64 array (d,), fills ``out`` (d,) with ``A(x)`` (SDE time)
        and returns nothing.  Compiled into the stepping kernel, so it must be ``@numba.njit``.
    diffusion : float, array_like (d, d) or numba-jitted callable
        A constant ``D`` (a scalar means ``D = d I``), or ``diffusion(x, out)`` filling ``out``
        (d, d) with a symmetric positive-semidefinite ``D(x)``; factored per step as
        ``½ B Bᵀ = D`` (Cholesky, zero columns where ``D`` is singular).
    grid : Grid, optional
        Walls: reflecting axes mirror, periodic axes wrap, absorbing axes stop a walker.
        Without a grid the walkers move in all of ``R^d``.
    ndim : int, optional
        ``d``; taken from a matrix ``diffusion`` or the grid when not given.

    Examples
    --------
    >>> import numba, numpy as np, fpsolve as fp
    >>> @numba.njit
    ... def drift(x, out):
    ...     out[0] = -x[0]
    >>> fields = fp.simulate.Fields(drift, diffusion=0.5, ndim=1)
    >>> run = fp.simulate.langevin(fields, 0.0, dt=0.01, n_steps=1000, n_walkers=100, rng=1)
    >>> fields.constant_diffusion, run.status
    (True, 'completed')

    Attributes
    ----------
    noise_matrix : ndarray (d, d) or None
        ``B = (2 D)^{1/2}`` for a constant diffusion; None for a callable one.
    constant_diffusion : bool
        Whether the noise is additive (constant ``D``).

    Raises
    ------
    FieldError
        If ``drift`` (or a callable ``diffusion``) is not Numba-jitted, ``grid`` is not a
        :class:`~fpsolve.Grid`, ``ndim`` is missing or does not match, or a constant diffusion
        has the wrong shape, is not finite or not positive semidefinite.
    """

    drift: Callable
    diffusion: float | ArrayLike | Callable
    grid: Grid | None = None
    ndim: int | None = None
    noise_matrix: np.ndarray | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if not _is_jitted(self.drift):
            raise FieldError(
                f"drift must be a numba-jitted function drift(x, out); got "
                f"{type(self.drift).__name__}. Decorate it with @numba.njit, or pass a "
                "FokkerPlanck problem to use its grid arrays"
            )
        if self.grid is not None and not isinstance(self.grid, Grid):
            raise FieldError(f"grid must be an fpsolve.Grid or None; got {type(self.grid).__name__}")
        ndim = self.ndim
        if ndim is None and self.grid is not None:
            ndim = self.grid.ndim
        if callable(self.diffusion):
            if not _is_jitted(self.diffusion):
                raise FieldError(
                    f"diffusion must be a number, a (d, d) matrix or a numba-jitted function "
                    f"diffusion(x, out); got {type(self.diffusion).__name__}"
                )
        else:
            D = np.asarray(self.diffusion, dtype=float)
            if D.ndim == 2 and ndim is None:
                ndim = D.shape[0]
            if ndim is None:
                raise FieldError("ndim is needed when diffusion is a scalar and there is no grid")
            if D.ndim == 0:
                D = D * np.eye(ndim)
            if D.shape != (ndim, ndim):
                raise FieldError(f"diffusion must be a scalar or a ({ndim}, {ndim}) matrix; got shape {D.shape}")
            if not np.all(np.isfinite(D)):
                raise FieldError(f"diffusion must be finite; got {D.tolist()}")
            check_psd(D, None)
            object.__setattr__(self, "noise_matrix", noise_matrix(D))
        if ndim is None:
            raise FieldError("ndim is needed when both fields are callables and there is no grid")
        if self.grid is not None and self.grid.ndim != ndim:
            raise FieldError(f"ndim must match the grid ({self.grid.ndim}); got {ndim}")
        object.__setattr__(self, "ndim", int(ndim))

    @property
    def constant_diffusion(self) -> bool:
        """Whether the noise is additive (constant ``D``)."""
        return self.noise_matrix is not None


def noise_matrix(D: np.ndarray) -> np.ndarray:
    """Symmetric ``B = (2 D)^{1/2}`` (so ``½ B Bᵀ = D``) for ``D`` of shape ``(d, d, ...)``.

    By eigendecomposition, so semidefinite tensors (zero eigenvalues) are fine; round-off
    negative eigenvalues are set to zero.
    """
    d = D.shape[0]
    mats = np.moveaxis(D.reshape(d, d, -1), -1, 0)
    lam, V = np.linalg.eigh(mats)
    root = np.sqrt(2.0 * np.clip(lam, 0.0, None))
    B = np.einsum("nik,nk,njk->nij", V, root, V)
    return np.moveaxis(B, 0, -1).reshape(D.shape)


def standard_normals(seed: int, n_walkers: int, n_steps: int, ndim: int, first: int = 0) -> np.ndarray:
    """The standard normals ``ξ`` that walkers ``first …`` of a run with ``seed`` draw.

    Step ``n`` of walker ``w`` uses ``ξ[w, n-1]`` (Euler--Maruyama and Heun draw one ``ξ`` per
    step).  Useful to rebuild the Brownian path of a run, e.g. for strong-error measurements.

    Parameters
    ----------
    seed : int
        The run's seed (``Trajectory.seed``).
    n_walkers : int
        Number of walkers, from ``first``.
    n_steps : int
        Number of steps, from the first.
    ndim : int
        Dimension ``d``.
    first : int
        Index of the first walker.

    Returns
    -------
    ndarray (n_walkers, n_steps, ndim)

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> xi = fp.simulate.standard_normals(seed=7, n_walkers=3, n_steps=4, ndim=2)
    >>> xi.shape
    (3, 4, 2)
    >>> bool(np.array_equal(xi[1:], fp.simulate.standard_normals(7, 2, 4, 2, first=1)))
    True
    """
    from .._kernels.random import standard_normals as kernel

    out = np.empty((int(n_walkers), int(n_steps), int(ndim)))
    kernel(np.uint64(seed_from(seed)), int(first), out)
    return out


def _check_inside(x: np.ndarray, grid: Grid) -> np.ndarray:
    x = x.copy()
    for k, (lo, hi, bc) in enumerate(zip(grid.lower, grid.upper, grid.boundary)):
        if bc == "periodic":
            x[:, k] = lo + np.mod(x[:, k] - lo, hi - lo)
            continue
        bad = (x[:, k] < lo) | (x[:, k] > hi)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(
                f"x0 must lie inside the grid's {bc} walls on axis {k}, [{lo}, {hi}]; walker {i} "
                f"starts at {x[i, k]}"
            )
    return x


@renamed_keyword("scheme", "method")
def langevin(
    problem_or_fields: FokkerPlanck | Fields,
    x0: ArrayLike,
    dt: float,
    n_steps: int,
    n_walkers: int | None = None,
    record_every: int | None = 1,
    burn_in: int = 0,
    rng: RngLike = None,
    *,
    method: str = "euler_maruyama",
    progress: bool | None = None,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> Trajectory:
    """Simulate walkers of ``dx = A(x) dt + B(x) dW`` (Itô, ``½ B Bᵀ = D``, SDE time).

    Parameters
    ----------
    problem_or_fields : FokkerPlanck or Fields
        A problem: drift and ``B`` (the symmetric root of ``2 D``, precomputed per cell) are
        interpolated multilinearly from the cell centres (linearly extrapolated in the half cell
        next to a wall, wrapped across periodic axes); walls as on the grid.  Interpolation
        makes the fields second-order accurate in the grid spacing; for exact fields give
        :class:`Fields` with jitted callables.
    x0 : array_like, shape (d,) or (n_walkers, d)
        Start; one point for every walker, or one per walker.  Inside non-periodic walls.
    dt : float
        Step in SDE time.
    n_steps : int
        Every step, burn-in included.
    n_walkers : int, optional
        Independent chains (default: rows of ``x0``, or 1).
    record_every : int or None
        Record ``x`` after steps ``burn_in, burn_in + record_every, …`` (``x0`` itself when
        ``burn_in == 0``); ``0`` or ``None`` records nothing (``weights`` is None).
    burn_in : int
        Steps excluded from the records' start and from the streaming moments.
    rng : None, int or numpy.random.Generator
        Randomness.  An int is the seed itself; otherwise a seed is drawn from the generator
        (or from fresh entropy) and stored in ``Trajectory.seed``.
    method : {"euler_maruyama", "heun"}
        Euler--Maruyama (weak order 1, strong order ½; order 1 for additive noise), or the
        stochastic Heun method for additive noise (weak order 2; needs a constant diffusion).
        (The old keyword ``scheme=`` still works, with a DeprecationWarning.)
    progress : bool, optional
        Show a tqdm bar (default: when stderr is a terminal).
    max_record_bytes : int
        Refuse to allocate records larger than this (2 GiB by default).

    Returns
    -------
    Trajectory
        Records, streaming mean and covariance over every step after burn-in, the seed and
        settings.  Walkers that leave through an absorbing wall stop, with their exit step in
        ``stop_step`` and ``exit_times``; walkers whose position becomes non-finite stop, are
        counted in ``n_diverged`` and make ``status == "diverged"`` (with a
        :class:`~fpsolve.DivergenceWarning`).

    Raises
    ------
    InputError
        For an unknown ``method``, ``method="heun"`` with a diffusion that is not constant, a
        ``dt``, ``n_steps``, ``n_walkers``, ``record_every``, ``burn_in`` or seed out of range,
        an ``x0`` of the wrong shape, not finite or outside non-periodic walls, or records
        above ``max_record_bytes``.
    InputTypeError
        If ``problem_or_fields`` is neither a FokkerPlanck nor a Fields, or ``rng`` is not a
        seed or a Generator.
    FieldError
        If the jitted fields of a :class:`Fields` fail when called at ``x0`` (wrong signature).

    Warns
    -----
    StabilityWarning
        ``dt · max|∂A/∂x| >= 2`` on the grid of a problem: the step is beyond the stability
        limit of the integrator.
    DivergenceWarning
        Some walkers went non-finite.

    See Also
    --------
    fpsolve.stationary, fpsolve.evolve : The density the walkers sample.
    fpsolve.compare : Compares the run with a state.
    fpsolve.simulate.sgd : Minibatch SGD chains on a loss landscape.

    Notes
    -----
    The random streams are xoshiro256** generators seeded per walker from ``(seed, walker)``
    with splitmix64, normals from a ziggurat (see ``fpsolve._kernels.random``); the normals of
    a run can be regenerated with :func:`standard_normals`.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid(-4, 4, 128)
    >>> problem = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5)
    >>> run = fp.simulate.langevin(problem, 0.0, dt=0.01, n_steps=2000, n_walkers=200,
    ...                            burn_in=500, record_every=10, rng=0)
    >>> run.weights.shape, run.covariance().shape
    ((200, 151, 1), (1, 1))
    >>> round(float(run.covariance()[0, 0]), 1)  # D = 0.5 (Euler bias D dt / 2, noise ~0.02)
    0.5
    """
    from .._kernels import stats as stats_kernels

    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    strategy = METHODS[method]
    try:
        dt = float(dt)
    except (TypeError, ValueError) as exc:
        raise InputError(f"dt must be a positive number; got {dt!r}") from exc
    if not (math.isfinite(dt) and dt > 0):
        raise InputError(f"dt must be a positive finite number; got {dt!r}")
    n_steps, burn_in, record_every = drv.check_steps(n_steps, burn_in, record_every)

    grid, d, additive, source = _source(problem_or_fields)
    settings: dict[str, Any] = {"method_description": strategy.description, **source}
    if strategy.additive_noise_only and not additive:
        raise InputError(
            f"method {method!r} needs additive noise (a constant diffusion); this problem's "
            "diffusion varies in space: use method='euler_maruyama'"
        )

    pos = drv.initial_positions(x0, n_walkers, d)
    W = pos.shape[0]
    if isinstance(problem_or_fields, FokkerPlanck):
        _warn_unstable_step(problem_or_fields, dt, method)
    if grid is not None:
        pos = _check_inside(pos, grid)
    box = _box(grid, d)

    n_records = (n_steps - burn_in) // record_every + 1 if record_every else 0
    drv.check_record_size(W, n_records, d, record_every, max_record_bytes, "walkers")
    seed = seed_from(rng)
    walkers = _new_walkers(pos, n_records, seed)
    stepper_class = _GridStepper if isinstance(problem_or_fields, FokkerPlanck) else _CallableStepper
    stepper = stepper_class(problem_or_fields, walkers, box, burn_in, record_every, dt, strategy.code)
    seconds = drv.run_chunks(stepper.step, n_steps, max(1, CHUNK_WALKER_STEPS // W), progress, "langevin")
    mean, m2 = stats_kernels.moments_from_sums(walkers.count, walkers.ref, walkers.sum1, walkers.sum2)
    status, stop_step = walkers.status, walkers.stop_step

    run_status, message = drv.summarise(status, stop_step, dt, n_steps)
    if run_status == "diverged":
        warnings.warn(message, DivergenceWarning, stacklevel=2)
    # (same shape as simulate/sgd.py's call: each run fills the shared builder from its own state)
    return drv.build_trajectory(
        walkers.records,
        burn_in=burn_in,
        record_every=record_every,
        dt=dt,
        n_steps=n_steps,
        seed=seed,
        method="langevin",
        scheme=method,
        count=walkers.count,
        chain_mean=mean,
        chain_m2=m2,
        final=walkers.pos,
        chain_status=status,
        stop_step=stop_step,
        exit_wall=walkers.exit_wall,
        status=run_status,
        message=message,
        settings=settings,
        seconds=seconds,
    )


def _source(problem_or_fields: Any) -> tuple[Grid | None, int, bool, dict[str, Any]]:
    """The grid (or None), dimension, whether the noise is additive, and the settings entries."""
    if isinstance(problem_or_fields, FokkerPlanck):
        problem = problem_or_fields
        return (problem.grid, problem.grid.ndim, problem.constant_diffusion,
                {"fields": "grid", "grid": problem.grid, "problem": problem})
    if isinstance(problem_or_fields, Fields):
        fields = problem_or_fields
        return (fields.grid, fields.ndim, fields.constant_diffusion,
                {"fields": "callable", "grid": fields.grid, "drift": fields.drift,
                 "diffusion": fields.diffusion})
    raise InputTypeError(
        "problem_or_fields must be an fpsolve.FokkerPlanck or fpsolve.simulate.Fields; got "
        f"{type(problem_or_fields).__name__}"
    )


def _box(grid: Grid | None, d: int):
    """The kernels' walls: the grid's box and boundary codes, or no walls (``FREE``)."""
    from .._kernels import langevin as kernels

    if grid is None:
        return kernels.Box(np.full(d, -np.inf), np.full(d, np.inf), np.full(d, FREE, dtype=np.int64))
    return kernels.Box(np.array(grid.lower), np.array(grid.upper),
                       np.array([BOUNDARY_CODES[b] for b in grid.boundary], dtype=np.int64))


def _new_walkers(pos: np.ndarray, n_records: int, seed: int):
    """The kernels' walker state for starts ``pos`` (W, d): seeded streams, empty sums, NaN records."""
    from .._kernels import langevin as kernels
    from .._kernels import random as random_kernels

    W, d = pos.shape
    rng_state = np.empty((W, 4), dtype=np.uint64)
    random_kernels.seed_states(np.uint64(seed), 0, rng_state)
    return kernels.Walkers(
        pos, rng_state,
        np.zeros(W, dtype=np.int64),  # count
        np.zeros((W, d)),  # ref: each walker's first position after burn-in
        np.zeros((W, d)),  # sum1: Σ (x - ref)
        np.zeros((W, d, d)),  # sum2: Σ (x - ref)(x - ref)ᵀ, upper triangle
        np.zeros(W, dtype=np.int64),  # status
        np.full(W, -1, dtype=np.int64),  # stop_step
        np.full(W, -1, dtype=np.int64),  # exit_wall
        np.full((W, n_records, d), np.nan),  # records
    )


class _GridStepper:
    """Advances the walkers on the problem's grid fields (cell-major tables: one cell's values
    share a cache line): ``step(n0, n1)`` runs steps ``[n0, n1)`` of every walker."""

    def __init__(self, problem: FokkerPlanck, walkers, box, burn_in: int, record_every: int, dt: float,
                 code: int):
        from .._kernels import langevin as kernels

        grid = problem.grid
        d = grid.ndim
        drift_table = np.ascontiguousarray(problem.drift_field.reshape(d, -1).T)
        cols = 1 if problem.constant_diffusion else -1
        noise_table = np.ascontiguousarray(noise_matrix(problem.diffusion_field).reshape(d * d, cols).T)
        shape = np.array(grid.shape, dtype=np.int64)
        strides = np.ones(d, dtype=np.int64)  # of the cells in C order
        for k in range(d - 2, -1, -1):
            strides[k] = strides[k + 1] * shape[k + 1]
        self.tables = kernels.Tables(shape, 1.0 / np.array(grid.spacing), strides, drift_table, noise_table)
        self.walkers, self.box = walkers, box
        self.burn_in, self.record_every, self.dt, self.code = burn_in, record_every, dt, code

    def step(self, n0: int, n1: int) -> int:
        from .._kernels import langevin as kernels

        span = kernels.Span(n0, n1, self.burn_in, self.record_every, self.dt, self.code)
        return kernels.langevin_grid(self.walkers, span, self.box, self.tables)


class _CallableStepper:
    """Advances the walkers with the user's jitted fields (checked once at the first start):
    ``step(n0, n1)`` runs steps ``[n0, n1)`` of every walker."""

    def __init__(self, fields: Fields, walkers, box, burn_in: int, record_every: int, dt: float,
                 code: int):
        from .._kernels import langevin as kernels

        d = fields.ndim
        _check_callables(fields, walkers.pos[0], d)
        self.diffusion_callable = not fields.constant_diffusion
        self.noise_const = (np.zeros(d * d) if self.diffusion_callable
                            else np.ascontiguousarray(fields.noise_matrix.reshape(d * d)))
        self.drift = fields.drift
        self.diffusion = fields.diffusion if self.diffusion_callable else kernels.no_diffusion
        self.walkers, self.box = walkers, box
        self.burn_in, self.record_every, self.dt, self.code = burn_in, record_every, dt, code

    def step(self, n0: int, n1: int) -> int:
        from .._kernels import langevin as kernels

        span = kernels.Span(n0, n1, self.burn_in, self.record_every, self.dt, self.code)
        return kernels.langevin_callable(self.drift, self.diffusion, self.walkers, span, self.box,
                                         self.noise_const, self.diffusion_callable)


def _check_callables(fields: Fields, x: np.ndarray, d: int) -> None:
    """Call the user's jitted fields once at ``x`` so a wrong signature fails with a clear message."""
    out = np.zeros(d)
    try:
        fields.drift(x.copy(), out)
    except Exception as exc:  # numba typing errors, wrong shapes
        raise FieldError(
            f"drift must have the signature drift(x, out) filling out (shape ({d},)) in place; "
            f"calling it at x0={x.tolist()} failed: {exc}"
        ) from exc
    if not fields.constant_diffusion:
        Dout = np.zeros((d, d))
        try:
            fields.diffusion(x.copy(), Dout)
        except Exception as exc:
            raise FieldError(
                f"diffusion must have the signature diffusion(x, out) filling out (shape ({d}, {d})); "
                f"calling it at x0={x.tolist()} failed: {exc}"
            ) from exc
        check_psd(Dout, None, name=f"diffusion at x0={x.tolist()}")


def drift_rate_bound(problem: FokkerPlanck) -> tuple[float, tuple[float, ...]]:
    """``max_x ‖∂A/∂x‖∞`` over the grid (centred differences of the drift field; one-sided at
    walls), an upper bound on the fastest linear rate of the drift, and where it is largest."""
    grid = problem.grid
    A = problem.drift_field
    d = grid.ndim
    rows = np.zeros(grid.shape)
    for i in range(d):
        for j in range(d):
            rows = rows + np.abs(np.gradient(A[i], grid.spacing[j], axis=j))
    k = int(np.argmax(rows))
    return float(rows.flat[k]), grid.point(np.unravel_index(k, grid.shape))


def _warn_unstable_step(problem: FokkerPlanck, dt: float, method: str) -> None:
    rate, where = drift_rate_bound(problem)
    if dt * rate >= STABILITY_LIMIT:
        from ..errors import StabilityWarning

        warnings.warn(
            f"dt = {dt:g} is beyond the stability limit of {method}: dt · max|∂A/∂x| = {dt * rate:.4g} "
            f">= {STABILITY_LIMIT:g} (max|∂A/∂x| = {rate:.4g} at x=({', '.join(f'{v:.4g}' for v in where)})); "
            f"the walkers overshoot and reflecting walls hide the blow-up. Use dt < "
            f"{STABILITY_LIMIT / rate:.4g}", StabilityWarning, stacklevel=3)
