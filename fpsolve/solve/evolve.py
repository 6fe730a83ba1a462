"""Time evolution of Fokker--Planck problems: relaxation, absorption, first passage.

``evolve(problem, p0, times)`` integrates ``dp/dt = L p`` with the conservative
operator of :mod:`fpsolve.solve.operator`.

Time stepping
-------------
TR-BDF2 (Bank et al. 1985; Hosea & Shampine 1996): a trapezoidal stage to
``t + γΔt`` followed by a BDF2 stage, ``γ = 2 − √2``.  It is L-stable and second
order, and both stages use the same matrix ``I − (γ/2) Δt L``, so one sparse LU
factorisation serves every step of a given size.  The step is adapted to keep the
local error estimate ``2kΔt (f_n/γ − f_γ/(γ(1−γ)) + f_{n+1}/(1−γ))`` (``f = L p``,
``k = (−3γ² + 4γ − 2) / (12 (2 − γ))``) below ``tolerance`` in the L1 norm
(probability units); step sizes are taken from a ladder ``dt0 · 2^j`` and their
factorisations cached, so adapting costs few factorisations.  A step whose density
has negative values beyond round-off is rejected and retried smaller.

``method="expm"`` computes ``exp(L t) p0`` with :func:`scipy.sparse.linalg.expm_multiply`:
exact in time, for small problems and as a cross-check.

With reflecting and periodic walls the columns of ``L`` sum to zero and mass is
conserved to round-off.  Absorbing walls (``p = 0`` on the wall) remove mass: the
result carries the survival probability and the probability absorbed through each
wall.  :func:`mean_first_passage_time` solves the backward equation ``Lᵀ τ = −1``
directly, and :func:`spectral_gap` finds the slowest relaxation rate from the
leading eigenvalues of ``L`` by shift-invert Arnoldi.

Each method is a stepper object (constant-field TR-BDF2, time-dependent TR-BDF2, ``expm``)
with ``step()`` and its own counters; :func:`evolve` is a plain loop over output times that
drives one, records the densities and builds the :class:`Evolution`.
"""

from __future__ import annotations

import sys
import time as _time
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable, Union

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._checks import scalar_float
from ..errors import InputError, InputTypeError, SolverError
from .direct import factor_without_pivoting, grid_ordering
from .grid import Grid
from .interpolate import extrapolate_density, interpolate_density, resample
from .operator import assemble
from .problem import FokkerPlanck

GAMMA = 2.0 - np.sqrt(2.0)
ERROR_CONSTANT = (-3 * GAMMA**2 + 4 * GAMMA - 2) / (12 * (2 - GAMMA))
NEGATIVE_RTOL = 1e-10  # negative values below -NEGATIVE_RTOL * max(p) reject a step
MASS_RTOL = 1e-6  # p0 whose mass differs from 1 by more than this is normalised with a warning
MAX_STEPS = 1_000_000
MIN_LADDER = -40  # dt0 * 2**MIN_LADDER: smallest step before giving up
CACHE_SIZE = 6  # factorisations kept (step sizes of the ladder in use)
EXPM_MAX_CELLS = 20_000  # method="expm" refuses larger problems
LONG_HORIZON = 1e6  # horizons beyond this many fastest time scales (1 / max|diag L|) get the spectral gap
JUMP_FLOOR = 40.0  # relaxation times after which p(t) is p_ss: e^-40 = 4e-18, below round-off of p
RESOLVED_DEFECT = 2e-2  # round-trip TV via the coarse grid: ~7e-3 for a Gaussian of 2.7 cells sd, 0.7 for a spike
MASS_CORRECTION_WARN = 1e-8  # projected mass beyond this (total) signals a step too large for the LU

ProblemSpec = Union[FokkerPlanck, Callable[[float], FokkerPlanck]]


@dataclass(frozen=True, eq=False)
class Evolution:
    """A density evolved in time (SDE time), as returned by :func:`~fpsolve.evolve`.

    Attributes
    ----------
    grid : Grid
        The grid the density lives on.
    problem : FokkerPlanck or callable
        The problem evolved (``t -> FokkerPlanck`` for time-dependent fields).
    times : ndarray (n_times,)
        The output times (SDE time).
    densities : ndarray, shape ``(n_times, *grid.shape)``
        Point values of the density at the cell centres (``sum * cell_volume`` is the mass);
        ``fpsolve.solve.steady_state.cell_integrals`` turns one into cell probabilities.
    mass : ndarray (n_times,)
        Total probability in the box; equals ``survival`` with absorbing walls, 1 otherwise.
    survival : ndarray (n_times,)
        Probability not yet absorbed (the same array as ``mass``).
    absorbed : dict
        Per absorbing wall (``"axis0-lower"``, ...), the probability absorbed up to each time.
    n_steps, n_rejected, n_factorizations : int
        Accepted and rejected TR-BDF2 steps, LU factorisations (all 0 for ``method="expm"``,
        whose ``expm_multiply`` chooses its own substeps).
    method : str
        ``"tr-bdf2"`` or ``"expm"``.
    tolerance : float
        The local error tolerance per step (L1, probability units).
    status : str
        ``"completed"`` (every recorded density integrated) or ``"stationary"`` (the densities
        from ``stationary_from`` on are the stationary state).  A run that fails raises instead.
    message : str
        What was done, in words: the method, the step counters and the ``notes``.
    seconds : float
        Wall-clock time spent in :func:`~fpsolve.evolve`.
    mass_correction : float
        Without absorbing walls, total mass is an invariant of the exact flow: after each step
        the density is rescaled to the mass before it (projection), and this is the sum of the
        absolute relative corrections (round-off of the LU solves, clipped negative values).
    stationary_from : float or None
        When the horizon is many relaxation times (``1 / gap``, the spectral gap), the
        integrated time from which the recorded densities are the stationary state (the
        discrete null vector of ``L``): the jump happens once at least ``JUMP_FLOOR``
        relaxation times remain to the output and ``½ sqrt(χ²(p ‖ p_ss)) e^{−gap Δt}`` is below
        ``1e-3 × tolerance``.  None when every density was integrated.
    spectral_gap : float or None
        The gap used for that decision (computed only for long horizons).
    notes : tuple of str
        What was done beyond plain integration (the jump to the stationary state, order 2 used
        where ``order=4`` could not extrapolate).

    See Also
    --------
    fpsolve.evolve : Computes it.
    fpsolve.plot.evolution : Draws it.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid(-6.0, 6.0, 120)
    >>> problem = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5)
    >>> run = fp.evolve(problem, fp.stationary(problem).density, [0.0, 1.0])
    >>> run.densities.shape, bool(np.allclose(run.mass, 1.0))
    ((2, 120), True)
    >>> bool(run.total_variation(run.densities[0])[-1] < 1e-4)  # it stays stationary
    True
    """

    grid: Grid
    problem: ProblemSpec
    times: np.ndarray
    densities: np.ndarray
    mass: np.ndarray
    absorbed: dict = field(default_factory=dict)
    n_steps: int = 0
    n_rejected: int = 0
    n_factorizations: int = 0
    method: str = "tr-bdf2"
    tolerance: float = 0.0
    seconds: float = 0.0
    mass_correction: float = 0.0
    stationary_from: float | None = None
    spectral_gap: float | None = None
    notes: tuple = ()

    @property
    def survival(self) -> np.ndarray:
        """Probability not yet absorbed."""
        return self.mass

    @property
    def status(self) -> str:
        """``"completed"``, or ``"stationary"`` when the later densities are the stationary state."""
        return "completed" if self.stationary_from is None else "stationary"

    @property
    def message(self) -> str:
        """The method, the step counters and the ``notes``, in words."""
        if self.method.startswith("expm"):
            work = "expm_multiply between the output times"
        else:
            work = (f"{self.n_steps} steps ({self.n_rejected} rejected), "
                    f"{self.n_factorizations} LU factorisations")
        return "; ".join((f"{self.method}: {work}",) + tuple(self.notes))

    def total_variation(self, reference) -> np.ndarray:
        """Total-variation distance to ``reference`` over time.

        Parameters
        ----------
        reference : ndarray of ``grid.shape`` or StationaryState
            The density compared against (point values at the cell centres).

        Returns
        -------
        ndarray (n_times,)
            ``½ ∫ |p(t) − reference| dx`` at every output time.
        """
        q = _reference_density(reference, self.grid)
        return 0.5 * np.abs(self.densities - q).reshape(len(self.times), -1).sum(axis=1) * self.grid.cell_volume

    def kl_divergence(self, reference) -> np.ndarray:
        """``KL(p(t) || reference)`` over time (``inf`` where ``p > 0`` and the reference is 0).

        Parameters
        ----------
        reference : ndarray of ``grid.shape`` or StationaryState
            The density compared against (point values at the cell centres).

        Returns
        -------
        ndarray (n_times,)
            ``∫ p(t) log(p(t) / reference) dx`` at every output time.
        """
        q = _reference_density(reference, self.grid).ravel()
        out = np.empty(len(self.times))
        V = self.grid.cell_volume
        for k, p in enumerate(self.densities.reshape(len(self.times), -1)):
            mask = p > 0
            if np.any(q[mask] <= 0):
                out[k] = np.inf
                continue
            out[k] = float(np.sum(p[mask] * np.log(p[mask] / q[mask])) * V)
        return out

    def plot(self, **kwargs):
        """Snapshots and the relaxation curve (see :func:`fpsolve.plot.evolution`)."""
        from ..plot import evolution

        return evolution(self, **kwargs)

    def mean(self) -> np.ndarray:
        """Mean position over time, shape (n_times, ndim) (of the surviving mass)."""
        x = self.grid.mesh().reshape(self.grid.ndim, -1)
        w = self.densities.reshape(len(self.times), -1) * self.grid.cell_volume
        return (w @ x.T) / w.sum(axis=1, keepdims=True)

    def covariance(self) -> np.ndarray:
        """Covariance over time, shape (n_times, ndim, ndim) (of the surviving mass)."""
        x = self.grid.mesh().reshape(self.grid.ndim, -1)
        w = self.densities.reshape(len(self.times), -1) * self.grid.cell_volume
        w = w / w.sum(axis=1, keepdims=True)
        m = w @ x.T
        second = np.einsum("tn,in,jn->tij", w, x, x)
        return second - np.einsum("ti,tj->tij", m, m)


def _reference_density(reference, grid: Grid) -> np.ndarray:
    q = getattr(reference, "density", reference)
    q = np.asarray(q, dtype=float)
    if q.shape != grid.shape:
        raise InputError(f"reference must have the grid's shape {grid.shape}; got {q.shape}")
    return q


def _initial_density(p0, grid: Grid) -> np.ndarray:
    values = p0(grid.mesh()) if callable(p0) else p0
    p = np.array(values, dtype=float)
    if p.shape != grid.shape:
        raise InputError(f"p0 must have the grid's shape {grid.shape}; got {p.shape}")
    bad = ~np.isfinite(p)
    if bad.any():
        idx = np.unravel_index(int(np.argmax(bad)), grid.shape)
        raise InputError(f"p0 is not finite at cell {tuple(int(i) for i in idx)}: {p[idx]}")
    if p.min() < 0:
        idx = np.unravel_index(int(np.argmin(p)), grid.shape)
        raise InputError(f"p0 must be non-negative; got {p[idx]:.3g} at cell {tuple(int(i) for i in idx)}")
    mass = p.sum() * grid.cell_volume
    if mass <= 0:
        raise InputError("p0 has zero mass")
    if abs(mass - 1.0) > MASS_RTOL:
        warnings.warn(f"p0 has mass {mass:.6g}, not 1; it was normalised", UserWarning, stacklevel=3)
    return p / mass


def _positive_number(value) -> bool:
    v = scalar_float(value)
    return v is not None and bool(np.isfinite(v) and v > 0)


def _check_times(times) -> np.ndarray:
    if np.iscomplexobj(times):
        raise InputError(f"times must be real numbers; got complex values {times!r}")
    try:
        t = np.asarray(times, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError(f"times must be a sequence of numbers; got {times!r}") from None
    if t.size < 1 or not np.all(np.isfinite(t)):
        raise InputError(f"times must be a non-empty sequence of finite numbers; got {times!r}")
    if np.any(np.diff(t) <= 0):
        k = int(np.argmax(np.diff(t) <= 0))
        raise InputError(f"times must be strictly increasing; got times[{k}]={t[k]} >= times[{k + 1}]={t[k + 1]}")
    if t[0] < 0:
        raise InputError(f"times must start at 0 or later; got {t[0]}")
    return t


class _Factorisations:
    """LU factors of ``I − c dt L`` per step size (nested-dissection ordering, no pivoting:
    the matrix is a non-singular M-matrix)."""

    def __init__(self, L: sp.csc_matrix, shape):
        self.L = sp.csc_matrix(L)
        self.order = grid_ordering(tuple(shape))
        self.Lp = self.L[self.order][:, self.order].tocsc()
        self.cache: dict[float, object] = {}
        self.count = 0

    def solve(self, dt: float, rhs: np.ndarray) -> np.ndarray:
        lu = self.cache.get(dt)
        if lu is None:
            if len(self.cache) >= CACHE_SIZE:
                self.cache.pop(next(iter(self.cache)))
            A = (sp.identity(self.L.shape[0], format="csc") - (0.5 * GAMMA * dt) * self.Lp).tocsc()
            lu = factor_without_pivoting(A)
            self.cache[dt] = lu
            self.count += 1
        out = np.empty_like(rhs)
        out[self.order] = lu.solve(rhs[self.order])
        return out


def _relaxation_bound(p_ss: np.ndarray):
    """``p -> ½ sqrt(χ²(p ‖ p_ss))`` (plus the mass where ``p_ss`` underflows to 0): the factor
    in ``TV(p(t), p_ss) <= ½ sqrt(χ²) e^{−gap t}`` (exact for reversible generators, asymptotic
    otherwise; the ``JUMP_FLOOR`` relaxation times cover the transient of a non-normal one)."""
    positive = p_ss > 0
    q = p_ss[positive]
    total = p_ss.sum()

    def bound(p: np.ndarray) -> float:
        m = p.sum()
        a = p[positive] / m
        chi2 = max(float(np.sum(a * a / (q / total))) - 1.0, 0.0)
        return 0.5 * np.sqrt(chi2) + float(p[~positive].sum() / m)

    return bound


def _jump_note(t: float, t_out: float, gap: float, target: float) -> str:
    return (f"integration stopped at t={t:.6g}: the densities recorded from t={t_out:.6g} on are the "
            f"stationary state, which the remaining {(t_out - t) * gap:.3g} relaxation times (spectral "
            f"gap {gap:.6g}) bring within {target:.3g} in total variation")


def _can_jump(bound, p: np.ndarray, remaining: float, gap: float, target: float) -> bool:
    if remaining * gap < JUMP_FLOOR:
        return False
    b = bound(p)
    return bool(np.isfinite(b) and np.log(max(b, 1e-300)) - gap * remaining <= np.log(target))


def _trbdf2_step(solve_g, solve_1, L0, Lg, L1, p: np.ndarray, dt: float):
    """One TR-BDF2 step; ``solve_g``/``solve_1`` solve with ``I − (γ/2) dt L`` at the stage
    times (the same factors when the fields are constant).  Returns (p1, error estimate)."""
    c = 0.5 * GAMMA * dt
    f0 = L0 @ p
    p_g = solve_g(p + c * f0)
    p1 = solve_1((p_g - (1 - GAMMA) ** 2 * p) / (GAMMA * (2 - GAMMA)))
    f_g = Lg @ p_g
    f1 = L1 @ p1
    err = 2 * ERROR_CONSTANT * dt * (f0 / GAMMA - f_g / (GAMMA * (1 - GAMMA)) + f1 / (1 - GAMMA))
    return p1, err


class _Stepper:
    """Advances ``p`` (flat, cell-centre point values) in SDE time, as SciPy's ``OdeSolver``:
    :meth:`step` takes one accepted step towards ``t_out`` and returns its length; the stepper
    owns the density, the time, the probability absorbed through each wall and the counters.
    The driver (:func:`evolve`) owns the output times, the progress bar and the result."""

    def __init__(self, op, p: np.ndarray, t: float, grid: Grid):
        self.op = op
        self.p = p
        self.t = t
        self.grid = grid
        self.walls = list(op.exit_flows(p).keys())
        self.absorbed = {w: 0.0 for w in self.walls}
        self.n_steps = 0
        self.n_rejected = 0
        self.mass_correction = 0.0

    @property
    def n_factorizations(self) -> int:
        return 0

    def reached(self, t_out: float) -> bool:
        """Whether the stepper stands at ``t_out`` (to round-off of the summed steps)."""
        return not self.t < t_out - 1e-14 * max(1.0, abs(t_out))

    def step(self, t_out: float) -> float:
        raise NotImplementedError


class _ExpmStepper(_Stepper):
    """``p ← exp(L Δt) p`` to ``t_out`` in one call (:func:`scipy.sparse.linalg.expm_multiply`,
    which chooses its own substeps: ``n_steps`` stays 0); constant fields only."""

    def reached(self, t_out: float) -> bool:
        return self.t == t_out

    def step(self, t_out: float) -> float:
        grid, p = self.grid, self.p
        dt = t_out - self.t
        p_new = spla.expm_multiply(self.op.matrix * dt, p)
        # the probability lost in the interval, split between walls by their exit flows
        lost = (p.sum() - p_new.sum()) * grid.cell_volume
        flows = self.op.exit_flows(0.5 * (p + p_new))
        total = sum(flows.values()) or 1.0
        for w in self.walls:
            self.absorbed[w] += lost * flows[w] / total
        if p_new.min() < -NEGATIVE_RTOL * p_new.max():
            raise SolverError(f"expm_multiply returned negative density {p_new.min():.3g} at t={t_out}")
        self.p = np.maximum(p_new, 0.0)
        self.t = t_out
        return dt


class _TRBDF2Stepper(_Stepper):
    """Adaptive TR-BDF2 with constant fields: step sizes ``dt0 · 2^level`` from a ladder, one
    cached factorisation of ``I − (γ/2) Δt L`` per size; a step over ``tolerance`` (L1) or with
    negative density is rejected and retried one rung lower."""

    def __init__(self, op, p: np.ndarray, t: float, grid: Grid, *, tolerance: float, dt0: float | None):
        super().__init__(op, p, t, grid)
        self.L = op.matrix
        self.fastest = float(np.abs(self.L.diagonal()).max())
        self.dt0 = float(10.0 / self.fastest if dt0 is None else dt0)
        self.tolerance = tolerance
        self.level = 0
        self._fact = self._factorisations()

    def _factorisations(self):
        return _Factorisations(self.L, self.grid.shape)

    @property
    def n_factorizations(self) -> int:
        return self._fact.count

    def _attempt(self, step: float):
        """(p1, error estimate) of one TR-BDF2 step of length ``step`` from ``(t, p)``."""
        solve = lambda r: self._fact.solve(step, r)  # noqa: E731
        L = self.L
        return _trbdf2_step(solve, solve, L, L, L, self.p, step)

    def _accepted(self) -> None:
        """Hook after an accepted step, before the exit flows at its end are read."""

    def step(self, t_out: float) -> float:
        grid, tolerance = self.grid, self.tolerance
        while True:
            if self.n_steps > MAX_STEPS:
                raise SolverError(f"evolve took more than {MAX_STEPS} steps before t={t_out}")
            dt = self.dt0 * 2.0**self.level
            partial = self.t + dt > t_out
            step = t_out - self.t if partial else dt
            p_new, err = self._attempt(step)
            err_norm = float(np.abs(err).sum() * grid.cell_volume)
            peak = float(np.abs(p_new).max())
            negative = float(p_new.min()) < -NEGATIVE_RTOL * peak
            if not (err_norm > tolerance or negative or not np.isfinite(err_norm)):
                break
            self.n_rejected += 1
            self.level -= 1
            if self.level < MIN_LADDER:
                raise SolverError(
                    f"evolve could not meet tolerance {tolerance:g} at t={self.t:.6g}: step below "
                    f"{self.dt0 * 2.0**MIN_LADDER:.3g} (error {err_norm:.3g}, min density {p_new.min():.3g})"
                )
        self._take(p_new)
        self.t += step
        self.n_steps += 1
        if not partial and err_norm < tolerance / 10.0:
            self.level += 1  # error scales as dt^3: doubling keeps it below tolerance
        return step

    def _take(self, p_new: np.ndarray) -> None:
        """Accept ``p_new``: clip round-off negatives, project the mass (no absorbing wall) or
        split the step's loss between the walls by their outflow (trapezoid)."""
        p, walls = self.p, self.walls
        flows_before = self.op.exit_flows(p)
        lost = (p.sum() - p_new.sum()) * self.grid.cell_volume
        if walls:
            p = np.maximum(p_new, 0.0)
        else:  # mass is invariant: project the step's round-off (and clipping) away
            mass_before = p.sum()
            p = np.maximum(p_new, 0.0)
            mass_after = p.sum()
            self.mass_correction += abs(mass_after - mass_before) / mass_before
            p *= mass_before / mass_after
        self.p = p
        self._accepted()
        flows_after = self.op.exit_flows(p)
        shares = {w: flows_before[w] + flows_after[w] for w in walls}
        total = sum(shares.values()) or 1.0
        for w in walls:  # the step's exact loss, split by the walls' outflow (trapezoid)
            self.absorbed[w] += lost * shares[w] / total


class _TimeDependentStepper(_TRBDF2Stepper):
    """TR-BDF2 for ``t -> FokkerPlanck``: the stage matrices at ``t + γΔt`` and ``t + Δt`` are
    assembled and factorised for every attempted step (two factorisations each)."""

    def __init__(self, at: Callable[[float], FokkerPlanck], op, p: np.ndarray, t: float, grid: Grid, *,
                 tolerance: float, dt0: float | None):
        self.at = at
        self._count = 0
        super().__init__(op, p, t, grid, tolerance=tolerance, dt0=dt0)

    def _factorisations(self):
        return None

    @property
    def n_factorizations(self) -> int:
        return self._count

    def _attempt(self, step: float):
        op_g, op_1 = assemble(self.at(self.t + GAMMA * step)), assemble(self.at(self.t + step))
        fact_g = _Factorisations(op_g.matrix, self.grid.shape)
        fact_1 = _Factorisations(op_1.matrix, self.grid.shape)
        self._count += 2
        self._op_1 = op_1
        return _trbdf2_step(lambda r: fact_g.solve(step, r), lambda r: fact_1.solve(step, r),
                            self.L, op_g.matrix, op_1.matrix, self.p, step)

    def _accepted(self) -> None:
        self.op, self.L = self._op_1, self._op_1.matrix


class _StationaryJump:
    """For long horizons with conserved mass: once ``½ sqrt(χ²(p ‖ p_ss)) e^{−gap Δt}`` is below
    ``1e-3 × tolerance`` with at least ``JUMP_FLOOR`` relaxation times left to an output, the
    density from there on is the stationary state ``p_ss`` (the discrete null vector of ``L``)."""

    def __init__(self, problem: FokkerPlanck, tolerance: float):
        self.gap = spectral_gap(problem, n_eigenvalues=2).gap
        self.bound = None
        if self.gap > 0:
            from .steady_state import stationary

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # wall-mass warnings belong to stationary()
                self.p_ss = stationary(problem, order=2).discrete_density.ravel()
            self.bound = _relaxation_bound(self.p_ss)
        self.target = 1e-3 * tolerance
        self.since: float | None = None
        self.note = ""

    def due(self, p: np.ndarray, t: float, t_out: float) -> bool:
        """Whether the densities from ``t_out`` on are ``p_ss`` (deciding it once, at ``t``)."""
        if self.since is not None:
            return True
        if self.bound is None or not _can_jump(self.bound, p, t_out - t, self.gap, self.target):
            return False
        self.since = t
        self.note = _jump_note(t, t_out, self.gap, self.target)
        return True


def _progress(total: float, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="t", desc="evolve", leave=False,
                bar_format="{l_bar}{bar}| {n:.3g}/{total:.3g} [{elapsed}<{remaining}]")


def evolve(problem: ProblemSpec, p0, times, *, method: str = "tr-bdf2", tolerance: float = 1e-6,
           dt0: float | None = None, progress: bool | None = None, order: int = 2) -> Evolution:
    """Evolve the density ``p0`` under ``problem`` and record it at ``times``.

    Parameters
    ----------
    problem : FokkerPlanck or callable
        The problem, or ``t -> FokkerPlanck`` for time-dependent fields (a learning-rate
        schedule, an annealed temperature); the grid must not change with ``t``.
    p0 : array (grid.shape) or callable
        Initial density at ``times[0]`` (a callable gets the mesh ``(ndim, *shape)``).
        Normalised, with a warning, if its mass is not 1; negative or non-finite values raise.
    times : sequence of float
        Strictly increasing output times (SDE time); the first is the start.
    method : {"tr-bdf2", "expm"}
        Adaptive TR-BDF2, or the exact matrix exponential (constant fields, small grids).
    tolerance : float
        Local error per step in L1 (probability) units.
    dt0 : float, optional
        First step (default: from the operator's time scale).
    progress : bool, optional
        Show a progress bar; default: when standard error is a terminal.
    order : {2, 4}
        Spatial order.  ``4`` also evolves the problem on the grid with half the cells per
        axis (every axis needs an even number of at least 16 cells) and Richardson-extrapolates
        each recorded density, as :func:`fpsolve.stationary` does; about 1.3 times the work.
        The time error is controlled by ``tolerance`` either way.

    Returns
    -------
    Evolution
        The densities at ``times`` with mass, absorption, step counters and timing.

    Raises
    ------
    InputError
        For an unknown ``method`` or ``order``, times that are not strictly increasing, a
        ``p0`` of the wrong shape or with negative or non-finite values, or a bad ``tolerance``
        or ``dt0``.
    SolverError
        If the tolerance cannot be met above the smallest step of the ladder, the run needs
        more than ``MAX_STEPS`` steps, or mass is not conserved without an absorbing wall.

    Warns
    -----
    UserWarning
        ``p0`` does not have mass 1 (it is normalised).

    See Also
    --------
    fpsolve.stationary : The state the evolution relaxes to.
    fpsolve.spectral_gap : The rate at which it relaxes.
    fpsolve.mean_first_passage_time : Mean exit times, without time stepping.

    Examples
    --------
    An Ornstein--Uhlenbeck process ``dx = −x dt + dW`` started near ``x = 2``: the mean
    decays as ``2 e^{−t}`` and the variance tends to ``D = 0.5``.

    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid(-6.0, 6.0, 200)
    >>> problem = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5)
    >>> p0 = lambda x: np.exp(-(x[0] - 2) ** 2 / 0.02) / np.sqrt(0.02 * np.pi)
    >>> run = fp.evolve(problem, p0, [0.0, 1.0, 5.0])
    >>> run.densities.shape
    (3, 200)
    >>> bool(abs(run.mean()[1, 0] - 2 * np.exp(-1.0)) < 2e-3)  # second-order grid error
    True
    >>> round(float(run.covariance()[-1, 0, 0]), 3)
    0.5
    """
    if method not in ("tr-bdf2", "expm"):
        raise InputError(f"method must be 'tr-bdf2' or 'expm'; got {method!r}")
    if order not in (2, 4):
        raise InputError(f"order must be 2 or 4; got {order!r}")
    if order == 4:
        return _evolve_extrapolated(problem, p0, times, method=method, tolerance=tolerance,
                                    dt0=dt0, progress=progress)
    if not _positive_number(tolerance):
        raise InputError(f"tolerance must be a positive number (finite); got {tolerance!r}")
    if dt0 is not None and not _positive_number(dt0):
        raise InputError(f"dt0 must be a positive finite number of SDE time (or None for the default); got {dt0!r}")
    times = _check_times(times)
    dynamic = not isinstance(problem, FokkerPlanck)
    if dynamic and not callable(problem):
        raise InputTypeError(f"problem must be a FokkerPlanck or a callable t -> FokkerPlanck; got {type(problem).__name__}")
    at = (lambda t: problem(t)) if dynamic else (lambda t: problem)
    first = at(float(times[0]))
    if not isinstance(first, FokkerPlanck):
        raise InputTypeError(f"problem(t) must return a FokkerPlanck; got {type(first).__name__}")
    grid = first.grid
    from .._memory import FLOAT, check_memory, operator_bytes

    check_memory(operator_bytes(grid.size, grid.ndim) + FLOAT * grid.size * len(times),
                 f"evolve on {grid.size:.4g} cells with {len(times)} output times (times)",
                 "use a coarser grid or fewer output times")
    p = _initial_density(p0, grid).ravel()
    start = _time.perf_counter()
    stepper = _new_stepper(method, at, dynamic, assemble(first), p, float(times[0]), grid, tolerance, dt0)
    jump = None
    if (isinstance(stepper, _TRBDF2Stepper) and not dynamic and not stepper.walls
            and (times[-1] - times[0]) * stepper.fastest > LONG_HORIZON):
        jump = _StationaryJump(first, tolerance)
    densities, absorbed = _drive(stepper, times, jump, progress)
    notes = [jump.note] if jump is not None and jump.since is not None else []
    if stepper.mass_correction > MASS_CORRECTION_WARN:
        notes.append(f"mass projected after every step: total relative correction {stepper.mass_correction:.3g}")
    dens = np.stack(densities)
    mass = dens.reshape(len(times), -1).sum(axis=1) * grid.cell_volume
    if not stepper.walls:
        drift_mass = float(np.abs(mass - 1.0).max())
        if drift_mass > 1e-10:
            raise SolverError(f"mass is not conserved: deviation {drift_mass:.3g} with no absorbing wall")
    return Evolution(grid=grid, problem=problem, times=times, densities=dens, mass=mass,
                     absorbed={w: np.asarray(v) for w, v in absorbed.items()}, n_steps=stepper.n_steps,
                     n_rejected=stepper.n_rejected, n_factorizations=stepper.n_factorizations, method=method,
                     tolerance=tolerance, seconds=_time.perf_counter() - start,
                     mass_correction=stepper.mass_correction,
                     stationary_from=None if jump is None else jump.since,
                     spectral_gap=None if jump is None else jump.gap, notes=tuple(notes))


def _new_stepper(method: str, at, dynamic: bool, op, p: np.ndarray, t0: float, grid: Grid,
                 tolerance: float, dt0: float | None) -> _Stepper:
    """The stepper for ``method`` and the kind of problem (constant or time-dependent fields)."""
    if method == "expm":
        if dynamic:
            raise InputError("method='expm' needs constant fields; got a time-dependent problem")
        if grid.size > EXPM_MAX_CELLS:
            raise InputError(f"method='expm' is for small grids (at most {EXPM_MAX_CELLS} cells); got {grid.size}")
        return _ExpmStepper(op, p, t0, grid)
    if dynamic:
        return _TimeDependentStepper(at, op, p, t0, grid, tolerance=tolerance, dt0=dt0)
    return _TRBDF2Stepper(op, p, t0, grid, tolerance=tolerance, dt0=dt0)


def _drive(stepper: _Stepper, times: np.ndarray, jump: _StationaryJump | None,
           progress: bool | None) -> tuple[list, dict]:
    """Step to each output time and record the density and the absorbed probability there."""
    shape = stepper.grid.shape
    densities = [stepper.p.reshape(shape).copy()]
    absorbed = {w: [0.0] for w in stepper.walls}
    bar = _progress(float(times[-1] - times[0]), progress) if isinstance(stepper, _TRBDF2Stepper) else None
    try:
        for t_out in times[1:]:
            settled = jump is not None and jump.due(stepper.p, stepper.t, t_out)
            while not settled and not stepper.reached(t_out):
                taken = stepper.step(t_out)
                if bar is not None:
                    bar.update(taken)
                settled = jump is not None and jump.due(stepper.p, stepper.t, t_out)
            p = jump.p_ss if settled else stepper.p
            densities.append(p.reshape(shape).copy())
            for w in stepper.walls:
                absorbed[w].append(stepper.absorbed[w])
    finally:
        if bar is not None:
            bar.close()
    return densities, absorbed


def resolution_defect(p: np.ndarray, grid: Grid, coarse_grid: Grid) -> float:
    """``TV(p, I R p)``: how much of ``p`` a round trip through the half-resolution grid loses
    (fourth-order interpolation both ways; ``O(h⁴)`` for a smooth density, O(1) for a spike)."""
    back = resample(np.maximum(resample(p, grid, coarse_grid), 0.0), coarse_grid, grid)
    mass = p.sum()
    return 0.5 * float(np.abs(back - p).sum() / mass) if mass > 0 else 0.0


def _evolve_extrapolated(problem: ProblemSpec, p0, times, **options) -> Evolution:
    """Fourth order in space: the fine and the half-resolution evolutions, extrapolated.

    Richardson extrapolation assumes a density the coarse grid resolves.  While the fine
    density is not resolved (``resolution_defect`` above ``RESOLVED_DEFECT``, e.g. a one-cell
    delta), the order-2 densities are returned; the half-resolution run starts from the fine
    density at the first output time where it is resolved, and the extrapolation applies from
    there on (``notes`` says from when).
    """
    dynamic = not isinstance(problem, FokkerPlanck)
    first = problem(float(np.asarray(times, dtype=float).ravel()[0])) if dynamic else problem
    grid = first.grid
    if not all(n % 2 == 0 and n >= 16 for n in grid.shape):
        raise InputError(f"order=4 needs an even number of at least 16 cells on every axis; got shape {grid.shape}")
    coarse_grid = grid.coarsened()
    fine_run = evolve(problem, p0, times, order=2, **options)
    n_times = len(fine_run.times)
    start = next((k for k in range(n_times)
                  if resolution_defect(fine_run.densities[k], grid, coarse_grid) <= RESOLVED_DEFECT), None)
    notes = list(fine_run.notes)
    if start != 0:
        told = "at every output time" if start is None else f"before t={fine_run.times[start]:.6g}"
        notes.append(f"order 2 {told}: the density is not resolved by the half-resolution grid "
                     f"(round-trip defect above {RESOLVED_DEFECT:g}), so it is not extrapolated there")
        warnings.warn(f"evolve(order=4): {notes[-1]}", UserWarning, stacklevel=3)
    if start is None:
        return replace(fine_run, notes=tuple(notes))
    coarse_problem = (lambda t: problem(t).on(coarse_grid)) if dynamic else problem.on(coarse_grid)
    if callable(p0) and start == 0:
        p0_coarse = p0
    else:  # point values at the coarse centres, to fourth order, from the fine density
        p0_coarse = np.maximum(resample(fine_run.densities[start], grid, coarse_grid), 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the normalisation was reported for the fine run
        coarse_run = evolve(coarse_problem, p0_coarse, fine_run.times[start:], order=2, **options)
    m_start = fine_run.mass[start]
    densities = fine_run.densities.copy()
    mass = fine_run.mass.copy()
    rel = fine_run.mass[start:]
    mass[start:] = rel + (rel - m_start * coarse_run.mass) / 3.0
    for j, k in enumerate(range(start, n_times)):
        if k == start and start > 0:
            continue  # the common starting density: order 2 (no error of the interval to remove)
        p, _ = extrapolate_density(fine_run.densities[k],
                                   interpolate_density(coarse_run.densities[j], coarse_grid, grid))
        total = p.sum() * grid.cell_volume
        densities[k] = p * (mass[k] / total) if total > 0 else p
    absorbed = {}
    for w, v in fine_run.absorbed.items():
        v = np.array(v, dtype=float)
        gained = v[start:] - v[start]
        v[start:] = v[start:] + (gained - m_start * coarse_run.absorbed[w]) / 3.0
        absorbed[w] = v
    return Evolution(grid=grid, problem=problem, times=fine_run.times, densities=densities, mass=mass,
                     absorbed=absorbed, n_steps=fine_run.n_steps + coarse_run.n_steps,
                     n_rejected=fine_run.n_rejected + coarse_run.n_rejected,
                     n_factorizations=fine_run.n_factorizations + coarse_run.n_factorizations,
                     method=f"{fine_run.method}, Richardson-extrapolated in space (order 4)",
                     tolerance=fine_run.tolerance, seconds=fine_run.seconds + coarse_run.seconds,
                     mass_correction=fine_run.mass_correction + coarse_run.mass_correction,
                     stationary_from=fine_run.stationary_from, spectral_gap=fine_run.spectral_gap,
                     notes=tuple(notes))


def mean_first_passage_time(problem: FokkerPlanck, start=None, *, target=None) -> np.ndarray | float:
    """Mean time to reach an absorbing wall or a set of target cells, from the backward
    equation ``Lᵀ τ = −1`` (``τ = 0`` on the target).

    The system is solved by GTH elimination with the exits as one extra sink state, so every
    operation adds non-negative numbers and ``τ`` keeps its relative accuracy at any barrier
    height (times of order ``exp(ΔU / D)``, up to ``exp(709)`` before they overflow to ``inf``).

    Parameters
    ----------
    problem : FokkerPlanck
        Needs at least one absorbing axis, or a ``target``.
    start : None, point or density
        ``None``: return ``τ`` for every cell (array of ``grid.shape``).  A point
        (sequence of ndim coordinates): ``τ`` at the cell containing it.  An array of
        ``grid.shape``: the mean over that initial density.
    target : None or bool array of ``grid.shape``
        Cells where the process stops (for example a basin from ``state.basins().labels == k``,
        or the cells beyond a dividing surface); absorbing walls act as well.

    Returns
    -------
    ndarray of ``grid.shape`` or float
        ``τ`` in SDE time: for every cell (``start=None``), at the cell containing the point,
        or averaged over the initial density; 0 on the target cells.

    Raises
    ------
    InputError
        Without an absorbing wall or target cells, for a ``target`` that is not a boolean array
        of the grid's shape or covers every cell, or a ``start`` outside the grid or of the
        wrong shape.

    See Also
    --------
    fpsolve.spectral_gap : The slowest relaxation rate (about ``1 / τ`` across a high barrier).
    fpsolve.StationaryState.basins : Basins to use as targets.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid(-2.0, 2.0, 400)
    >>> well = fp.FokkerPlanck(grid, drift=lambda x: -4 * x * (x**2 - 1), diffusion=0.1)
    >>> tau = fp.mean_first_passage_time(well, start=[-1.0], target=grid.axes[0] >= 1.0)
    >>> bool(1e4 < tau < 1e5)  # Kramers: 2π / (4√2) · e^{10} ≈ 2.4e4
    True
    """
    from .robust import first_passage_times

    grid = problem.grid
    mask = np.zeros(grid.shape, dtype=bool)
    if target is not None:
        mask = np.asarray(target)
        if mask.shape != grid.shape or mask.dtype != bool:
            raise InputError(f"target must be a boolean array of the grid's shape {grid.shape}; got "
                             f"{'dtype ' + str(mask.dtype) if mask.shape == grid.shape else 'shape ' + str(mask.shape)}")
        if mask.all():
            raise InputError("target covers every cell: there is nothing to pass from")
    if "absorbing" not in grid.boundary and not mask.any():
        raise InputError(f"mean_first_passage_time needs an absorbing wall or a non-empty target; got "
                         f"boundary {grid.boundary!r} and no target cells")
    op = assemble(problem)
    flat = mask.ravel()
    exits = op.dst < 0
    exit_rate = np.bincount(op.src[exits], weights=op.rate[exits], minlength=grid.size).astype(float)
    inside = ~exits
    into = inside & flat[np.where(inside, op.dst, 0)] & (op.src != op.dst)
    exit_rate += np.bincount(op.src[into], weights=op.rate[into], minlength=grid.size)
    tau = np.zeros(grid.size)
    tau[~flat] = first_passage_times(op.matrix, exit_rate, ~flat, grid.shape)
    tau = tau.reshape(grid.shape)
    if start is None:
        return tau
    arr = np.asarray(start, dtype=float)
    if arr.shape == grid.shape:
        p = _initial_density(arr, grid)
        return float(np.sum(tau * p) * grid.cell_volume)
    if arr.shape != (grid.ndim,):
        raise InputError(f"start must be None, a point of {grid.ndim} coordinates or a density of shape "
                         f"{grid.shape}; got shape {arr.shape}")
    idx = []
    for d in range(grid.ndim):
        if not grid.lower[d] <= arr[d] <= grid.upper[d]:
            raise InputError(f"start point {tuple(arr)} is outside the grid on axis {d}")
        idx.append(min(grid.shape[d] - 1, int((arr[d] - grid.lower[d]) / grid.spacing[d])))
    return float(tau[tuple(idx)])


@dataclass(frozen=True)
class SpectralGap:
    """The slowest relaxation rate of a problem and the leading eigenvalues of its operator.

    Attributes
    ----------
    gap : float
        ``−max Re λ`` over the eigenvalues other than the stationary 0 (with reflecting or
        periodic walls; with absorbing walls over all of them).
    eigenvalues : ndarray (n_eigenvalues,) of complex
        The eigenvalues nearest 0, by decreasing real part.
    status : str
        ``"converged"``: ARPACK met its tolerance (it raises otherwise).
    message : str
        How the eigenvalues were computed.
    seconds : float
        Time spent (assembly and the eigensolve).

    For one release the result still unpacks as the old tuple ``gap, eigenvalues = ...``, with
    a DeprecationWarning.

    See Also
    --------
    fpsolve.spectral_gap : Computes it.
    """

    gap: float
    eigenvalues: np.ndarray
    status: str = "converged"
    message: str = ""
    seconds: float = 0.0

    def __iter__(self):
        warnings.warn("unpacking fp.spectral_gap(...) as (gap, eigenvalues) is deprecated: use its "
                      ".gap and .eigenvalues", DeprecationWarning, stacklevel=2)
        return iter((self.gap, self.eigenvalues))


def spectral_gap(problem: FokkerPlanck, n_eigenvalues: int = 6) -> SpectralGap:
    """The slowest relaxation rate and the leading eigenvalues of the operator.

    Eigenvalues near zero are found by shift-invert Arnoldi; the stationary eigenvalue 0 is
    dropped (for reflecting/periodic walls), and the gap is ``−max Re λ`` of the rest.

    Parameters
    ----------
    problem : FokkerPlanck
        The problem; any boundaries (with absorbing walls no eigenvalue is dropped).
    n_eigenvalues : int
        Number of eigenvalues nearest 0 to compute (at least 2 with reflecting or periodic
        walls: the stationary 0 and one relaxation rate; at least 1 with absorbing walls).

    Returns
    -------
    SpectralGap
        ``.gap`` (per unit SDE time) and ``.eigenvalues`` (it still unpacks as
        ``gap, eigenvalues``, deprecated).

    Raises
    ------
    InputTypeError
        If ``problem`` is not a :class:`~fpsolve.FokkerPlanck`.
    InputError
        For a bad ``n_eigenvalues`` (too small, not an integer, or too many for the grid).
    SolverError
        If the leading eigenvalue is not 0 with reflecting or periodic walls.

    See Also
    --------
    fpsolve.evolve : The relaxation in time.

    Examples
    --------
    For ``dx = −x dt + dW`` the eigenvalues are ``0, −1, −2, …``; the grid gives them to
    second order in the spacing.

    >>> import fpsolve as fp
    >>> grid = fp.Grid(-6.0, 6.0, 64)
    >>> result = fp.spectral_gap(fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=1.0))
    >>> round(result.gap, 2), result.status
    (0.99, 'converged')
    """
    if not isinstance(problem, FokkerPlanck):
        raise InputTypeError(f"problem must be an fpsolve.FokkerPlanck; got {type(problem).__name__}")
    grid = problem.grid
    conserving = "absorbing" not in grid.boundary
    least = 2 if conserving else 1  # with reflecting/periodic walls the first eigenvalue is the stationary 0
    if isinstance(n_eigenvalues, (bool, np.bool_)) or not isinstance(n_eigenvalues, (int, np.integer)) \
            or n_eigenvalues < least:
        why = " (the stationary eigenvalue 0 and at least one relaxation rate)" if conserving else ""
        raise InputError(f"n_eigenvalues must be an integer >= {least}{why}; got {n_eigenvalues!r}")
    if grid.size <= n_eigenvalues + 2:
        raise InputError(f"n_eigenvalues={n_eigenvalues} is too many for a grid of {grid.size} cells; "
                         f"at most {grid.size - 3}")
    t0 = _time.perf_counter()
    op = assemble(problem)
    L = op.matrix.tocsc()
    scale = float(np.abs(L.diagonal()).max())
    sigma = 1e-3 * scale / grid.size  # a small positive shift keeps the shifted matrix regular
    vals = spla.eigs(L, k=n_eigenvalues, sigma=sigma, which="LM", return_eigenvectors=False, tol=1e-12)
    vals = vals[np.argsort(-vals.real)]
    rest = vals[1:] if conserving else vals
    if conserving and abs(vals[0]) > 1e-8 * scale:
        raise SolverError(f"the operator's leading eigenvalue {vals[0]:.3g} is not 0; mass is not conserved")
    return SpectralGap(float(-rest.real.max()), vals,
                       message=f"{n_eigenvalues} eigenvalues by shift-invert Arnoldi (tol 1e-12)",
                       seconds=_time.perf_counter() - t0)
