"""Stochastic thermodynamics along trajectories: entropy production, fluctuation theorems,
the stochastic area, and the entropy balance of a relaxation.

Trajectory entropy production (Seifert's stochastic thermodynamics), in SDE time and with
``k_B = 1``.  Along a path ``w(t)`` of ``dw = A dt + B dW`` (``D = ½ B Bᵀ``):

* system term ``Δs_sys = −ln p(w_t, t) + ln p(w_0, 0)``,
* medium term ``Δs_med = ∫ Fᵀ ∘ dw`` (Stratonovich) with the thermodynamic force
  ``F = D⁻¹ (A − ∇·D)``,
* total ``Δs_tot = Δs_sys + Δs_med``; in a stationary state, with the mean local velocity
  ``v = J / p``, ``Δs_tot = ∫ (D⁻¹ v)ᵀ ∘ dw`` and ``⟨Δs_tot⟩ = σ t``.

The Stratonovich integrals are evaluated on the recorded points with the midpoint rule
(``rule="midpoint"``, the default) or the pre-point (Itô) rule on request; the latter is right in
mean only when the integrand is linear.  ``⟨e^{−Δs_tot}⟩ = 1`` for any window (integral
fluctuation theorem) and, in a steady state, ``ln P(Δs) / P(−Δs) = Δs`` (detailed theorem); on
discrete steps both hold up to discretisation errors of the step, except for the exact
discrete-time form of a linear Gaussian chain (:class:`LinearChain`), for which they hold exactly.

Relaxation (:func:`relaxation`) follows a density evolved on the grid towards the stationary
state with the Markov-jump forms of the generator (Schnakenberg), for which the balance
``dS/dt = Σ_tot − Q̇``, the split ``Σ_tot = Σ_hk + Σ_ex`` and ``Σ_ex = −d KL(p_t ‖ p_ss)/dt`` hold
to round-off.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike

from .errors import FieldError, FPSolveError

TINY = np.finfo(float).tiny
MIN_WALKERS = 8  # walkers needed to take the spread of walker means as the standard error
MIN_BATCHES = 4  # batch means need a few batches for a variance
MIN_NEGATIVE = 50  # integral FT: fewer negative Δs than this and the left tail is not sampled
MIN_ESS = 100  # integral FT: fewer effective samples of e^{−Δs} than this: not converged
MAX_WEIGHT_SHARE = 0.05  # integral FT: one sample carrying more of Σ e^{−Δs} than this: not converged
MIN_BIN_COUNT = 10  # detailed FT: each bin of a ±Δs pair needs this many samples (Poisson error < 1/3)
MIN_BIN_PAIRS = 3  # detailed FT: a line through fewer bin pairs has no uncertainty
TAIL_RTOL = 1e-7  # stationary cells below this fraction of the peak are rebuilt (solve round-off ~1e-16 of the peak)
TAIL_MAX_SWEEPS = 5_000  # symmetric Gauss-Seidel sweeps for the tails (typically tens to hundreds)
TAIL_CONVERGED = 1e-14  # relative change per sweep at which a tail cell is final
N_BOOTSTRAP = 400  # bootstrap resamples over walkers: relative error of the standard error ~ 3.5%
RULES = ("midpoint", "prepoint")


class ThermoError(FPSolveError, ValueError):
    """Inputs to a thermodynamic estimate are inconsistent (shapes, states, windows)."""


# -- results ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class EntropyProduction:
    """Stochastic entropy production of every window of every walker (dimensionless, ``k_B = 1``).

    Attributes
    ----------
    total, system, medium : ndarray (n_walkers, n_windows)
        ``Δs_tot``, ``Δs_sys = −ln p(w_end) + ln p(w_start)`` and ``Δs_med``;
        ``total == system + medium`` (see ``form`` for which two are evaluated directly).
        ``nan`` for windows that meet a stopped chain.
    window : int
        Recorded intervals per window (windows do not overlap).
    duration : float
        SDE time spanned by one window.
    start_times : ndarray (n_windows,)
        SDE time at the start of each window.
    form : str
        ``"stationary"`` (grid state: ``total = ∫ (D⁻¹v)ᵀ∘dw`` and ``system`` direct, ``medium``
        their difference), ``"gaussian"`` (all three direct; linear fields), ``"transient"``
        (``system`` from the evolved density and ``medium = ∫ Fᵀ∘dw``, ``total`` their sum) or
        ``"discrete_chain"`` (exact path-probability ratio of a linear Gaussian chain; ``medium``
        the transition log ratio).
    rule : str
        ``"midpoint"`` or ``"prepoint"`` (``"exact"`` for the discrete chain).
    n_walkers, n_windows : int
        The shape of ``total``.
    status : str
        ``"completed"`` (every window finite) or ``"partial"`` (some windows meet a stopped
        chain and are ``nan``; :meth:`mean` and the fluctuation theorems leave those walkers out).
    message : str
        How many walkers and windows are ``nan`` and what to do; when ``"completed"``, what was
        evaluated (walkers, windows, form and rule).  Never empty.
    seconds : float
        Wall-clock time spent in :func:`entropy_production`.

    See Also
    --------
    fpsolve.thermo.entropy_production : Computes it.
    fpsolve.thermo.integral_ft, fpsolve.thermo.detailed_ft : Test the fluctuation theorems on it.
    """

    total: np.ndarray
    system: np.ndarray
    medium: np.ndarray
    window: int
    duration: float
    start_times: np.ndarray
    form: str
    rule: str
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """``"completed"``, or ``"partial"`` when some windows are ``nan`` (a stopped chain)."""
        return "completed" if np.isfinite(self.total).all() else "partial"

    @property
    def message(self) -> str:
        """How many windows are ``nan`` and what to do; else what was evaluated (never empty)."""
        bad = ~np.isfinite(self.total)
        if not bad.any():
            return (f"{self.n_walkers} walkers × {self.n_windows} windows of {self.window} recorded "
                    f"intervals, all finite ({self.form} form, {self.rule} rule)")
        return (f"{int(bad.any(axis=1).sum())} of {self.n_walkers} walkers meet a stopped chain "
                f"({int(bad.sum())} of {bad.size} windows are nan) and are left out of mean() and the "
                "fluctuation theorems; see the trajectory's message (a smaller step avoids divergence)")

    @property
    def n_walkers(self) -> int:
        """Number of walkers (rows of ``total``)."""
        return int(self.total.shape[0])

    @property
    def n_windows(self) -> int:
        """Number of windows per walker (columns of ``total``)."""
        return int(self.total.shape[1])

    def values(self) -> np.ndarray:
        """All finite ``Δs_tot`` as one flat array."""
        flat = self.total.ravel()
        return flat[np.isfinite(flat)]

    def mean(self) -> tuple[float, float]:
        """Mean ``Δs_tot`` per window and its standard error (walker means or batch means)."""
        return mean_and_error(self.total)

    def rate(self) -> tuple[float, float]:
        """Mean ``Δs_tot`` per unit SDE time and its standard error (compare with ``σ``)."""
        m, e = self.mean()
        return m / self.duration, e / self.duration

    def __repr__(self) -> str:
        m, e = self.mean()
        return (f"EntropyProduction({self.form}/{self.rule}, {self.n_walkers} walkers × "
                f"{self.n_windows} windows of {self.window}, mean {m:.4g} ± {e:.2g}, "
                f"status={self.status!r})")


@dataclass(frozen=True)
class IntegralFT:
    """Estimate of ``⟨e^{−Δs}⟩`` (1 by the integral fluctuation theorem).

    Attributes
    ----------
    value, standard_error : float
        ``⟨e^{−Δs}⟩`` and its standard error (bootstrap over walkers when there are at least
        ``MIN_WALKERS`` of them, else the standard error of the exponential average,
        ``std(e^{−Δs}) / √n``).
    log_value, log_error : float
        ``ln ⟨e^{−Δs}⟩`` (0 by the theorem) and its error ``standard_error / value``.
    n_samples, n_negative : int
        Finite samples, and those with ``Δs < 0`` (the tail that carries the average).
    effective_samples : float
        Kish effective sample count of the weights ``e^{−Δs}``: ``(Σ w)² / Σ w²``.
    max_weight_share : float
        Largest single weight over their sum.
    converged : bool
        ``n_negative >= MIN_NEGATIVE``, ``effective_samples >= MIN_ESS`` and
        ``max_weight_share <= MAX_WEIGHT_SHARE``; otherwise the estimate is biased low and its
        error understated, and ``message`` says which test failed.
    method : str
        ``"bootstrap"`` or ``"exponential_average"``.
    status : str
        ``"converged"`` or ``"not converged"`` (the same test as ``converged``).
    message : str
        Which convergence test failed and what to do; when ``converged``, the figures the tests
        passed on (negative samples, effective sample count, largest weight share).  Never empty.
    seconds : float
        Wall-clock time spent in :func:`integral_ft`.

    See Also
    --------
    fpsolve.thermo.integral_ft : Computes it.
    """

    value: float
    standard_error: float
    log_value: float
    log_error: float
    n_samples: int
    n_negative: int
    effective_samples: float
    max_weight_share: float
    converged: bool
    method: str
    message: str = ""
    seconds: float = field(default=0.0, compare=False)

    @property
    def status(self) -> str:
        """``"converged"`` or ``"not converged"`` (as ``converged``)."""
        return "converged" if self.converged else "not converged"


@dataclass(frozen=True, eq=False)
class DetailedFT:
    """Weighted straight-line fit of ``ln P(Δs) / P(−Δs)`` against ``Δs`` (slope 1 by the theorem).

    Attributes
    ----------
    slope, slope_error, intercept, intercept_error : float
        Maximum-likelihood fit to the Poisson counts of the bin pairs (given ``n₊ + n₋``, ``n₊``
        is binomial with ``logit π = slope Δs + intercept``), errors from the Fisher information
        scaled by ``√max(1, reduced_chi2)`` (windows of one walker are correlated, so the
        Poisson errors alone understate the scatter).
    reduced_chi2 : float
        Of the fit (``≈ 1`` when the Poisson errors are right; windows of one walker are not
        independent, which inflates it).
    centres, log_ratio, log_ratio_error : ndarray (n_pairs,)
        The points: positive bin centres, ``ln(n₊/n₋)`` and its Poisson error
        ``√(1/n₊ + 1/n₋)``.
    counts_positive, counts_negative : ndarray (n_pairs,)
        Samples ``n₊`` in each positive bin and ``n₋`` in its mirror image.
    edges : ndarray
        Bin edges of the positive side (the negative side mirrors them).
    status : str
        ``"ok"`` or ``"too few bin pairs"`` (then the fit values are nan).
    message : str
        How many bin pairs were populated, how many the fit needs and what to change; when
        ``"ok"``, the bin pairs fitted and the fitted slope.  Never empty.
    seconds : float
        Wall-clock time spent in :func:`detailed_ft`.

    See Also
    --------
    fpsolve.thermo.detailed_ft : Computes it.
    fpsolve.plot.fluctuation_theorem : Draws it.
    """

    slope: float
    slope_error: float
    intercept: float
    intercept_error: float
    reduced_chi2: float
    centres: np.ndarray
    log_ratio: np.ndarray
    log_ratio_error: np.ndarray
    counts_positive: np.ndarray
    counts_negative: np.ndarray
    edges: np.ndarray
    status: str
    message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class StochasticArea:
    """Mean areal velocity ``⟨½ (δ_i dδ_j − δ_j dδ_i)⟩ / dt`` (equals the circulation ``Q_ij``).

    Attributes
    ----------
    value, standard_error : float
        The mean areal velocity (per unit SDE time) and its standard error.
    axes : tuple of int
        The pair ``(i, j)``.
    n_intervals : int
        Finite recorded intervals that entered the mean.
    status : str
        ``"completed"``; ``"partial"`` when walkers with non-finite records (stopped chains)
        were left out; ``"no error"`` when the standard error is ``nan`` (fewer than
        ``MIN_WALKERS`` walkers and too few records for batch means).
    message : str
        What was left out or missing and what to do; when ``"completed"``, how many intervals
        and walkers entered the mean and where its error comes from.  Never empty.
    seconds : float
        Wall-clock time spent in :func:`stochastic_area`.

    See Also
    --------
    fpsolve.thermo.stochastic_area : Computes it.
    """

    value: float
    standard_error: float
    axes: tuple[int, int]
    n_intervals: int
    status: str = "completed"
    message: str = ""
    seconds: float = field(default=0.0, compare=False)


@dataclass(frozen=True, eq=False)
class Relaxation:
    """Entropy balance of a density relaxing towards a stationary state (jump-process forms).

    All rates per unit SDE time; ``P_a = p_a V`` are the cell probabilities, ``w_ab`` the rates
    of the grid generator from cell ``a`` to ``b`` and ``P^ss`` its stationary vector.

    Attributes
    ----------
    times : ndarray (n_times,)
        The evolution's times (SDE time); every other array has one value per time.
    entropy : ndarray
        ``S = −Σ_a P_a ln p_a`` (the differential entropy of the cell density).
    entropy_rate : ndarray
        ``dS/dt = −Σ_a (L P)_a ln p_a`` along the generator.
    total : ndarray
        ``Σ_tot = Σ_{a→b} w_ab P_a ln[w_ab P_a / (w_ba P_b)] >= 0``.
    heat : ndarray
        Entropy flow to the medium ``Q̇ = Σ_{a→b} w_ab P_a ln(w_ab / w_ba)``.
    housekeeping : ndarray
        ``Σ_hk = Σ_{a→b} w_ab P_a ln[w_ab P^ss_a / (w_ba P^ss_b)] >= 0``.
    excess : ndarray
        ``Σ_ex = Σ_{a→b} w_ab P_a ln[P_a P^ss_b / (P_b P^ss_a)] >= 0``.
    kl : ndarray
        ``KL(P ‖ P^ss) = Σ_a P_a ln(P_a / P^ss_a)``.
    kl_rate : ndarray
        ``d KL / dt = Σ_a (L P)_a ln(P_a / P^ss_a)`` along the generator (``= −excess``).
    n_floored : ndarray of int
        Cells whose probability was below the smallest normal double (zero, underflowed tails or
        negative round-off) and was raised to it, so that every logarithm is finite.  A density
        with true zeros (a compact initial condition) has formally infinite rates at that
        instant; with floored cells they are large but finite.  ``P^ss`` is the generator's
        stationary vector with its far tails rebuilt cell by cell from the balance equations
        (the direct solve is accurate only relative to its largest value).

    status : str
        ``"completed"``, or ``"tails not converged"`` when the Gauss--Seidel sweeps that rebuild
        the far tails of ``P^ss`` stopped at ``TAIL_MAX_SWEEPS`` (then the housekeeping/excess
        split may carry that error in those cells; a ``UserWarning`` says so too).
    message : str
        What did not converge and what it affects; when ``"completed"``, the number of times and
        how the far tails of ``P^ss`` were rebuilt.  Never empty.
    seconds : float
        Wall-clock time spent in :func:`relaxation`.

    ``entropy_rate == total − heat``, ``total == housekeeping + excess`` and
    ``excess == −kl_rate`` hold to round-off (for the floored densities).

    See Also
    --------
    fpsolve.thermo.relaxation : Computes it.
    fpsolve.plot.relaxation : Draws it.
    """

    times: np.ndarray
    entropy: np.ndarray
    entropy_rate: np.ndarray
    total: np.ndarray
    heat: np.ndarray
    housekeeping: np.ndarray
    excess: np.ndarray
    kl: np.ndarray
    kl_rate: np.ndarray
    n_floored: np.ndarray
    status: str = "completed"
    message: str = ""
    seconds: float = 0.0


# -- statistics helpers --------------------------------------------------------------------
def mean_and_error(x: np.ndarray) -> tuple[float, float]:
    """Mean of ``x`` (n_walkers, n) and its standard error.

    With at least ``MIN_WALKERS`` walkers the walker means are the independent samples;
    otherwise each walker is cut into ``⌊√n⌋`` batches and the batch means are used.
    Walkers with a non-finite value are left out.

    Parameters
    ----------
    x : ndarray (n_walkers, n)
        Values per walker (a 1-D array is one walker).

    Returns
    -------
    mean, standard_error : float
        ``nan`` for both without finite walkers; the error is ``nan`` with too few batches.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> x = np.random.default_rng(0).normal(1.0, 2.0, (100, 50))
    >>> m, e = fp.thermo.mean_and_error(x)
    >>> bool(abs(m - 1.0) < 3 * e), round(e, 2)  # 2 / sqrt(5000) = 0.028
    (True, 0.03)
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    x = x[np.all(np.isfinite(x), axis=1)]
    if x.size == 0:
        return float("nan"), float("nan")
    W, n = x.shape
    if W >= MIN_WALKERS:
        means = x.mean(axis=1)
        return float(means.mean()), float(means.std(ddof=1) / np.sqrt(W))
    n_batches = int(np.sqrt(n))
    if n_batches * W < MIN_BATCHES:
        return float(x.mean()), float("nan")
    b = n // n_batches
    means = x[:, : n_batches * b].reshape(W, n_batches, b).mean(axis=2).ravel()
    return float(x.mean()), float(means.std(ddof=1) / np.sqrt(means.size))


# -- inputs --------------------------------------------------------------------------------
def _records(trajectory, dt: float | None, epochs: bool) -> tuple[np.ndarray, np.ndarray]:
    """Recorded positions (W, R, d) and their SDE times (R,)."""
    from .simulate.trajectory import Trajectory

    if isinstance(trajectory, Trajectory):
        if epochs:
            if trajectory.epoch_weights is None:
                raise ThermoError(
                    "epochs=True needs epoch records: they exist for SGD runs with "
                    "scheme='without_replacement' and epoch_record_every >= 1")
            return trajectory.epoch_weights, np.asarray(trajectory.epoch_times, dtype=float)
        if trajectory.weights is None:
            raise ThermoError("trajectory has no records (record_every=0); rerun with record_every >= 1")
        return trajectory.weights, np.asarray(trajectory.times, dtype=float)
    arr = np.asarray(trajectory, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ThermoError(
            f"trajectory must be an fpsolve.Trajectory or an array (n_walkers, n_records, d); got "
            f"shape {np.shape(trajectory)}")
    if dt is None or not dt > 0:
        raise ThermoError(f"dt (SDE time between records) must be positive for an array trajectory; got {dt!r}")
    return arr, np.arange(arr.shape[1]) * float(dt)


def _windows(n_records: int, window) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ThermoError(f"window must be a positive integer number of recorded intervals; got {window!r}")
    n = (n_records - 1) // int(window)
    if n < 1:
        raise ThermoError(
            f"window={window} needs at least {window + 1} records per walker; the trajectory has {n_records}")
    return n


def _check_rule(rule: str) -> bool:
    if rule not in RULES:
        raise ThermoError(f"rule must be one of {RULES}; got {rule!r}")
    return rule == "midpoint"


def _grid_table(grid, table: np.ndarray):
    """The kernels' :data:`~fpsolve._kernels.thermo.GridTable` of ``table`` (n_cells, m) on ``grid``."""
    from ._kernels import thermo as tk
    from ._kernels.codes import BOUNDARY_CODES

    d = grid.ndim
    strides = np.array([int(np.prod(grid.shape[k + 1:])) for k in range(d)], dtype=np.int64)
    return tk.GridTable(table, np.array(grid.lower, dtype=float), np.array(grid.upper, dtype=float),
                        1.0 / np.array(grid.spacing, dtype=float), np.array(grid.shape, dtype=np.int64),
                        np.array([BOUNDARY_CODES[b] for b in grid.boundary], dtype=np.int64), strides)


def _solve_fields(D: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``D⁻¹ A`` for a constant ``D`` (d, d) or a field (d, d, *pts) and ``A`` (d, *pts)."""
    if D.ndim == 2:
        return np.einsum("ij,j...->i...", np.linalg.inv(D), A)
    mats = np.moveaxis(D, (0, 1), (-2, -1))
    return np.moveaxis(np.linalg.solve(mats, np.moveaxis(A, 0, -1)[..., None])[..., 0], -1, 0)


def _table(fields: list[np.ndarray]) -> np.ndarray:
    """Cell-major table (N, m) from fields of shape (k, *grid.shape), columns in order."""
    return np.ascontiguousarray(np.concatenate([f.reshape(f.shape[0], -1) for f in fields], axis=0).T)


def _check_dims(records: np.ndarray, d: int, what: str) -> None:
    if records.shape[2] != d:
        raise ThermoError(f"trajectory has dimension {records.shape[2]}; the {what} has dimension {d}")


# -- entropy production --------------------------------------------------------------------
def entropy_production(trajectory, state, window: int = 1, rule: str = "midpoint", *,
                       dt: float | None = None, epochs: bool = False) -> EntropyProduction:
    """Stochastic entropy production ``Δs_tot`` of every window of every walker.

    Parameters
    ----------
    trajectory : Trajectory or ndarray (n_walkers, n_records, d)
        Langevin walkers or SGD chains (weights in SDE time); an array needs ``dt``.
    state : StationaryState, GaussianState, Evolution or LinearChain
        * ``StationaryState``: ``D⁻¹ v`` (``v = J / p``) and ``ln p`` interpolated multilinearly
          from the cell centres (as the Langevin engine interpolates its fields);
          ``Δs_tot = ∫ (D⁻¹ v)ᵀ ∘ dw``.
        * ``GaussianState``: linear velocity ``v = −Q C⁻¹ δ``, ``δ = w − mean``, for models of any
          size; all three terms are evaluated directly and satisfy ``total = system + medium``
          to round-off (the midpoint rule is exact for linear fields).
        * ``Evolution`` (transient): ``Δs_sys`` from the evolved density (log-density linear in
          time between its times) and ``Δs_med = ∫ Fᵀ ∘ dw``, ``F = D⁻¹ (A − ∇·D)``; the
          trajectory must start at the evolution's first time.
        * ``LinearChain``: the exact discrete-time path-probability ratio (see
          :class:`LinearChain`); ``rule`` is ignored.
    window : int
        Recorded intervals per window; windows do not overlap.
    rule : {"midpoint", "prepoint"}
        Where the Stratonovich integrand is evaluated on each interval.
    dt : float, optional
        SDE time between records, for an array trajectory.
    epochs : bool
        Use a without-replacement SGD run's epoch records (``epoch_weights``).

    Returns
    -------
    EntropyProduction
        ``Δs_tot``, ``Δs_sys`` and ``Δs_med`` of every window of every walker.

    Raises
    ------
    ThermoError
        For an unknown ``state`` type or ``rule``, records of the wrong dimension, too few
        records for one window, an array without ``dt``, or ``epochs=True`` without epoch
        records.

    See Also
    --------
    fpsolve.thermo.integral_ft, fpsolve.thermo.detailed_ft : The fluctuation theorems.
    fpsolve.plot.entropy_histogram : The histogram of ``Δs_tot``.

    Examples
    --------
    Along any path of a linear state the three parts add up exactly:

    >>> import numpy as np, fpsolve as fp
    >>> g = fp.linearized(np.array([[1.0, 1.5], [-0.5, 1.0]]), np.diag([0.5, 0.25]))
    >>> path = np.random.default_rng(0).multivariate_normal(np.zeros(2), g.covariance, 5)
    >>> ds = fp.thermo.entropy_production(path[None], g, dt=0.01)
    >>> bool(np.allclose(ds.total, ds.system + ds.medium))
    True

    The per-step chain of SGD with learning rate 0.05 at that state: the mean production over
    windows of 5 steps matches its exact value (0.4085) within the standard error.

    >>> chain = fp.thermo.LinearChain.from_state(
    ...     fp.linearized(g.hessian, g.diffusion, learning_rate=0.05))
    >>> paths = chain.simulate(n_steps=200, n_chains=200, rng=1)
    >>> ds = fp.thermo.entropy_production(paths, chain, window=5, dt=0.05)
    >>> ds.n_walkers, ds.n_windows, ds.form
    (200, 40, 'discrete_chain')
    >>> m, e = ds.mean()
    >>> bool(abs(m - chain.mean_entropy_production(5)) < 3 * e)
    True
    """
    from .solve.evolve import Evolution
    from .solve.gaussian import GaussianState
    from .solve.steady_state import StationaryState

    t0 = time.perf_counter()
    records, times = _records(trajectory, dt, epochs)
    n_win = _windows(records.shape[1], window)
    records = np.ascontiguousarray(records, dtype=float)
    window = int(window)
    starts = times[: n_win * window: window]
    duration = float(times[window] - times[0])
    if isinstance(state, LinearChain):
        ds = _chain_ds(records, state, window, n_win, starts, duration)
    elif isinstance(state, (GaussianState, StationaryState, Evolution)):
        midpoint = _check_rule(rule)
        if isinstance(state, GaussianState):
            ds = _gaussian_ds(records, state, window, n_win, midpoint, starts, duration, rule)
        elif isinstance(state, StationaryState):
            ds = _stationary_ds(records, state, window, n_win, midpoint, starts, duration, rule)
        else:
            ds = _transient_ds(records, times, state, window, n_win, midpoint, starts, duration, rule)
    else:
        raise ThermoError(
            "state must be a StationaryState, GaussianState, Evolution or fpsolve.thermo.LinearChain; got "
            f"{type(state).__name__}")
    return replace(ds, seconds=time.perf_counter() - t0)


def _stationary_ds(records, state, window, n_win, midpoint, starts, duration, rule):
    from ._kernels import thermo as tk

    grid = state.grid
    _check_dims(records, grid.ndim, "state's grid")
    force = _solve_fields(state.problem.diffusion_at_cells(), state.velocity)
    log_p = np.log(np.maximum(state.density, TINY))
    table = _table([force, log_p[None]])
    W = records.shape[0]
    total = np.empty((W, n_win))
    system = np.empty((W, n_win))
    tk.grid_windows(records, window, midpoint, _grid_table(grid, table), total, system, True)
    return EntropyProduction(total, system, total - system, window, duration, starts, "stationary", rule)


def _gaussian_ds(records, state, window, n_win, midpoint, starts, duration, rule):
    from ._kernels import thermo as tk

    d = state.ndim
    _check_dims(records, d, "Gaussian state")
    D = state.diffusion
    if np.linalg.eigvalsh(D)[0] <= 0:
        raise FieldError("the Gaussian state's diffusion is singular: D⁻¹ and the entropy production are undefined")
    P = np.linalg.inv(state.covariance)
    G = np.linalg.solve(D, state.circulation @ P)
    F = np.linalg.solve(D, state.hessian)
    W = records.shape[0]
    total, medium, system = (np.empty((W, n_win)) for _ in range(3))
    tk.linear_windows(records, window, midpoint, np.asarray(state.mean, dtype=float),
                      np.ascontiguousarray(G), np.ascontiguousarray(F), np.ascontiguousarray(P),
                      total, medium, system)
    return EntropyProduction(total, system, medium, window, duration, starts, "gaussian", rule)


def _divergence(D: np.ndarray, grid) -> np.ndarray:
    """``(∇·D)_i = ∂_j D_ij`` by second-order differences on the grid (zero for constant ``D``)."""
    d = grid.ndim
    if D.ndim == 2:
        return np.zeros((d, *grid.shape))
    out = np.zeros((d, *grid.shape))
    for i in range(d):
        for j in range(d):
            if grid.shape[j] >= 3:
                out[i] += np.gradient(D[i, j], grid.spacing[j], axis=j, edge_order=2)
    return out


def _transient_ds(records, times, evolution, window, n_win, midpoint, starts, duration, rule):
    from ._kernels import thermo as tk
    from .solve.problem import FokkerPlanck

    problem = evolution.problem
    if not isinstance(problem, FokkerPlanck):
        raise ThermoError("entropy_production of an Evolution needs a time-independent FokkerPlanck problem")
    grid = evolution.grid
    _check_dims(records, grid.ndim, "evolution's grid")
    et = np.asarray(evolution.times, dtype=float)
    span = max(abs(et[-1]), 1.0) * 1e-12
    if times[0] < et[0] - span or times[-1] > et[-1] + span:
        raise ThermoError(
            f"trajectory times [{times[0]:.6g}, {times[-1]:.6g}] must lie within the evolution's times "
            f"[{et[0]:.6g}, {et[-1]:.6g}]")
    D = problem.diffusion_field
    force = _solve_fields(D, problem.drift_field - _divergence(D, grid))
    W = records.shape[0]
    medium = np.empty((W, n_win))
    tk.grid_windows(records, window, midpoint, _grid_table(grid, _table([force])), medium, medium, True)
    log_p = np.empty((W, n_win + 1))
    val = np.empty((W, 1))
    tables: dict[int, object] = {}  # ln p at an evolution time, built once when first needed
    for k in range(n_win + 1):
        r = k * window
        t = float(np.clip(times[r], et[0], et[-1]))
        i = int(np.clip(np.searchsorted(et, t, side="right") - 1, 0, len(et) - 2)) if len(et) > 1 else 0
        pieces = []
        for idx in ((i, i + 1) if len(et) > 1 else (0,)):
            if idx not in tables:
                tables[idx] = _grid_table(grid, _table([np.log(np.maximum(evolution.densities[idx], TINY))[None]]))
            tk.interpolate_points(np.ascontiguousarray(records[:, r]), tables[idx], val)
            pieces.append(val[:, 0].copy())
        if len(pieces) == 1:
            log_p[:, k] = pieces[0]
        else:
            f = (t - et[i]) / (et[i + 1] - et[i])
            log_p[:, k] = (1.0 - f) * pieces[0] + f * pieces[1]
    system = log_p[:, :-1] - log_p[:, 1:]
    return EntropyProduction(system + medium, system, medium, window, duration, starts, "transient", rule)


# -- the discrete-time linear Gaussian chain ----------------------------------------------
@dataclass(frozen=True, eq=False)
class LinearChain:
    """The linear Gaussian chain ``δ_{n+1} = J δ_n + ξ_n``, ``ξ_n ~ N(0, Σ)``, in its stationary law.

    ``C = J C Jᵀ + Σ``.  Over steps ``0 … k`` the entropy production is the log ratio of the
    forward and time-reversed path probabilities (weights are even under time reversal)::

        Δs = ln p(δ_0) − ln p(δ_k) + Σ_n ln [T(δ_{n+1} | δ_n) / T(δ_n | δ_{n+1})],

    every term a Gaussian log-density, so ``⟨e^{−Δs}⟩ = 1`` exactly for any ``k``
    (:meth:`integral_ft_exact` evaluates it in closed form).  For SGD with replacement,
    ``J = I − η H`` and ``Σ = 2 η D`` (``D`` in SDE time); the mean per step tends to ``σ η`` as
    ``η → 0``.

    Parameters
    ----------
    transition : ndarray (d, d)
        ``J`` (spectral radius below 1).
    noise_covariance : ndarray (d, d)
        ``Σ`` (symmetric positive definite).
    mean : ndarray (d,), optional
        Where the chain is centred (default the origin).
    dt : float, optional
        SDE time per step (the learning rate for SGD).

    Attributes
    ----------
    covariance : ndarray (d, d)
        The stationary covariance ``C = J C Jᵀ + Σ``.
    ndim : int
        ``d``.
    entropy_production_per_step : float
        Exact stationary mean of ``Δs`` per step.

    Raises
    ------
    ThermoError
        For matrices of the wrong shape, a ``Σ`` that is not symmetric positive definite, a
        ``J`` with spectral radius 1 or more, a ``mean`` of the wrong shape or a ``dt`` that is
        not positive.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> chain = fp.thermo.LinearChain(np.array([[0.9, 0.05], [-0.05, 0.9]]), 0.01 * np.eye(2))
    >>> round(chain.integral_ft_exact(k=3), 12)  # the integral theorem holds exactly
    1.0
    >>> bool(np.isclose(chain.mean_entropy_production(3), 3 * chain.entropy_production_per_step))
    True
    """

    transition: np.ndarray
    noise_covariance: np.ndarray
    mean: np.ndarray | None = None
    dt: float | None = None
    covariance: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from scipy.linalg import solve_discrete_lyapunov

        J = np.atleast_2d(np.asarray(self.transition, dtype=float))
        if J.ndim != 2 or J.shape[0] != J.shape[1]:
            raise ThermoError(f"transition must be a square (d, d) matrix; got shape {np.shape(self.transition)}")
        d = J.shape[0]
        S = np.atleast_2d(np.asarray(self.noise_covariance, dtype=float))
        if S.shape != (d, d):
            raise ThermoError(f"noise_covariance must have shape ({d}, {d}); got {np.shape(self.noise_covariance)}")
        if np.abs(S - S.T).max() > 1e-10 * max(np.abs(S).max(), TINY):
            raise ThermoError("noise_covariance must be symmetric")
        low = float(np.linalg.eigvalsh(0.5 * (S + S.T))[0])
        if low <= 0:
            raise ThermoError(f"noise_covariance must be positive definite; got eigenvalue {low:.6g}")
        rho = float(np.abs(np.linalg.eigvals(J)).max())
        if rho >= 1:
            raise ThermoError(f"transition must have spectral radius below 1 (a stable chain); got {rho:.6g}")
        mu = np.zeros(d) if self.mean is None else np.asarray(self.mean, dtype=float).reshape(-1)
        if mu.shape != (d,):
            raise ThermoError(f"mean must have shape ({d},); got {np.shape(self.mean)}")
        if self.dt is not None and not self.dt > 0:
            raise ThermoError(f"dt must be positive; got {self.dt!r}")
        C = solve_discrete_lyapunov(J, 0.5 * (S + S.T))
        object.__setattr__(self, "transition", J)
        object.__setattr__(self, "noise_covariance", 0.5 * (S + S.T))
        object.__setattr__(self, "mean", mu)
        object.__setattr__(self, "covariance", 0.5 * (C + C.T))

    @classmethod
    def from_state(cls, state) -> LinearChain:
        """The per-step chain of SGD with replacement at a ``GaussianState`` with a learning rate:
        ``J = I − η H``, ``Σ = 2 η D``.

        Parameters
        ----------
        state : GaussianState
            With ``learning_rate`` set (the step ``η``).

        Returns
        -------
        LinearChain

        Raises
        ------
        ThermoError
            If the state has no learning rate.
        """
        eta = getattr(state, "learning_rate", None)
        if eta is None:
            raise ThermoError("from_state needs a GaussianState with a learning_rate (the step η)")
        d = state.ndim
        return cls(np.eye(d) - eta * state.hessian, 2.0 * eta * state.diffusion, state.mean, eta)

    @classmethod
    def fit(cls, trajectory, dt: float | None = None) -> LinearChain:
        """The linear Gaussian chain fitted to recorded consecutive steps (least squares).

        With ``μ`` the mean of the records, ``C_0 = ⟨δ_n δ_nᵀ⟩`` and ``C_1 = ⟨δ_{n+1} δ_nᵀ⟩``
        (``δ = w − μ``, averaged over walkers and over the pairs of successive records),
        ``J = C_1 C_0⁻¹`` and ``Σ`` the covariance of the residuals ``δ_{n+1} − J δ_n``: the
        Gaussian Markov chain with the one-step second moments of the data.  For a process that
        is not a linear chain (real SGD in a curved landscape, a projection of one) this is the
        surrogate whose ``Δs`` is built from what the trajectory does rather than from a model
        of it.  Evaluate ``Δs`` on records the fit has not seen (the fit's own records bias
        ``⟨e^{−Δs}⟩`` by about the number of fitted parameters over the number of pairs).

        Parameters
        ----------
        trajectory : array (n_walkers, n_records, d) or (n_records, d)
            Records one step apart (``nan`` after a divergence is not allowed).
        dt : float, optional
            SDE time per record, stored on the chain.

        Returns
        -------
        LinearChain
            With ``mean = μ``.
        """
        arr = np.asarray(trajectory, dtype=float)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ThermoError(f"trajectory must be an array (n_walkers, n_records, d); got shape {np.shape(trajectory)}")
        W, R, d = arr.shape
        if not np.all(np.isfinite(arr)):
            raise ThermoError("trajectory must be finite (a diverged chain has nan records): drop those walkers")
        if W * (R - 1) <= 2 * d + 1:
            raise ThermoError(
                f"trajectory has {W * (R - 1)} pairs of successive records; fitting a {d}-dimensional chain "
                f"needs more than {2 * d + 1}")
        mu = arr.reshape(-1, d).mean(axis=0)
        x = arr - mu
        before = x[:, :-1].reshape(-1, d)
        after = x[:, 1:].reshape(-1, d)
        C0 = before.T @ before
        C1 = after.T @ before
        J = np.linalg.solve(C0, C1.T).T  # C_1 C_0⁻¹
        resid = after - before @ J.T
        S = resid.T @ resid / (resid.shape[0] - d)
        return cls(J, 0.5 * (S + S.T), mu, dt)

    @property
    def ndim(self) -> int:
        """The dimension ``d``."""
        return int(self.transition.shape[0])

    @property
    def entropy_production_per_step(self) -> float:
        """Exact stationary mean of ``Δs`` per step:
        ``½ [tr(Σ⁻¹ (C + J C Jᵀ − C Jᵀ Jᵀ − J J C)) − d]``."""
        J, S, C = self.transition, self.noise_covariance, self.covariance
        cov_back = C + J @ C @ J.T - C @ J.T @ J.T - J @ J @ C
        return float(0.5 * (np.trace(np.linalg.solve(S, cov_back)) - self.ndim))

    def _quadratic_form(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``M`` with ``Δs = zᵀ M z`` over ``z = (δ_0, …, δ_k)``, and the covariance of ``z``."""
        d, J = self.ndim, self.transition
        S_inv = np.linalg.inv(self.noise_covariance)
        P = np.linalg.inv(self.covariance)
        n = (k + 1) * d
        M = np.zeros((n, n))
        M[-d:, -d:] += 0.5 * P
        M[:d, :d] -= 0.5 * P
        eye = np.eye(d)
        for s in range(k):
            fwd = np.zeros((d, n))
            bwd = np.zeros((d, n))
            fwd[:, (s + 1) * d:(s + 2) * d], fwd[:, s * d:(s + 1) * d] = eye, -J
            bwd[:, s * d:(s + 1) * d], bwd[:, (s + 1) * d:(s + 2) * d] = eye, -J
            M += 0.5 * (bwd.T @ S_inv @ bwd - fwd.T @ S_inv @ fwd)
        gamma = np.zeros((n, n))
        powers = [np.eye(d)]
        for _ in range(k):
            powers.append(J @ powers[-1])
        for a in range(k + 1):
            for b in range(a + 1):
                block = powers[a - b] @ self.covariance  # Cov(δ_a, δ_b) = J^{a-b} C
                gamma[a * d:(a + 1) * d, b * d:(b + 1) * d] = block
                gamma[b * d:(b + 1) * d, a * d:(a + 1) * d] = block.T
        return 0.5 * (M + M.T), gamma

    def integral_ft_exact(self, k: int = 1) -> float:
        """``⟨e^{−Δs}⟩`` over ``k`` steps in closed form: ``det(I + 2 Γ M)^{−½}`` (should be 1)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ThermoError(f"k must be a positive integer number of steps; got {k!r}")
        M, gamma = self._quadratic_form(int(k))
        sign, logdet = np.linalg.slogdet(np.eye(M.shape[0]) + 2.0 * gamma @ M)
        if sign <= 0:
            return float("inf")
        return float(np.exp(-0.5 * logdet))

    def mean_entropy_production(self, k: int = 1) -> float:
        """Exact ``⟨Δs⟩`` over ``k`` steps, ``tr(M Γ)`` (equals ``k`` times the per-step value)."""
        M, gamma = self._quadratic_form(int(k))
        return float(np.trace(M @ gamma))

    def simulate(self, n_steps: int, n_chains: int = 1, rng=None) -> np.ndarray:
        """Stationary paths ``(n_chains, n_steps + 1, d)`` (``δ_0 ~ N(0, C)``), shifted by ``mean``."""
        gen = np.random.default_rng(rng)
        d = self.ndim
        Lc = np.linalg.cholesky(self.covariance)
        Ls = np.linalg.cholesky(self.noise_covariance)
        out = np.empty((n_chains, n_steps + 1, d))
        x = gen.standard_normal((n_chains, d)) @ Lc.T
        out[:, 0] = x
        for n in range(n_steps):
            x = x @ self.transition.T + gen.standard_normal((n_chains, d)) @ Ls.T
            out[:, n + 1] = x
        return out + self.mean


def _chain_ds(records, chain, window, n_win, starts, duration):
    from ._kernels import thermo as tk

    _check_dims(records, chain.ndim, "chain")
    W = records.shape[0]
    total = np.empty((W, n_win))
    system = np.empty((W, n_win))
    tk.chain_windows(records, window, chain.mean, np.ascontiguousarray(chain.transition),
                     np.ascontiguousarray(np.linalg.inv(chain.noise_covariance)),
                     np.ascontiguousarray(np.linalg.inv(chain.covariance)), total, system)
    return EntropyProduction(total, system, total - system, window, duration, starts,
                             "discrete_chain", "exact")


INVARIANCE_RTOL = 1e-8  # ‖H V − V (Vᵀ H V)‖ <= this * ‖H‖: the basis spans an invariant subspace


def projected_state(state, basis: ArrayLike):
    """The Gaussian state of the coordinates ``δ_k = Vᵀ (w − mean)`` on an invariant subspace of ``H``.

    When the columns of ``V`` (orthonormal, e.g. Hessian eigenvectors) span a subspace that the
    drift matrix maps into itself, the projected linear process is again Ornstein--Uhlenbeck
    with ``H_k = Vᵀ H V`` and ``D_k = Vᵀ D V``, and its stationary covariance is ``Vᵀ C V``.
    For any other subspace the projection is not Markov and this raises.

    Parameters
    ----------
    state : GaussianState
        The full linearised state.
    basis : array (d, k)
        Orthonormal columns.

    Returns
    -------
    GaussianState
        Of dimension ``k``, centred at the origin, with the state's learning rate.

    Raises
    ------
    ThermoError
        If ``state`` is not a GaussianState, or ``basis`` has the wrong shape, is not
        orthonormal or does not span an invariant subspace of ``H``.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> H, D = np.diag([1.0, 2.0, 3.0]), np.diag([0.1, 0.2, 0.3])
    >>> g = fp.linearized(H, D)
    >>> sub = fp.thermo.projected_state(g, np.eye(3)[:, :2])  # the first two eigenvectors
    >>> sub.ndim, bool(np.allclose(sub.covariance, g.covariance[:2, :2]))
    (2, True)
    """
    from .solve.gaussian import GaussianState, linearized

    if not isinstance(state, GaussianState):
        raise ThermoError(f"state must be a GaussianState; got {type(state).__name__}")
    V = np.asarray(basis, dtype=float)
    if V.ndim == 1:
        V = V[:, None]
    d = state.ndim
    if V.ndim != 2 or V.shape[0] != d or V.shape[1] > d:
        raise ThermoError(f"basis must have shape ({d}, k) with k <= {d}; got {np.shape(basis)}")
    if np.abs(V.T @ V - np.eye(V.shape[1])).max() > 1e-10:
        raise ThermoError("basis must have orthonormal columns (e.g. eigenvectors from numpy.linalg.eigh)")
    H = state.hessian
    Hk = V.T @ H @ V
    leak = np.linalg.norm(H @ V - V @ Hk) / max(np.linalg.norm(H), TINY)
    if leak > INVARIANCE_RTOL:
        raise ThermoError(
            f"basis does not span an invariant subspace of the drift matrix (relative leak {leak:.2g}): "
            "the projected process is not Markov; use eigenvectors of the Hessian")
    return linearized(0.5 * (Hk + Hk.T) if np.allclose(H, H.T) else Hk, V.T @ state.diffusion @ V,
                      learning_rate=state.learning_rate)


# -- fluctuation theorems ------------------------------------------------------------------
def _samples(ds) -> np.ndarray:
    arr = ds.total if isinstance(ds, EntropyProduction) else np.asarray(ds, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.size == 0:
        raise ThermoError(f"ds must be an EntropyProduction or an array (n_walkers, n_windows); got shape {arr.shape}")
    return arr


def integral_ft(ds, *, n_bootstrap: int = N_BOOTSTRAP, rng=0) -> IntegralFT:
    """Estimate ``⟨e^{−Δs}⟩`` with an error that respects the heavy left tail.

    Parameters
    ----------
    ds : EntropyProduction or array (n_walkers, n_windows) or (n,)
        Walkers with a non-finite value are dropped.
    n_bootstrap : int
        Resamples over walkers (used with at least ``MIN_WALKERS`` walkers).
    rng : int or Generator
        For the bootstrap.

    Returns
    -------
    IntegralFT
        With ``converged=False`` (and a message) when too few negative samples or effective
        samples exist or one sample dominates: the average of ``e^{−Δs}`` is then biased low.

    Raises
    ------
    ThermoError
        For ``ds`` without finite values or of the wrong shape, or a bad ``n_bootstrap``.

    See Also
    --------
    fpsolve.thermo.LinearChain.integral_ft_exact : The exact value for a linear Gaussian chain.

    Examples
    --------
    For the linear Gaussian chain the theorem holds exactly, so the estimate is 1 within its
    error:

    >>> import numpy as np, fpsolve as fp
    >>> g = fp.linearized(np.array([[1.0, 1.5], [-0.5, 1.0]]), np.diag([0.5, 0.25]),
    ...                   learning_rate=0.05)
    >>> chain = fp.thermo.LinearChain.from_state(g)
    >>> ds = fp.thermo.entropy_production(chain.simulate(200, n_chains=200, rng=1), chain,
    ...                                   window=5, dt=0.05)
    >>> ift = fp.thermo.integral_ft(ds)
    >>> ift.converged, ift.method
    (True, 'bootstrap')
    >>> bool(abs(ift.value - 1.0) < 3 * ift.standard_error)
    True
    """
    t0 = time.perf_counter()
    x = _samples(ds)
    x = x[np.all(np.isfinite(x), axis=1)]
    if x.size == 0:
        raise ThermoError("ds has no finite values")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 2:
        raise ThermoError(f"n_bootstrap must be an integer >= 2; got {n_bootstrap!r}")
    shift = float(np.max(-x))
    w = np.exp(-x - shift)  # <= 1: no overflow
    n = w.size
    total = float(w.sum())
    value = np.exp(shift) * total / n
    ess = total**2 / float(np.sum(w * w))
    share = float(w.max() / total)
    n_neg = int(np.count_nonzero(x < 0))
    W = x.shape[0]
    if W >= MIN_WALKERS:
        gen = np.random.default_rng(rng)
        rows = w.sum(axis=1)
        per = w.shape[1]
        boot = np.empty(int(n_bootstrap))
        for b in range(int(n_bootstrap)):
            boot[b] = rows[gen.integers(0, W, W)].sum() / (W * per)
        se = float(np.exp(shift) * boot.std(ddof=1))
        method = "bootstrap"
    else:
        se = float(np.exp(shift) * w.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        method = "exponential_average"
    problems = []
    if n_neg < MIN_NEGATIVE:
        problems.append(f"only {n_neg} samples with Δs < 0 (need {MIN_NEGATIVE})")
    if ess < MIN_ESS:
        problems.append(f"effective sample count {ess:.1f} (need {MIN_ESS})")
    if share > MAX_WEIGHT_SHARE:
        problems.append(f"one sample carries {share:.1%} of the weight (at most {MAX_WEIGHT_SHARE:.0%})")
    if problems:
        message = ("not converged: " + "; ".join(problems) + ": the average of e^{−Δs} is biased low; "
                   "use more walkers or shorter windows")
    else:
        message = (f"converged: {n_neg} of {n} samples with Δs < 0, effective sample count {ess:.1f}, "
                   f"largest weight share {share:.1%} ({method})")
    return IntegralFT(float(value), se, float(np.log(value)), se / float(value), n, n_neg, float(ess),
                      share, not problems, method, message, seconds=time.perf_counter() - t0)


def detailed_ft(ds, bins: int = 20, *, range_max: float | None = None,
                min_count: int = MIN_BIN_COUNT) -> DetailedFT:
    """Fit ``ln P(Δs) / P(−Δs)`` against ``Δs`` (slope 1 and intercept 0 by the detailed theorem).

    Parameters
    ----------
    ds : EntropyProduction or array
        Samples of ``Δs`` (non-finite values are dropped).
    bins : int
        Bins on ``[0, range_max]``, mirrored on the negative side (so bins are symmetric about 0).
    range_max : float, optional
        Default: the ``min_count``-th largest ``|Δs|`` among the negative samples.
    min_count : int
        Each bin of a ``±`` pair needs at least this many samples to enter the fit.

    Returns
    -------
    DetailedFT
        Slope and intercept with errors; ``status == "too few bin pairs"`` (nan fit) when
        fewer than ``MIN_BIN_PAIRS`` pairs are populated.

    Raises
    ------
    ThermoError
        For a bad ``bins``, ``min_count`` or ``range_max``, or ``ds`` of the wrong shape.

    Examples
    --------
    Samples of the Gaussian ``N(μ, 2μ)`` obey the detailed theorem exactly:

    >>> import numpy as np, fpsolve as fp
    >>> s = np.random.default_rng(2).normal(1.0, np.sqrt(2.0), (100, 400))
    >>> fit = fp.thermo.detailed_ft(s)
    >>> fit.status, bool(abs(fit.slope - 1.0) < 3 * fit.slope_error)
    ('ok', True)
    """
    t0 = time.perf_counter()
    x = _samples(ds).ravel()
    x = x[np.isfinite(x)]
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ThermoError(f"bins must be a positive integer; got {bins!r}")
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ThermoError(f"min_count must be a positive integer; got {min_count!r}")
    neg = np.sort(-x[x < 0])
    if range_max is None:
        range_max = float(neg[-min(min_count, neg.size)]) if neg.size else 0.0
    elif not range_max > 0:
        raise ThermoError(f"range_max must be positive; got {range_max!r}")
    advice = (f"(need {MIN_BIN_PAIRS} with at least min_count={min_count} samples on both sides): use "
              "fewer bins, a lower min_count, shorter windows or more samples")
    empty = np.empty(0)
    if not range_max > 0:
        return DetailedFT(*(float("nan"),) * 5, empty, empty, empty, empty, empty, empty, "too few bin pairs",
                          f"no samples with Δs < 0, so no bin pairs {advice}", time.perf_counter() - t0)
    edges = np.linspace(0.0, range_max, bins + 1)
    n_pos = np.histogram(x[x > 0], edges)[0]
    n_neg = np.histogram(-x[x < 0], edges)[0]
    keep = (n_pos >= min_count) & (n_neg >= min_count)
    centres = 0.5 * (edges[1:] + edges[:-1])[keep]
    cp, cn = n_pos[keep].astype(float), n_neg[keep].astype(float)
    y = np.log(cp / cn)
    err = np.sqrt(1.0 / cp + 1.0 / cn)
    if keep.sum() < MIN_BIN_PAIRS:
        return DetailedFT(*(float("nan"),) * 5, centres, y, err, cp, cn, edges, "too few bin pairs",
                          f"only {int(keep.sum())} bin pairs populated {advice}", time.perf_counter() - t0)
    coef, cov, chi2 = _binomial_line(centres, cp, cn)
    cov = cov * max(chi2, 1.0)  # windows of one walker are correlated: widen by the observed scatter
    slope, slope_error = float(coef[0]), float(np.sqrt(cov[0, 0]))
    message = (f"fitted {int(keep.sum())} bin pairs (at least min_count={min_count} samples on both "
               f"sides): slope {slope:.4g} ± {slope_error:.2g}, reduced χ² {chi2:.3g}")
    return DetailedFT(slope, slope_error, float(coef[1]), float(np.sqrt(cov[1, 1])),
                      chi2, centres, y, err, cp, cn, edges, "ok", message, time.perf_counter() - t0)


def _binomial_line(x: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray, n_iter: int = 50):
    """Maximum-likelihood line ``ln(λ₊/λ₋) = a x + c`` for Poisson counts of bin pairs.

    Given ``n₊ + n₋``, ``n₊`` is binomial with ``logit π = a x + c``: a logistic regression
    solved by Newton's method (a least-squares fit weighted by the observed counts would be
    biased, the weights being correlated with the points).  Returns the coefficients, their
    covariance (inverse Fisher information) and Pearson's reduced χ².
    """
    X = np.stack([x, np.ones_like(x)], axis=1)
    N = n_pos + n_neg
    wts = 1.0 / (1.0 / n_pos + 1.0 / n_neg)
    coef = np.linalg.solve(X.T @ (X * wts[:, None]), X.T @ (wts * np.log(n_pos / n_neg)))
    for _ in range(n_iter):
        pi = 1.0 / (1.0 + np.exp(-(X @ coef)))
        info = X.T @ (X * (N * pi * (1 - pi))[:, None])
        step = np.linalg.solve(info, X.T @ (n_pos - N * pi))
        coef = coef + step
        if np.all(np.abs(step) <= 1e-12 * (1.0 + np.abs(coef))):
            break
    pi = 1.0 / (1.0 + np.exp(-(X @ coef)))
    var = N * pi * (1 - pi)
    cov = np.linalg.inv(X.T @ (X * var[:, None]))
    chi2 = float(np.sum((n_pos - N * pi) ** 2 / var) / max(len(x) - 2, 1))
    return coef, cov, chi2


# -- stochastic area -----------------------------------------------------------------------
def stochastic_area(trajectory, axes: tuple[int, int] = (0, 1), *, center: ArrayLike | None = None,
                    dt: float | None = None, epochs: bool = False) -> StochasticArea:
    """Mean areal velocity ``⟨½ (δ_i dδ_j − δ_j dδ_i)⟩ / dt`` with its standard error.

    For a stationary Gaussian state it equals the circulation ``Q_ij`` (SDE time): the
    measurable signature of the persistent current.  On discrete SGD steps it equals
    ``Q_ij`` built from the discrete-time covariance exactly.  (Midpoint and pre-point give the
    same area: the rule does not matter here.)

    Parameters
    ----------
    trajectory : Trajectory or ndarray (n_walkers, n_records, d)
        Recorded paths (an array needs ``dt``).
    axes : (i, j)
        The two coordinates of the plane.
    center : array (d,) or a state with a ``mean``, optional
        ``δ = w − center``; default the mean of the records.
    dt, epochs
        As for :func:`entropy_production`.

    Returns
    -------
    StochasticArea

    Raises
    ------
    ThermoError
        For bad ``axes`` or ``center``, or fewer than two records per walker.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> chain = fp.thermo.LinearChain(np.array([[0.95, 0.02], [-0.02, 0.95]]), 0.01 * np.eye(2))
    >>> area = fp.thermo.stochastic_area(chain.simulate(200, n_chains=100, rng=0), dt=1.0,
    ...                                  center=np.zeros(2))
    >>> area.axes, area.n_intervals
    ((0, 1), 20000)
    """
    t0 = time.perf_counter()
    records, times = _records(trajectory, dt, epochs)
    d = records.shape[2]
    try:
        i, j = (int(a) for a in axes)
    except (TypeError, ValueError):
        raise ThermoError(f"axes must be a pair of axis indices; got {axes!r}") from None
    if not (0 <= i < d and 0 <= j < d) or i == j:
        raise ThermoError(f"axes must be two different axes in [0, {d - 1}]; got {axes!r}")
    if records.shape[1] < 2:
        raise ThermoError("stochastic_area needs at least two records per walker")
    if center is None:
        finite = records[np.all(np.isfinite(records), axis=(1, 2))]
        mu = finite.reshape(-1, d).mean(axis=0)
    else:
        value = center if isinstance(center, (np.ndarray, list, tuple)) else getattr(center, "mean", center)
        mu = np.asarray(value, dtype=float).reshape(-1)
        if mu.shape != (d,):
            raise ThermoError(f"center must have shape ({d},); got {mu.shape}")
    step = float(times[1] - times[0])
    xi = records[:, :, i] - mu[i]
    xj = records[:, :, j] - mu[j]
    area = 0.5 * (xi[:, :-1] * np.diff(xj, axis=1) - xj[:, :-1] * np.diff(xi, axis=1)) / step
    value, err = mean_and_error(area)
    status, message = _area_status(area, err)
    return StochasticArea(value, err, (i, j), int(np.isfinite(area).sum()), status, message,
                          time.perf_counter() - t0)


def _area_status(area: np.ndarray, err: float) -> tuple[str, str]:
    """:attr:`StochasticArea.status` and ``message`` for the areal velocities (n_walkers, n)."""
    stopped = int((~np.all(np.isfinite(area), axis=1)).sum())
    problems = []
    if stopped:
        problems.append(f"{stopped} of {area.shape[0]} walkers have non-finite records (stopped chains) "
                        "and were left out; see the trajectory's message")
    if not np.isfinite(err):
        problems.append(f"no standard error: fewer than {MIN_WALKERS} walkers and too few records for "
                        f"{MIN_BATCHES} batch means; use more walkers or longer runs")
    status = "no error" if not np.isfinite(err) else "partial" if stopped else "completed"
    if not problems:
        source = "walker means" if area.shape[0] >= MIN_WALKERS else "batch means"
        return status, (f"{int(np.isfinite(area).sum())} recorded intervals of {area.shape[0]} walkers, "
                        f"all finite; standard error from {source}")
    return status, "; ".join(problems)


# -- relaxation ----------------------------------------------------------------------------
def _jumps(state):
    """Off-diagonal rates ``w_ab`` (a → b) of the grid generator with their reverse rates."""
    import scipy.sparse as sp

    L = sp.csc_matrix(state.operator.matrix)
    n = L.shape[0]
    out_rate = -L.diagonal()
    W = L - sp.diags(L.diagonal())
    W = sp.coo_matrix(W)
    W.sum_duplicates()
    keep = (W.data != 0) & (W.row != W.col)
    b, a, rate = W.row[keep], W.col[keep], W.data[keep]
    if np.abs(np.asarray(W.sum(axis=0)).ravel() - out_rate).max() > 1e-9 * max(out_rate.max(), TINY):
        raise ThermoError(
            "relaxation needs a generator that conserves probability (no absorbing walls): there is no "
            "stationary state to relax to")
    key = a.astype(np.int64) * n + b
    order = np.argsort(key)
    rkey = b.astype(np.int64) * n + a
    pos = np.searchsorted(key[order], rkey)
    pos = np.minimum(pos, len(key) - 1)
    found = key[order][pos] == rkey
    if not np.all(found):
        raise ThermoError("the grid generator has a jump without its reverse: the entropy production is infinite")
    return a, b, rate, rate[order][pos], L


def _stationary_vector(state, a, b, w_ab, L) -> tuple[np.ndarray, str, str]:
    """Cell probabilities of the generator's stationary vector, accurate in the far tails; what
    went wrong (empty unless the tail sweeps did not converge); and how the tails were rebuilt.

    A direct solve is accurate to round-off *of the largest value*: cells far out come back as
    zero or noise, and their logarithms would spoil the housekeeping/excess split.  Those
    cells (below ``TAIL_RTOL`` of the maximum) are rebuilt by symmetric Gauss--Seidel sweeps of
    the balance ``P_a Σ_b w_ab = Σ_b w_ba P_b``, which has no cancellation (all terms positive),
    so each cell ends accurate to round-off relative to itself; the bulk is kept.
    """
    P = np.asarray(state.discrete_density, dtype=float).ravel()
    P = np.maximum(P, 0.0) / max(P.sum(), TINY)
    n = P.size
    out_rate = np.bincount(a, weights=w_ab, minlength=n)
    tail = P < TAIL_RTOL * P.max()
    if not tail.any():
        return P, "", "no far tails to rebuild"
    from ._kernels import thermo as tk

    P = np.where(tail, 0.0, P)
    order = np.argsort(b, kind="stable")
    indptr = np.searchsorted(b[order], np.arange(n + 1)).astype(np.int64)
    sweeps = tk.balance_sweeps(indptr, a[order].astype(np.int64), np.ascontiguousarray(w_ab[order]),
                               out_rate, tail, P, TAIL_MAX_SWEEPS, TAIL_CONVERGED)
    problem = ""
    if sweeps > TAIL_MAX_SWEEPS:
        problem = (f"the stationary vector's far tails did not converge in {TAIL_MAX_SWEEPS} Gauss-Seidel "
                   f"sweeps; the housekeeping/excess split may carry that error in cells below "
                   f"{TAIL_RTOL:g} of the peak (a smaller box keeps the tails within range)")
        warnings.warn(problem, UserWarning, stacklevel=3)
    done = (f"far tails ({int(tail.sum())} cells below {TAIL_RTOL:g} of the peak) rebuilt in "
            f"{int(sweeps)} Gauss-Seidel sweeps")
    return np.maximum(P, TINY), problem, done


def relaxation(evolution, state) -> Relaxation:
    """Entropy balance of a relaxation on the grid (jump-process forms).

    Parameters
    ----------
    evolution : Evolution
        Densities of a time-independent problem on ``state.grid``.
    state : StationaryState
        The stationary state of the same problem; its generator and stationary vector
        (the discrete, not extrapolated, solution) give the rates.

    Returns
    -------
    Relaxation
        ``S``, ``dS/dt``, ``Σ_tot``, ``Q̇``, ``Σ_hk``, ``Σ_ex``, ``KL`` and ``dKL/dt`` at every time.

    Raises
    ------
    ThermoError
        If ``evolution`` or ``state`` has the wrong type, or they are on different grids.

    See Also
    --------
    fpsolve.plot.relaxation : Draws it.

    Examples
    --------
    A 2-D non-equilibrium Ornstein--Uhlenbeck process relaxing from a displaced Gaussian:
    the entropy balance closes at every time, and the housekeeping part tends to the
    stationary production.

    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid((-5.0, -5.0), (5.0, 5.0), (32, 32))
    >>> drift = lambda x: np.array([-x[0] - 1.5 * x[1], 0.5 * x[0] - x[1]])
    >>> problem = fp.FokkerPlanck(grid, drift=drift, diffusion=np.diag([0.5, 0.25]))
    >>> state = fp.stationary(problem, order=2)
    >>> p0 = lambda x: np.exp(-((x[0] - 1) ** 2 + x[1] ** 2) / 0.5) / (0.5 * np.pi)
    >>> r = fp.thermo.relaxation(fp.evolve(problem, p0, [0.0, 0.5, 8.0]), state)
    >>> bool(np.allclose(r.total, r.housekeeping + r.excess))
    True
    >>> bool(np.allclose(r.excess, -r.kl_rate, atol=1e-8))
    True
    >>> bool(r.kl[-1] < 1e-6 < r.kl[0])
    True
    """
    from .solve.evolve import Evolution
    from .solve.steady_state import StationaryState

    t0 = time.perf_counter()
    if not isinstance(evolution, Evolution):
        raise ThermoError(f"evolution must be an fpsolve.Evolution; got {type(evolution).__name__}")
    if not isinstance(state, StationaryState):
        raise ThermoError(f"state must be an fpsolve.StationaryState; got {type(state).__name__}")
    if evolution.grid != state.grid:
        raise ThermoError(f"evolution and state must be on the same grid; got {evolution.grid} and {state.grid}")
    a, b, w_ab, w_ba, L = _jumps(state)
    V = state.grid.cell_volume
    Pss, problem, tails = _stationary_vector(state, a, b, w_ab, L)
    log_w = np.log(w_ab / w_ba)
    log_pss = np.log(Pss)
    hk_log = log_w + log_pss[a] - log_pss[b]
    n_t = len(evolution.times)
    names = ("entropy", "entropy_rate", "total", "heat", "housekeeping", "excess", "kl", "kl_rate")
    out = {k: np.empty(n_t) for k in names}
    floored = np.empty(n_t, dtype=np.int64)
    for t, p in enumerate(np.asarray(evolution.densities, dtype=float).reshape(n_t, -1)):
        P = p * V
        floored[t] = int(np.count_nonzero(P < TINY))
        P = np.maximum(P, TINY)
        dP = L @ P
        flow = w_ab * P[a]
        log_P = np.log(P)
        log_p = log_P - np.log(V)
        lr = log_P[a] - log_P[b]
        out["entropy"][t] = -float(P @ log_p)
        out["entropy_rate"][t] = -float(dP @ log_p)
        out["total"][t] = float(flow @ (log_w + lr))
        out["heat"][t] = float(flow @ log_w)
        out["housekeeping"][t] = float(flow @ hk_log)
        out["excess"][t] = float(flow @ (lr + log_pss[b] - log_pss[a]))
        out["kl"][t] = float(P @ (log_P - log_pss))
        out["kl_rate"][t] = float(dP @ (log_P - log_pss))
    return Relaxation(np.asarray(evolution.times, dtype=float), **out, n_floored=floored,
                      status="tails not converged" if problem else "completed",
                      message=problem or f"entropy balance at {n_t} times; {tails}",
                      seconds=time.perf_counter() - t0)


__all__ = [
    "DetailedFT",
    "EntropyProduction",
    "IntegralFT",
    "LinearChain",
    "Relaxation",
    "StochasticArea",
    "ThermoError",
    "detailed_ft",
    "entropy_production",
    "integral_ft",
    "mean_and_error",
    "projected_state",
    "relaxation",
    "stochastic_area",
]
