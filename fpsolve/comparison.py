"""Distances between a solved density and samples (trajectories, SGD runs): ``fp.compare``.

(The module is ``comparison``, not ``compare``: a submodule named like the lazily exported
function would replace ``fp.compare`` by the module once anything imports it.)

``fp.compare(state, samples)`` bins the samples on the state's grid cells and reports total
variation, Kullback--Leibler divergences both ways, the Hellinger distance, mean and
covariance errors, and the total variation an exact sampler would show with that many
independent samples (the Monte-Carlo noise floor).  A histogram estimates cell *integrals*,
so the state enters through its cell probabilities (``state.cell_probabilities()``, the
integral of the density over each cell), not through its point values at the cell centres.
For a Gaussian state (a linearised ``GaussianState``) the comparison uses moments.

Chains of a trajectory that stopped (diverged, or met a diffusion that is not PSD, or were
absorbed) are not samples of the stationary state: they are excluded, counted in
``n_excluded_chains``, named first in ``summary()`` and reported with a
:class:`~fpsolve.DivergenceWarning`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import DivergenceWarning, InputError, InputTypeError

RESOLVED_FACTOR = 3.0  # a TV above 3 noise floors is a real difference, not sampling noise


@dataclass(frozen=True)
class Comparison:
    """How far samples are from a reference state.

    Attributes
    ----------
    method : str
        ``"histogram"`` (cells of the state's grid) or ``"moments"`` (Gaussian state).
    n_samples : int
        Samples binned (records of a trajectory, rows of an array).
    n_outside : int
        Samples outside the grid (counted as mass where the state has none).
    effective_sample_size : float
        Independent-sample equivalent (batch means, for a trajectory with records); equals
        ``n_samples`` for an array of samples, which is taken as independent.
    total_variation : float
        ``½ Σ |p_i − q_i|`` over cells (plus the mass outside), in ``[0, 1]``.
    kl_state_samples, kl_samples_state : float
        ``KL(p‖q)`` and ``KL(q‖p)`` of the cell probabilities; ``inf`` where the support of the
        first is not covered by the second (listed in ``notes``).
    hellinger : float
        ``(½ Σ (√p_i − √q_i)²)^{1/2}``, in ``[0, 1]``.
    mean_error : ndarray (d,)
        Sample mean minus state mean.
    covariance_error : float
        ``‖C_samples − C_state‖_F / ‖C_state‖_F``.
    tv_noise_floor : float
        Expected total variation between the state's cell distribution and the histogram of
        ``n_samples`` independent draws from it (exact, per cell from the binomial mean
        absolute deviation).
    tv_noise_floor_effective : float
        The same with the effective sample size in place of ``n_samples``.
    status : str
        The verdict: ``"resolved"`` when ``total_variation`` exceeds ``3 ×`` the effective noise
        floor (the samples differ from the state beyond sampling noise), ``"within noise"``
        otherwise; ``"moments"`` for a moment comparison (no noise floor to judge by).
    message : str
        Which chains were excluded and how many samples fell outside the grid, with what to do;
        when every sample was usable, the verdict in words (what was compared, against what
        noise floor).  Never empty.
    seconds : float
        Wall-clock time spent in :func:`~fpsolve.compare`.
    notes : tuple of str
        Excluded chains (first), infinite divergences, samples out of the grid, the source of
        the moments.
    n_excluded_chains : int
        Chains of a trajectory left out because they stopped before the end (diverged,
        diffusion not PSD, absorbed); their records and moments are not used.

    See Also
    --------
    fpsolve.compare : Computes it.
    """

    method: str
    n_samples: int
    n_outside: int
    effective_sample_size: float
    total_variation: float
    kl_state_samples: float
    kl_samples_state: float
    hellinger: float
    mean_error: np.ndarray
    covariance_error: float
    tv_noise_floor: float
    tv_noise_floor_effective: float
    status: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    n_excluded_chains: int = 0
    message: str = ""
    seconds: float = field(default=0.0, compare=False)

    def summary(self) -> str:
        """One line per measure (excluded chains first)."""
        lines = [self.notes[0]] if self.n_excluded_chains else []
        lines += [
            f"{self.method}: {self.n_samples} samples (effective {self.effective_sample_size:.4g}), "
            f"{self.n_outside} outside the grid",
            f"total variation {self.total_variation:.4g} (noise floor {self.tv_noise_floor:.3g}, "
            f"effective {self.tv_noise_floor_effective:.3g}) -> {self.status}",
            f"KL(state||samples) {self.kl_state_samples:.4g}, KL(samples||state) "
            f"{self.kl_samples_state:.4g}, Hellinger {self.hellinger:.4g}",
            f"mean error {np.array2string(self.mean_error, precision=4)}, relative covariance "
            f"error {self.covariance_error:.4g}",
        ]
        rest = self.notes[1:] if self.n_excluded_chains else self.notes
        return "\n".join(lines + list(rest))


def tv_noise_floor(p: np.ndarray, n: float) -> float:
    """Expected total variation of the histogram of ``n`` independent draws from ``p``.

    ``E TV = ½ Σ_i E|X_i/n − p_i|``, ``X_i ~ Binomial(n, p_i)``, with de Moivre's mean absolute
    deviation ``E|X − np| = 2 v C(n, v) p^v (1−p)^{n−v+1}``, ``v = ⌊np⌋ + 1`` (exact; a
    non-integer ``n``, e.g. an effective sample size, uses the Gamma function).
    """
    from scipy.special import gammaln

    p = np.asarray(p, dtype=float).ravel()
    p = p[(p > 0) & (p < 1)]
    if n <= 0 or not np.isfinite(n):
        return float("nan")
    v = np.floor(n * p) + 1.0
    v = np.minimum(v, n)
    log_mad = (np.log(2.0 * v) + gammaln(n + 1) - gammaln(v + 1) - gammaln(n - v + 1)
               + v * np.log(p) + (n - v + 1) * np.log1p(-p))
    return float(0.5 * np.sum(np.exp(log_mad)) / n)


def _kl(a: np.ndarray, b: np.ndarray) -> float:
    sel = a > 0
    if np.any(b[sel] <= 0):
        return float("inf")
    return float(np.sum(a[sel] * np.log(a[sel] / b[sel])))


def _gaussian_moments(state: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean and covariance of a Gaussian state; None for a state on a grid.

    Dispatch is on the type: a ``GaussianState`` has ``grid()`` and ``density(x)`` as
    *methods*, so duck typing on ``.grid``/``.density`` cannot tell it from a grid state.
    """
    from .solve.grid import Grid
    from .solve.gaussian import GaussianState

    if isinstance(state, GaussianState):
        return np.atleast_1d(np.asarray(state.mean, dtype=float)), np.atleast_2d(state.covariance)
    if isinstance(getattr(state, "grid", None), Grid):
        return None
    if not (hasattr(state, "mean") and hasattr(state, "covariance")):
        return None
    m = state.mean() if callable(state.mean) else state.mean
    C = state.covariance() if callable(state.covariance) else state.covariance
    return np.atleast_1d(np.asarray(m, dtype=float)), np.atleast_2d(np.asarray(C, dtype=float))


def _gaussian_kl(m0, C0, m1, C1) -> float:
    """KL(N(m0, C0) ‖ N(m1, C1))."""
    d = len(m0)
    C1inv = np.linalg.inv(C1)
    dm = m1 - m0
    sign0, logdet0 = np.linalg.slogdet(C0)
    sign1, logdet1 = np.linalg.slogdet(C1)
    if sign0 <= 0 or sign1 <= 0:
        return float("inf")
    return float(0.5 * (np.trace(C1inv @ C0) + dm @ C1inv @ dm - d + logdet1 - logdet0))


def _gaussian_hellinger(m0, C0, m1, C1) -> float:
    Cm = 0.5 * (C0 + C1)
    dm = m1 - m0
    s0, l0 = np.linalg.slogdet(C0)
    s1, l1 = np.linalg.slogdet(C1)
    sm, lm = np.linalg.slogdet(Cm)
    if min(s0, s1, sm) <= 0:
        return float("nan")
    bc = np.exp(0.25 * l0 + 0.25 * l1 - 0.5 * lm - 0.125 * dm @ np.linalg.solve(Cm, dm))
    return float(np.sqrt(max(0.0, 1.0 - bc)))


def _usable_chains(traj: Any, d: int) -> tuple[Any, int, str | None]:
    """The chains of ``traj`` that ran to the end, how many were excluded, and a note saying so."""
    if traj.ndim != d:
        raise InputError(f"samples must have {d} dimensions like the state; got a {traj.ndim}-D trajectory")
    ok = np.asarray(traj.chain_status) == 0
    n_bad = int((~ok).sum())
    if n_bad == 0:
        return traj, 0, None
    n = traj.n_chains
    reasons = []
    if traj.n_diverged:
        reasons.append(f"{traj.n_diverged} diverged")
    if traj.n_absorbed:
        reasons.append(f"{traj.n_absorbed} absorbed")
    first = int(np.asarray(traj.stop_step)[~ok].min())
    if not ok.any():
        raise InputError(
            f"samples: every chain of the run stopped before the end ({', '.join(reasons)} of {n}, "
            f"first at step {first}; {traj.message}); there is no sample of the stationary state to "
            "compare with (lower the learning rate or the time step, or enlarge the grid)"
        )
    note = (f"RUN STOPPED: {n_bad} of {n} chains excluded ({', '.join(reasons)}, first at step {first}); "
            f"the comparison uses the {int(ok.sum())} chains that ran to the end")
    return _ChainSubset(traj, ok), n_bad, note


class _ChainSubset:
    """The chains of a trajectory selected by a mask: records, ESS and streaming moments."""

    def __init__(self, traj: Any, keep: np.ndarray) -> None:
        from .simulate.trajectory import pooled_moments

        self.ndim = traj.ndim
        self.weights = None if traj.weights is None else traj.weights[keep]
        self.n_samples = int(np.sum(traj.count[keep]))
        total, self._mean, M2 = pooled_moments(traj.count[keep], traj.chain_mean[keep], traj.chain_m2[keep])
        self._cov = M2 / (total - 1) if total >= 2 else np.full((self.ndim, self.ndim), np.nan)

    def samples(self) -> np.ndarray:
        from .simulate.trajectory import recorded_samples

        return recorded_samples(self.weights, self.ndim)

    def effective_sample_size(self) -> float:
        from .simulate.trajectory import batch_means_ess

        return float("nan") if self.weights is None else batch_means_ess(self.weights)

    def mean(self) -> np.ndarray:
        return self._mean

    def covariance(self) -> np.ndarray:
        return self._cov


def _samples_of(samples: Any, d: int) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, str]:
    """Positions (n, d), effective sample size, mean and covariance, and where the moments came from."""
    if isinstance(samples, (_ChainSubset,)) or _is_trajectory(samples):
        x = samples.samples()  # raises without records
        ess = samples.effective_sample_size()
        if not np.isfinite(ess):
            ess = float(len(x))
        return x, ess, samples.mean(), samples.covariance(), "moments from every step after burn-in"
    if np.iscomplexobj(samples):
        raise InputError(f"samples must be real; got complex values of dtype {np.asarray(samples).dtype}")
    try:
        x = np.asarray(samples, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"samples must be an array of numbers (n, {d}) or a Trajectory; got "
                         f"{type(samples).__name__}") from exc
    if x.ndim == 1 and d == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != d:
        raise InputError(f"samples must have shape (n, {d}) or be a Trajectory; got shape {x.shape}")
    finite = np.all(np.isfinite(x), axis=1)
    if not finite.all():
        raise InputError(
            f"samples must be finite; got {int((~finite).sum())} rows with nan or inf (a diverged "
            "run? drop them explicitly if intended)"
        )
    if len(x) < 2:
        raise InputError(f"samples must hold at least 2 points; got {len(x)}")
    return x, float(len(x)), x.mean(axis=0), np.atleast_2d(np.cov(x.T)), "moments from the samples"


def _is_trajectory(obj: Any) -> bool:
    from .simulate.trajectory import Trajectory

    return isinstance(obj, Trajectory)


def _prepare(samples: Any, d: int) -> tuple[Any, int, list[str]]:
    """Trajectories lose their stopped chains (with a warning); arrays pass through."""
    if not _is_trajectory(samples):
        return samples, 0, []
    samples, n_bad, note = _usable_chains(samples, d)
    if note is None:
        return samples, 0, []
    warnings.warn(f"compare: {note}", DivergenceWarning, stacklevel=4)
    return samples, n_bad, [note]


def compare(state: Any, samples: ArrayLike | Any, *, bin_factor: int = 1) -> Comparison:
    """Compare samples with a state (a density on a grid, or a Gaussian).

    Parameters
    ----------
    state : StationaryState, GaussianState, or an object with a ``Grid`` and a density array
        A ``GaussianState`` (recognised by type) is compared by moments.  A state whose
        ``grid`` is a :class:`~fpsolve.Grid` and whose ``density`` is an array (point values at
        the cell centres) is compared by histogram against its cell probabilities
        (``cell_probabilities()`` where it has one, else ``density * cell_volume``).  Any other
        object with ``mean`` and ``covariance`` (attributes or methods) is compared by moments.
    samples : array_like (n, d) or Trajectory
        Points, taken as independent; or a trajectory, whose records are binned and whose
        moments come from its streaming statistics over every step after burn-in.  Correlated
        records count through their batch-means effective sample size.  Chains that stopped
        early are excluded with a :class:`~fpsolve.DivergenceWarning` (module docstring).
    bin_factor : int
        Merge ``bin_factor`` cells per axis into one bin (each axis's cell count must be a
        multiple), for fewer empty bins with few samples.

    Returns
    -------
    Comparison
        Total variation (with its sampling-noise floor and a status), KL divergences,
        Hellinger distance and moment errors.

    Raises
    ------
    InputError
        For samples that are not a real ``(n, d)`` array of at least 2 points or a trajectory
        of the state's dimension, a bad ``bin_factor``, or a state density of the wrong shape,
        not finite or without mass.
    InputTypeError
        For a state that is neither a density on a grid nor has a mean and a covariance.

    Warns
    -----
    DivergenceWarning
        Chains of the trajectory that stopped early were excluded.

    See Also
    --------
    fpsolve.simulate.langevin, fpsolve.simulate.sgd : Trajectories to compare.

    Examples
    --------
    Exact samples of the stationary law ``N(0, 0.5)`` are within sampling noise of the grid
    solution:

    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid(-4, 4, 64)
    >>> state = fp.stationary(fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5))
    >>> c = fp.compare(state, np.random.default_rng(0).normal(0, np.sqrt(0.5), (20000, 1)))
    >>> c.status, c.n_samples
    ('within noise', 20000)
    >>> bool(c.total_variation < 3 * c.tv_noise_floor)
    True
    """
    t0 = time.perf_counter()
    result = _compare(state, samples, bin_factor)
    return replace(result, seconds=time.perf_counter() - t0)


def _message(verdict: str, excluded: list[str], n_outside: int = 0, n: int = 0) -> str:
    """:attr:`Comparison.message`: the excluded chains and the samples outside the grid, with the
    fix; the ``verdict`` in words when every sample was usable."""
    problems = [f"{note}; see the trajectory's message (a smaller step avoids divergence)" for note in excluded]
    if n_outside:
        problems.append(f"{n_outside} of {n} samples lie outside the grid and count as mass where the "
                        "state has none: enlarge the grid to cover them")
    return "; ".join(problems) or verdict


def _compare(state: Any, samples: Any, bin_factor: int) -> Comparison:
    """:func:`compare` without the timing."""
    if isinstance(bin_factor, bool) or not isinstance(bin_factor, (int, np.integer)) or bin_factor < 1:
        raise InputError(f"bin_factor must be a whole number >= 1; got {bin_factor!r}")
    gaussian = _gaussian_moments(state)
    if gaussian is not None:
        samples, n_bad, excluded = _prepare(samples, len(gaussian[0]))
        return _compare_moments(*gaussian, samples, excluded, n_bad)
    from .solve.grid import Grid

    if not (isinstance(getattr(state, "grid", None), Grid) and isinstance(getattr(state, "density", None), np.ndarray)):
        raise InputTypeError(
            f"state must have grid and density (a StationaryState) or mean and covariance (a "
            f"Gaussian state); got {type(state).__name__}"
        )
    grid = state.grid
    d = grid.ndim
    if state.density.shape != grid.shape:
        raise InputError(f"state.density must have the grid's shape {grid.shape}; got {state.density.shape}")
    samples, n_bad, notes = _prepare(samples, d)
    excluded = list(notes)
    x, ess, mean_s, cov_s, source = _samples_of(samples, d)
    n = len(x)
    notes.append(source)

    p, q, n_outside = _binned(state, x, bin_factor)
    outside = n_outside / n
    tv, hellinger, kl_pq, kl_qp = _histogram_distances(p, q, outside)
    if not np.isfinite(kl_pq):
        notes.append(f"KL(state||samples) is inf: {int(np.sum((p > 0) & (q == 0)))} cells with "
                     "state mass hold no sample (try bin_factor or more samples)")
    if not np.isfinite(kl_qp):
        notes.append("KL(samples||state) is inf: samples fall where the state has no mass"
                     + (f" ({n_outside} outside the grid)" if n_outside else ""))
    if n_outside:
        notes.append(f"{n_outside} of {n} samples lie outside the grid")

    C = state.covariance()
    floor = tv_noise_floor(p, n)
    floor_eff = tv_noise_floor(p, ess)
    return Comparison(
        method="histogram",
        n_samples=n,
        n_outside=n_outside,
        effective_sample_size=ess,
        total_variation=tv,
        kl_state_samples=kl_pq,
        kl_samples_state=kl_qp,
        hellinger=hellinger,
        mean_error=np.asarray(mean_s - state.mean()),
        covariance_error=float(np.linalg.norm(cov_s - C) / np.linalg.norm(C)),
        tv_noise_floor=floor,
        tv_noise_floor_effective=floor_eff,
        status="resolved" if tv > RESOLVED_FACTOR * floor_eff else "within noise",
        notes=tuple(notes),
        n_excluded_chains=n_bad,
        message=_message(f"{n} samples (effective {ess:.4g}) on the state's cells: total variation "
                         f"{tv:.3g} against an effective noise floor {floor_eff:.3g}", excluded, n_outside, n),
    )


def _binned(state: Any, x: np.ndarray, bin_factor: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The state's bin probabilities ``p``, the samples' bin frequencies ``q`` (flat, on the
    state's cells merged ``bin_factor`` per axis; periodic axes wrap) and the count outside."""
    grid = state.grid
    d, n = grid.ndim, len(x)
    x = grid.wrap(x.T).T
    edges = [lo + h * np.arange(m + 1) for lo, h, m in zip(grid.lower, grid.spacing, grid.shape)]
    counts, _ = np.histogramdd(x, bins=edges)
    n_outside = n - int(counts.sum())
    p = _cell_probabilities(state)
    if bin_factor > 1:
        if any(m % bin_factor for m in grid.shape):
            raise InputError(
                f"bin_factor={bin_factor} must divide the number of cells on every axis; got "
                f"shape {grid.shape}"
            )
        new = tuple(m // bin_factor for m in grid.shape)
        split = tuple(v for m in new for v in (m, bin_factor))
        axes = tuple(range(1, 2 * d, 2))
        counts = counts.reshape(split).sum(axis=axes)
        p = p.reshape(split).sum(axis=axes)
    return p.ravel(), counts.ravel() / n, n_outside


def _histogram_distances(p: np.ndarray, q: np.ndarray, outside: float) -> tuple[float, float, float, float]:
    """Total variation, Hellinger distance, ``KL(p‖q)`` and ``KL(q‖p)``; ``outside`` is the
    samples' mass beyond the grid (where ``p`` is 0)."""
    tv = 0.5 * (float(np.abs(p - q).sum()) + outside)
    hellinger = float(np.sqrt(max(0.0, 0.5 * (np.sum((np.sqrt(p) - np.sqrt(q)) ** 2) + outside))))
    kl_pq = _kl(p, q)
    kl_qp = float("inf") if outside else _kl(q, p)
    return tv, hellinger, kl_pq, kl_qp


def _cell_probabilities(state: Any) -> np.ndarray:
    """Probability of every cell: ``state.cell_probabilities()`` where the state has it (cell
    integrals, what a histogram estimates), else ``density * cell_volume`` (the density taken
    as cell averages), normalised."""
    getter = getattr(state, "cell_probabilities", None)
    p = np.asarray(getter() if callable(getter) else state.density * state.grid.cell_volume, dtype=float)
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.sum() <= 0:
        raise InputError("state.density must be finite and non-negative with positive mass")
    return p / p.sum()


def _compare_moments(m: np.ndarray, C: np.ndarray, samples: Any, excluded: list[str] | None = None,
                     n_bad: int = 0) -> Comparison:
    d = len(m)
    if C.shape != (d, d):
        raise InputError(f"state covariance must have shape ({d}, {d}); got {C.shape}")
    if (_is_trajectory(samples) or isinstance(samples, _ChainSubset)) and samples.weights is None:
        if samples.ndim != d:
            raise InputError(f"samples must have {d} dimensions like the state; got a {samples.ndim}-D trajectory")
        x = np.empty((samples.n_samples, 0))
        ess, mean_s, cov_s = float("nan"), samples.mean(), samples.covariance()
        source = "moments from every step after burn-in"
    else:
        x, ess, mean_s, cov_s, source = _samples_of(samples, d)
    notes = list(excluded or []) + [source, "moment comparison: KL and Hellinger between N(state) and the Gaussian with "
             "the samples' mean and covariance; no histogram, no total variation"]
    return Comparison(
        method="moments",
        n_samples=len(x),
        n_outside=0,
        effective_sample_size=ess,
        total_variation=float("nan"),
        kl_state_samples=_gaussian_kl(m, C, mean_s, cov_s),
        kl_samples_state=_gaussian_kl(mean_s, cov_s, m, C),
        hellinger=_gaussian_hellinger(m, C, mean_s, cov_s),
        mean_error=np.asarray(mean_s - m),
        covariance_error=float(np.linalg.norm(cov_s - C) / np.linalg.norm(C)),
        tv_noise_floor=float("nan"),
        tv_noise_floor_effective=float("nan"),
        status="moments",
        notes=tuple(notes),
        n_excluded_chains=n_bad,
        message=_message(f"mean and covariance of {len(x)} samples ({source}) against the Gaussian state",
                         list(excluded or [])),
    )
