"""Training schemes: minibatch SGD (and SGLD / SGWORLD) as drift and diffusion (docs/theory.md §2).

Fields are in SDE time (``t = n η``).  With ``N`` samples, batch size ``b`` and
``k = (N − b) / (b (N − 1))``:

``with_replacement``  ``A = −∇L``, ``D = (η/2) k Σ₁``            (+ ``T I`` for SGLD)
``iid``               ``A = −∇L``, ``D = (η/2) Σ₁ / b``
``without_replacement``
    ``A = −∇L_WOR``, ``L_WOR = L + (η/4) |∇L|² + (η/4) k tr Σ₁``, and
    ``D_WOR = D_epoch / (M η)`` with ``M = N / b`` steps per epoch and ``2 D_epoch`` the
    covariance of the displacement over one epoch from a fixed point (+ ``T I`` for SGWORLD).
    ``2 D_epoch`` is estimated by Monte Carlo over random permutations of the data, running
    one epoch of minibatch steps with the gradients linearised at the start point
    (``epoch_noise="monte_carlo"``), or by the leading-order formula
    ``2 D_epoch ≈ η⁴ [M² (M + 1) / 12] k H Σ₁ H`` (``epoch_noise="leading_order"``).

The optional second-order drift correction of the stochastic modified equation,
``−(η/4) ∇|∇L|² = −(η/2) ∇²L ∇L``, applies to ``with_replacement`` and ``iid`` (it is part of
``L_WOR`` already).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike

from .._kernels import models as _k
from ..errors import GridError, InputError
from ..solve.grid import Grid
from ..solve.gaussian import GaussianState, linearized, stability_check
from .linearized import linearized_epoch
from ..solve.problem import FokkerPlanck
from .landscape import MINIMIZE_GTOL, Landscape, LandscapeFields, newton_minimize
from .models import check_points

EPOCH_NOISE = ("monte_carlo", "leading_order")
WOR_FD_STEP = 1e-5  # central differences of ∇L_WOR: truncation h² ~ 1e-10 against round-off eps/h ~ 1e-11
PERMUTATION_BLOCK = 10_000  # permutations drawn per block (bounds the (block, N) index array)
# Monte Carlo epoch noise on a grid: n_permutations epochs of N sample gradients at every field
# point; above this many sample-gradient steps fokker_planck refuses (about 5 minutes at the
# ~6e6 steps/s measured on the paper's data on 2 cores) and names the cheaper settings
MC_GRID_WORK_MAX = 2e9
MC_STEPS_PER_SECOND = 6e6  # the rate above, only for the estimate in the message


def _batch_factor(n: int, b: int) -> float:
    """``k = (N − b) / (b (N − 1))``: minibatch gradient covariance per Σ₁, without repeats."""
    return (n - b) / (b * (n - 1)) if n > 1 else 0.0


# (same shape as LandscapeFields and Basins: other result classes, each with its own fields)
@dataclass(frozen=True)
class SchemeFields:
    """Drift and diffusion of a scheme at ``P`` parameter points (SDE time).

    Attributes
    ----------
    w : ndarray, shape (P, d)
        The parameter points.
    drift : ndarray, shape (P, d)
        ``A`` at each point (SDE time).
    diffusion : ndarray, shape (P, d, d)
        ``D`` at each point (SDE time).
    scheme : str
        The minibatch scheme (see :class:`~fpsolve.SGD`).
    epoch_noise : str or None
        How ``D`` was computed for ``without_replacement``.

    See Also
    --------
    fpsolve.SGD.fields : Computes them.
    """

    w: np.ndarray
    drift: np.ndarray
    diffusion: np.ndarray
    scheme: str
    epoch_noise: str | None = None


# -- strategies ---------------------------------------------------------------------------


class _Replacement:
    """Batches drawn afresh every step (``with_replacement``, ``iid``)."""

    name = "with_replacement"

    def factor(self, n: int, b: int) -> float:
        return _batch_factor(n, b)

    def check(self, sgd: SGD, land: Landscape) -> None:
        _check_batch(sgd, land)

    def diffusion(self, sgd, land, sigma: np.ndarray) -> np.ndarray:
        """``D = (η/2) factor Σ₁ + T I`` for Σ₁ of shape (..., d, d)."""
        factor = self.factor(land.n_samples, sgd.batch_size)
        return 0.5 * sgd.learning_rate * factor * sigma + sgd.temperature * np.eye(land.n_params)

    def fields(self, sgd, land, W, rng, epoch_noise) -> SchemeFields:
        f = land.fields(W, hessian=sgd.drift_correction)
        drift = -f.gradient
        if sgd.drift_correction:
            drift = drift - 0.5 * sgd.learning_rate * np.einsum("pij,pj->pi", f.hessian, f.gradient)
        return SchemeFields(W, drift, self.diffusion(sgd, land, f.gradient_covariance), self.name)

    def linearized(self, sgd, land, w, rng, epoch_noise, max_iter) -> GaussianState:
        f = land.fields(w, hessian=True)
        stability_check(f.hessian[0], sgd.learning_rate, strict=True, what="of L at w")
        D = self.diffusion(sgd, land, f.gradient_covariance[0])
        return linearized(f.hessian[0], D, mean=f.w[0], learning_rate=sgd.learning_rate)


class _IID(_Replacement):
    """b indices drawn independently every step (repeats possible)."""

    name = "iid"

    def factor(self, n: int, b: int) -> float:
        return 1.0 / b


class _WithoutReplacement:
    """Random reshuffling: each epoch a permutation split into ``M = N / b`` batches."""

    name = "without_replacement"

    def check(self, sgd: SGD, land: Landscape) -> None:
        _check_batch(sgd, land)
        if land.n_samples % sgd.batch_size:
            raise InputError(
                f"batch_size={sgd.batch_size} must divide the number of samples N={land.n_samples} for "
                f"without_replacement (every epoch is N / batch_size full batches); choose a divisor of "
                f"{land.n_samples}"
            )

    @staticmethod
    def effective_gradient(sgd, land, f):
        """``∇L_WOR = ∇L + (η/2) H ∇L + (η/2) k (mean_i H_i ∇ℓ_i − H ∇L)`` at every point."""
        eta = sgd.learning_rate
        k = _batch_factor(land.n_samples, sgd.batch_size)
        hg = np.einsum("pij,pj->pi", f.hessian, f.gradient)
        return f.gradient + 0.5 * eta * hg + 0.5 * eta * k * (f.hessian_gradient - hg)

    @staticmethod
    def effective_loss(sgd, land, f):
        eta = sgd.learning_rate
        k = _batch_factor(land.n_samples, sgd.batch_size)
        return (f.loss + 0.25 * eta * np.sum(f.gradient**2, axis=1)
                + 0.25 * eta * k * np.trace(f.gradient_covariance, axis1=1, axis2=2))

    @staticmethod
    def leading_order_covariance(sgd, n: int, hessian: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """``η⁴ [M² (M + 1) / 12] k H Σ₁ H`` (symmetrised) for stacks ``(..., d, d)`` of H and Σ₁."""
        eta, b = sgd.learning_rate, sgd.batch_size
        M = n // b
        c = eta**4 * M**2 * (M + 1) / 12.0 * _batch_factor(n, b)
        H = np.ascontiguousarray(hessian, dtype=float)
        shape = H.shape
        H = H.reshape(-1, shape[-2], shape[-1])
        out = np.empty_like(H)
        _k.symmetric_sandwich(H, np.ascontiguousarray(np.broadcast_to(sigma, shape), dtype=float).reshape(H.shape),
                              c, out)
        return out.reshape(shape)

    def monte_carlo_covariance(self, sgd, land, w, rng) -> np.ndarray:
        """Covariance over ``sgd.n_permutations`` random epochs of the linearised displacement from ``w``."""
        n = land.n_samples
        _, G, Hs = land.per_sample(w)
        G, Hs = np.ascontiguousarray(G), np.ascontiguousarray(Hs)
        total = sgd.n_permutations
        disp = np.empty((total, land.n_params))
        base = np.arange(n, dtype=np.int64)
        for s in range(0, total, PERMUTATION_BLOCK):
            e = min(total, s + PERMUTATION_BLOCK)
            perms = rng.permuted(np.broadcast_to(base, (e - s, n)), axis=1)
            _k.epoch_displacements(G, Hs, np.ascontiguousarray(perms), sgd.batch_size, sgd.learning_rate,
                                   disp[s:e])
        return np.atleast_2d(np.cov(disp, rowvar=False))

    def langevin_epoch_covariance(self, sgd, H: np.ndarray, M: int) -> np.ndarray:
        """Epoch covariance of the Langevin noise ``sqrt(2 η T) ξ`` propagated by ``I − η H``."""
        if sgd.temperature == 0:
            return np.zeros_like(H)
        lam, V = np.linalg.eigh(0.5 * (H + H.T))
        a2 = (1.0 - sgd.learning_rate * lam) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            geo = np.where(np.abs(1 - a2) > 1e-300, (1 - a2**M) / (1 - a2), M)
        return 2 * sgd.learning_rate * sgd.temperature * (V * geo) @ V.T

    def fields(self, sgd, land, W, rng, epoch_noise) -> SchemeFields:
        eta = sgd.learning_rate
        M = land.n_samples // sgd.batch_size
        f = land.fields(W, hessian=True)
        drift = -self.effective_gradient(sgd, land, f)
        if epoch_noise == "leading_order":
            cov = self.leading_order_covariance(sgd, land.n_samples, f.hessian, f.gradient_covariance)
        else:
            cov = np.stack([self.monte_carlo_covariance(sgd, land, w, rng) for w in W])
        D = cov / (2.0 * M * eta)
        D += sgd.temperature * np.eye(land.n_params)
        return SchemeFields(W, drift, D, self.name, epoch_noise)

    def effective_hessian(self, sgd, land, v: np.ndarray) -> np.ndarray:
        """``∇²L_WOR`` at ``v`` (d,): central differences of :meth:`effective_gradient`, symmetrised.

        (``∇²L`` differs from it at O(η): enough to slow Newton to a crawl at η ~ 1e-4 and to
        misjudge stability where ``L`` has a saddle that ``L_WOR`` turns into a minimum.)
        """
        d = v.size
        h = WOR_FD_STEP * np.maximum(1.0, np.abs(v))
        W = np.concatenate([v + np.diag(h), v - np.diag(h)])
        g = self.effective_gradient(sgd, land, land.fields(W, hessian=True))
        J = (g[:d] - g[d:]).T / (2.0 * h)  # J[i, j] = ∂_j g_i
        return 0.5 * (J + J.T)

    def linearized(self, sgd, land, w, rng, epoch_noise, max_iter) -> GaussianState:
        eta, b = sgd.learning_rate, sgd.batch_size
        M = land.n_samples // b
        stability_check(self.effective_hessian(sgd, land, np.asarray(w, dtype=float).ravel()), eta,
                        strict=True, what="of L_WOR at the start w")

        def evaluate(v):
            f = land.fields(v, hessian=True)
            return _WORFields(f, self.effective_loss(sgd, land, f), self.effective_gradient(sgd, land, f),
                              self.effective_hessian(sgd, land, np.asarray(v, dtype=float).ravel()))

        mean = newton_minimize(evaluate, w, land.model, MINIMIZE_GTOL, max_iter,
                               "L_WOR (without-replacement effective loss)")
        f = land.fields(mean, hessian=True)
        H_wor = self.effective_hessian(sgd, land, mean)
        stability_check(H_wor, eta, strict=True, what="of L_WOR at its minimum")
        H, method = f.hessian[0], "epoch_lyapunov"
        if np.linalg.eigvalsh(0.5 * (H + H.T))[0] <= 0:
            # a saddle of L that the O(η) terms of L_WOR stabilise: the O(η)-consistent epoch map
            H, method = H_wor, "epoch_lyapunov (L_WOR Hessian: the Hessian of L is not positive here)"
        if epoch_noise == "leading_order":
            cov = self.leading_order_covariance(sgd, land.n_samples, H, f.gradient_covariance[0])
        else:
            cov = self.monte_carlo_covariance(sgd, land, mean, rng)
        cov = cov + self.langevin_epoch_covariance(sgd, H, M)
        state = linearized_epoch(H, cov, eta, M, mean=mean)
        return state if method == "epoch_lyapunov" else replace(state, method=method)


@dataclass(frozen=True)
class _WORFields:
    """``L_WOR`` with its gradient and its Hessian (finite differences), for Newton steps."""

    fields: object
    loss: np.ndarray
    gradient: np.ndarray
    hessian_matrix: np.ndarray

    @property
    def hessian(self):
        return self.hessian_matrix[None]


SCHEMES = {s.name: s for s in (_Replacement(), _IID(), _WithoutReplacement())}


def _check_batch(sgd: SGD, land: Landscape) -> None:
    if sgd.batch_size > land.n_samples:
        raise InputError(
            f"batch_size must be at most the number of samples N={land.n_samples}; got {sgd.batch_size}"
        )


# -- the public scheme --------------------------------------------------------------------


@dataclass(frozen=True)
class SGD:
    """Minibatch stochastic gradient descent, optionally with Langevin noise (docs/theory.md §2).

    Parameters
    ----------
    learning_rate : float
        η > 0.
    batch_size : int
        b, with ``1 <= b <= N`` (checked against the landscape); ``without_replacement`` needs
        ``N`` divisible by ``b``.
    scheme : {"with_replacement", "iid", "without_replacement"}
        How minibatches are drawn (docs/theory.md §2): fresh distinct indices every step,
        independent indices with repeats, or one permutation per epoch.
    temperature : float
        T >= 0.  ``T > 0`` adds ``sqrt(2 η T) ξ`` per step: SGLD (``with_replacement``/``iid``)
        or SGWORLD (``without_replacement``); the diffusion gains ``T I``.
    drift_correction : bool
        Add ``−(η/4) ∇|∇L|²`` to the drift (``with_replacement``, ``iid``).
    epoch_noise : {"monte_carlo", "leading_order"}
        How ``without_replacement`` estimates the epoch noise (module docstring), in
        :meth:`fields`, :meth:`linearized` and :meth:`fokker_planck` alike (on grids Monte Carlo
        costs seconds per evaluated point: see :meth:`fokker_planck`).
    n_permutations : int
        Epochs sampled by the Monte Carlo estimate.

    Attributes
    ----------
    name : str
        ``"SGD"``, ``"SGLD"`` or ``"SGWORLD"``.

    Raises
    ------
    InputError
        For a learning rate or temperature that is not a positive (non-negative) finite
        number, a batch size that is not a positive integer, or an unknown ``scheme`` or
        ``epoch_noise`` (the message lists the valid names), or ``n_permutations`` below 2.

    See Also
    --------
    fpsolve.Landscape : The loss the scheme descends.
    fpsolve.simulate.sgd : Runs the scheme itself, step by step.

    Examples
    --------
    >>> import fpsolve as fp
    >>> x, y, w_min = fp.datasets.load_adhikari2023()
    >>> land = fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1, weight_decay=1e-3)
    >>> sgd = fp.SGD(learning_rate=1e-7, batch_size=10)
    >>> gauss = sgd.linearized(land, w_min)
    >>> sgd.name, gauss.is_equilibrium  # the minibatch noise does not commute with the Hessian
    ('SGD', False)
    >>> f = sgd.fields(land, w_min)
    >>> f.drift.shape, f.diffusion.shape  # one point, d = 7 parameters
    ((1, 7), (1, 7, 7))
    >>> fp.SGD(learning_rate=1e-7, batch_size=10, temperature=1.0).name
    'SGLD'
    """

    learning_rate: float
    batch_size: int
    scheme: str = "with_replacement"
    temperature: float = 0.0
    drift_correction: bool = False
    epoch_noise: str = "monte_carlo"
    n_permutations: int = 100_000
    strategy: object = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        eta = self.learning_rate
        if isinstance(eta, bool) or not isinstance(eta, (int, float, np.integer, np.floating)) or not (np.isfinite(eta) and eta > 0):
            raise InputError(f"learning_rate must be a positive finite number; got {eta!r}")
        b = self.batch_size
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
            raise InputError(f"batch_size must be an integer >= 1; got {b!r}")
        if self.scheme not in SCHEMES:
            raise InputError(f"unknown scheme {self.scheme!r}; expected one of {', '.join(SCHEMES)}")
        T = self.temperature
        if isinstance(T, bool) or not isinstance(T, (int, float, np.integer, np.floating)) or not (np.isfinite(T) and T >= 0):
            raise InputError(f"temperature must be a non-negative finite number; got {T!r}")
        if self.epoch_noise not in EPOCH_NOISE:
            raise InputError(f"unknown epoch_noise {self.epoch_noise!r}; expected one of {', '.join(EPOCH_NOISE)}")
        n = self.n_permutations
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise InputError(f"n_permutations must be an integer >= 2; got {n!r}")
        object.__setattr__(self, "learning_rate", float(eta))
        object.__setattr__(self, "batch_size", int(b))
        object.__setattr__(self, "temperature", float(T))
        object.__setattr__(self, "strategy", SCHEMES[self.scheme])

    @property
    def name(self) -> str:
        """``"SGD"``, ``"SGLD"`` or ``"SGWORLD"``."""
        if self.temperature == 0:
            return "SGD"
        return "SGWORLD" if self.scheme == "without_replacement" else "SGLD"

    def _epoch_noise(self, value: str | None) -> str:
        value = self.epoch_noise if value is None else value
        if value not in EPOCH_NOISE:
            raise InputError(f"unknown epoch_noise {value!r}; expected one of {', '.join(EPOCH_NOISE)}")
        return value

    def fields(self, landscape: Landscape, w: ArrayLike, rng=None,
               epoch_noise: str | None = None) -> SchemeFields:
        """Drift (P, d) and diffusion (P, d, d) in SDE time at points ``w`` (d,) or (P, d).

        Parameters
        ----------
        landscape : Landscape
            The loss and its data.
        w : array_like, shape (d,) or (P, d)
            Parameter points.
        rng : None, int or Generator
            For ``epoch_noise="monte_carlo"``.
        epoch_noise : {None, "monte_carlo", "leading_order"}
            Overrides the scheme's ``epoch_noise`` for ``without_replacement``.

        Returns
        -------
        SchemeFields
        """
        self.strategy.check(self, landscape)
        W = check_points(landscape.model, w)
        return self.strategy.fields(self, landscape, W, np.random.default_rng(rng),
                                    self._epoch_noise(epoch_noise))

    def linearized(self, landscape: Landscape, w: ArrayLike, rng=None, max_iter: int = 200) -> GaussianState:
        """Gaussian stationary state linearised at the minimum ``w`` (docs/theory.md §3), any d.

        ``with_replacement`` / ``iid``: ``H = ∇²L(w)``, ``D`` the scheme's diffusion at ``w``,
        continuous Lyapunov equation; ``w`` should be a minimum of ``L``.
        ``without_replacement``: the mean is the minimum of ``L_WOR`` found from ``w`` (Newton
        with the finite-difference Hessian of ``L_WOR``, at most ``max_iter`` trust-region
        iterations), and the covariance solves the epoch-level discrete Lyapunov equation
        (``fpsolve.landscape.linearized.linearized_epoch``) with ``J = (I − η ∇²L)^M`` (exact for
        linear gradients), epoch noise per ``epoch_noise``.  Where ``∇²L`` is not positive at
        that minimum (a saddle of ``L`` that the O(η) terms of ``L_WOR`` stabilise) the
        O(η)-consistent ``J = (I − η ∇²L_WOR)^M`` is used and ``method`` says so.

        Parameters
        ----------
        landscape : Landscape
            The loss and its data.
        w : array_like, shape (d,)
            A minimum of ``L`` (the starting point of the ``L_WOR`` search without replacement).
        rng : None, int or Generator
            For the Monte Carlo epoch noise.
        max_iter : int
            Trust-region iterations of the ``L_WOR`` minimisation.

        Returns
        -------
        GaussianState
            With the learning rate set, so ``entropy_production_per_step`` is filled.

        Raises
        ------
        StabilityError
            When ``η λmax >= 2`` for the Hessian (of ``L`` at ``w``; of ``L_WOR`` at ``w`` and at
            its minimum): SGD diverges there, so there is no stationary state.
        """
        t0 = time.perf_counter()
        self.strategy.check(self, landscape)
        check_points(landscape.model, w)
        if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise InputError(f"max_iter must be an integer >= 1; got {max_iter!r}")
        state = self.strategy.linearized(self, landscape, np.asarray(w, dtype=float),
                                         np.random.default_rng(rng), self.epoch_noise, int(max_iter))
        return replace(state, seconds=time.perf_counter() - t0)

    def fokker_planck(self, landscape: Landscape, grid: Grid, axes: tuple[int, ...] | None = None,
                      reference: ArrayLike | None = None, rng=None,
                      epoch_noise: str | None = None) -> FokkerPlanck:
        """The Fokker--Planck problem of this scheme over 1--3 parameters.

        Parameters
        ----------
        landscape : Landscape
            The loss and its data.
        grid : Grid
            Over the chosen parameters, one grid axis per entry of ``axes``.
        axes : tuple of int, optional
            Parameter indices (0-based) on the grid axes; default ``range(d)`` when
            ``d == grid.ndim``.
        reference : array_like, shape (d,), optional
            Where the other parameters are held (and a point that must lie inside the grid).
            Needed when ``axes`` does not cover every parameter.
        rng : None, int or Generator
            For ``epoch_noise="monte_carlo"``.
        epoch_noise : {"monte_carlo", "leading_order"}, optional
            Epoch-noise estimate for ``without_replacement``; default this object's
            ``epoch_noise`` (itself ``"monte_carlo"`` by default).  Monte Carlo runs
            ``n_permutations`` epochs at every point where the fields are evaluated (cell
            centres and faces on every level: 578 points for an 8 × 8 grid), so it is slow on
            grids: measured on the paper's data (TanhUnit, N = 200, b = 10) at the default
            ``n_permutations = 100_000``, 3.3 s per point on 2 cores under load 12 — about half
            an hour for 8 × 8, most of a day for 64² — against well under a second for the
            whole 64² problem with ``"leading_order"``.  Use
            ``SGD(..., epoch_noise="leading_order")`` (or pass it here) for the formula, or a
            smaller ``n_permutations``.

        Returns
        -------
        FokkerPlanck
            With callable fields: every evaluation runs the Numba field kernels over all the
            requested points at once.
        """
        self.strategy.check(self, landscape)
        if not isinstance(grid, Grid):
            raise GridError(f"grid must be an fpsolve.Grid; got {type(grid).__name__}")
        d = landscape.n_params
        axes = _check_axes(axes, grid, d)
        if reference is None:
            if len(axes) < d:
                raise InputError(
                    f"reference must be given: axes={axes} leave {d - len(axes)} of {d} parameters to hold "
                    f"fixed (for example at landscape.minimize(w0))"
                )
            ref = np.array([0.5 * (lo + hi) for lo, hi in zip(grid.lower, grid.upper)])[np.argsort(axes)]
        else:
            ref = check_points(landscape.model, reference, "reference")[0]
            for g, a in enumerate(axes):
                if not grid.lower[g] <= ref[a] <= grid.upper[g]:
                    raise GridError(
                        f"grid must contain the reference point: reference[{a}] = {ref[a]:.6g} lies outside "
                        f"grid axis {g} [{grid.lower[g]:.6g}, {grid.upper[g]:.6g}]"
                    )
        noise = self._epoch_noise(epoch_noise)
        if self.scheme == "without_replacement" and noise == "monte_carlo":
            _check_monte_carlo_cost(self, landscape, grid)
        evaluator = _GridFields(self, landscape, axes, ref, np.random.default_rng(rng), noise)
        return FokkerPlanck(grid, drift=evaluator.drift, diffusion=evaluator.diffusion)

    def grid_around(self, landscape: Landscape, w: ArrayLike, axes: tuple[int, ...] | None = None,
                    n_std: float = 6.0, shape: int | tuple[int, ...] = 64,
                    boundary: str | tuple[str, ...] = "reflecting", rng=None) -> Grid:
        """A grid over ``axes`` covering ``± n_std`` standard deviations of the linearised state.

        The state is that of the slice: the problem on the chosen axes alone with the other
        parameters held at ``w`` (the fields :meth:`fokker_planck` solves with
        ``reference=w``), linearised on the slice itself — so only the slice has to be stable,
        and for ``without_replacement`` the grid is centred at the slice's own minimum of
        ``L_WOR`` with the slice's epoch noise.

        Parameters
        ----------
        landscape : Landscape
            The loss and its data.
        w : array_like, shape (d,)
            A minimum of ``L``, where the other parameters are held.
        axes : tuple of int, optional
            1 to 3 parameter indices; default every parameter.
        n_std, shape, boundary
            As for :meth:`fpsolve.GaussianState.grid`.
        rng : None, int or Generator
            For the Monte Carlo epoch noise.

        Returns
        -------
        Grid
        """
        d = landscape.n_params
        axes = tuple(range(d)) if axes is None else tuple(axes)
        if not 1 <= len(axes) <= 3:
            raise InputError(f"axes must name 1 to 3 parameters; got {axes}")
        _check_axes(axes, None, d)
        self.strategy.check(self, landscape)
        ref = check_points(landscape.model, w)[0]
        piece = landscape if axes == tuple(range(d)) else _Slice(landscape, axes, ref)
        sub = self.strategy.linearized(self, piece, ref[list(axes)], np.random.default_rng(rng),
                                       self.epoch_noise, 200)
        return sub.grid(n_std=n_std, shape=shape, boundary=boundary)


def _check_axes(axes, grid: Grid | None, d: int) -> tuple[int, ...]:
    if axes is None:
        if grid is not None and grid.ndim != d:
            raise InputError(
                f"axes must be given: the grid has {grid.ndim} axes and the model {d} parameters"
            )
        return tuple(range(d))
    axes = tuple(int(a) for a in np.atleast_1d(axes))
    for a in axes:
        if not 0 <= a < d:
            raise InputError(f"axes must hold parameter indices 0..{d - 1}; got {a} in axes={axes}")
    if len(set(axes)) != len(axes):
        raise InputError(f"axes must not repeat a parameter; got axes={axes}")
    if grid is not None and len(axes) != grid.ndim:
        raise InputError(f"axes must have one entry per grid axis ({grid.ndim}); got axes={axes}")
    return axes


def _check_monte_carlo_cost(sgd: SGD, landscape: Landscape, grid: Grid) -> None:
    """Refuse Monte Carlo epoch noise on a grid whose field points would take hours."""
    points = int(np.prod([2 * n + 1 for n in grid.shape]))  # the fine level's lattice of half steps
    work = float(sgd.n_permutations) * landscape.n_samples * points
    if work > MC_GRID_WORK_MAX:
        raise InputError(
            f"epoch_noise='monte_carlo' on grid shape {grid.shape} runs n_permutations="
            f"{sgd.n_permutations} epochs of {landscape.n_samples} samples at each of at least "
            f"{points} field points: {work:.2g} sample-gradient steps (about "
            f"{work / MC_STEPS_PER_SECOND / 3600:.2g} h on 2 cores), above {MC_GRID_WORK_MAX:.0e}; pass "
            f"epoch_noise='leading_order' (to fokker_planck or SGD) for the formula, or a smaller "
            f"n_permutations"
        )


class _SliceModel:
    """What the minimiser needs of a slice's model: its number of parameters."""

    def __init__(self, n_params: int) -> None:
        self.n_params = n_params


class _Slice:
    """The landscape restricted to ``axes`` with the other parameters held at ``reference``.

    A landscape of its own in the slice coordinates ``u = w[axes]``: ``ℓ_i(u) = ℓ_i(w)`` with
    ``w[axes] = u`` and the rest at the reference, so its gradient, Hessian and ``Σ₁`` are the
    ``axes`` blocks of the full ones, and every derived term (the drift correction
    ``H ∇L``, ``L_WOR`` with ``mean_i H_i ∇ℓ_i``, the epoch noise) is built from those blocks
    alone — not restricted after being built from all ``d`` parameters.  The kernels cut the
    model's derivatives to the axes before the per-sample terms, so a slice point costs what a
    point of an ``n``-parameter landscape costs.
    """

    def __init__(self, land: Landscape, axes, reference: np.ndarray) -> None:
        self.land, self.axes, self.reference = land, list(axes), np.asarray(reference, dtype=float)
        self.model = _SliceModel(len(self.axes))

    @property
    def n_samples(self) -> int:
        return self.land.n_samples

    @property
    def n_params(self) -> int:
        return len(self.axes)

    def embed(self, u: np.ndarray) -> np.ndarray:
        """Full points (P, d) from slice points (P, n)."""
        U = np.atleast_2d(np.asarray(u, dtype=float))
        W = np.tile(self.reference, (U.shape[0], 1))
        W[:, self.axes] = U
        return W

    def fields(self, u, hessian: bool = True) -> LandscapeFields:
        """The slice's own fields (``Landscape.fields_over`` its axes) at slice points ``u`` (P, n)."""
        U = np.atleast_2d(np.asarray(u, dtype=float))
        return replace(self.land.fields_over(self.embed(U), self.axes, hessian=hessian), w=U)

    def per_sample(self, u) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ell, G, Hs = self.land.per_sample(self.embed(u)[0])
        a = self.axes
        return ell, G[:, a], Hs[:, a][:, :, a]


class _GridFields:
    """Callable drift and diffusion over the chosen axes; one kernel run serves both."""

    def __init__(self, sgd: SGD, land: Landscape, axes, ref, rng, epoch_noise) -> None:
        full = list(axes) == list(range(land.n_params))
        self.sgd, self.land = sgd, land if full else _Slice(land, axes, ref)
        self.rng, self.epoch_noise = rng, epoch_noise
        self._last = None

    def _evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._last is not None and self._last[0] is x:
            return self._last[1]
        pts = x.shape[1:]
        n = x.shape[0]
        U = np.ascontiguousarray(x.reshape(n, -1).T)
        f = self.sgd.strategy.fields(self.sgd, self.land, U, self.rng, self.epoch_noise)
        A = f.drift.T.reshape(n, *pts)
        D = np.moveaxis(f.diffusion, 0, -1).reshape(n, n, *pts)
        self._last = (x, (A, D))
        return A, D

    def drift(self, x: np.ndarray) -> np.ndarray:
        return self._evaluate(x)[0]

    def diffusion(self, x: np.ndarray) -> np.ndarray:
        return self._evaluate(x)[1]


__all__ = ["SGD", "SCHEMES", "SchemeFields"]
