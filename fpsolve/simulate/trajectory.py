"""Trajectory results: recorded weights, streaming moments and the settings of a run.

A :class:`Trajectory` is what every simulator returns (Langevin walkers, and minibatch SGD,
SGLD and SGWORLD chains): ``n_chains`` independent chains in ``d`` dimensions, optional
records of the weights, and per-chain streaming statistics (count, mean, M2) over *every* step after
burn-in, so the moments of a 10⁸-step run need no 10⁸ × d array.  Runs without replacement
also carry the same at epoch ends (the level at which docs/theory.md §2 analyses them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._kernels.codes import ABSORBED, DIVERGED_CODES, RUNNING
from ..errors import InputError

MIN_BATCHES = 4  # batch means need a few batches for a variance; fewer: no ESS estimate


def pooled_moments(count: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Combine per-chain Welford statistics (Chan, Golub & LeVeque's parallel formula).

    Parameters
    ----------
    count : ndarray (n_chains,)
    mean : ndarray (n_chains, d)
    m2 : ndarray (n_chains, d, d)
        Sum over each chain's samples of ``(x − mean)(x − mean)ᵀ``.

    Returns
    -------
    total, mean (d,), M2 (d, d) of all samples together.
    """
    count = np.asarray(count, dtype=float)
    total = float(count.sum())
    if total == 0:
        d = mean.shape[1]
        return 0, np.full(d, np.nan), np.full((d, d), np.nan)
    grand = (count[:, None] * mean).sum(axis=0) / total
    dev = mean - grand
    M2 = m2.sum(axis=0) + np.einsum("c,ci,cj->ij", count, dev, dev)
    return int(total), grand, M2


def recorded_samples(weights: np.ndarray | None, ndim: int) -> np.ndarray:
    """Records ``(n_chains, n_records, d)`` as one array ``(n, d)`` without the non-finite rows
    (those after a chain stopped); an :class:`~fpsolve.InputError` when there are none."""
    if weights is None:
        raise InputError(
            "this trajectory has no records (record_every=0); rerun with record_every >= 1 "
            "or use mean() and covariance()"
        )
    flat = weights.reshape(-1, ndim)
    return flat[np.all(np.isfinite(flat), axis=1)]


def batch_means_ess(records: np.ndarray) -> float:
    """Effective sample size of records ``(n_chains, n_records, d)`` by batch means.

    Each chain is cut into ``⌊√n_records⌋`` batches; per axis, ``ESS = n σ² / (b s²_batch)``
    (``b`` the batch length, ``s²_batch`` the variance of the batch means), summed over
    chains and the smallest over axes.  ``nan`` when the chains are too short.
    """
    n_chains, n_rec, d = records.shape
    n_batches = int(np.sqrt(n_rec))
    if n_batches < MIN_BATCHES:
        return float("nan")
    b = n_rec // n_batches
    x = records[:, : n_batches * b]
    var = x.var(axis=1)  # (n_chains, d)
    means = x.reshape(n_chains, n_batches, b, d).mean(axis=2)
    var_batch = means.var(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ess = np.where(var_batch > 0, n_batches * b * var / (b * var_batch), n_batches * b)
    ess = np.minimum(ess, n_batches * b)  # anticorrelated chains: do not claim more than n
    return float(np.nanmin(ess.sum(axis=0)))


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Chains of a stochastic process: records, streaming moments, settings and status.

    Times are SDE time (docs/theory.md §2): a step lasts ``dt`` (for SGD, ``dt`` is the learning
    rate).  Step ``n`` maps ``x_{n-1}`` to ``x_n``; ``n_steps`` counts every step, burn-in
    included.

    Attributes
    ----------
    weights : ndarray (n_chains, n_records, d) or None
        ``x`` after steps ``steps`` (``burn_in, burn_in + record_every, …``); ``None`` when
        recording was off.  Rows after a chain stopped are ``nan`` (see ``chain_status``).
    steps : ndarray (n_records,) of int
        The step of each record; ``times = steps * dt`` in SDE time.
    dt : float
        SDE time per step.
    n_steps, burn_in, record_every : int
        Settings (``record_every = 0``: no records).
    seed : int
        The seed of the random streams; ``rng=seed`` reproduces the run exactly.
    method : str
        The engine: ``"langevin"`` or ``"sgd"``.
    scheme : str
        The engine's option of that name in its own sense: for ``"langevin"`` the SDE
        integrator (``langevin(method=...)``: ``"euler_maruyama"`` or ``"heun"``, also
        :attr:`integrator`), for ``"sgd"`` the minibatch sampler (``SGD.scheme``, also
        :attr:`sampler`).
    count : ndarray (n_chains,)
        Steps after burn-in in each chain's statistics (fewer for chains that stopped).
    chain_mean, chain_m2 : ndarray (n_chains, d) and (n_chains, d, d)
        Per-chain count, mean and ``M2`` of ``x_n`` for every step ``n > burn_in`` (the kernels
        accumulate shifted sums and convert them; no array of all steps is kept).
    final : ndarray (n_chains, d)
        Position after the last step (the non-finite value for a diverged chain, the point
        beyond the wall for an absorbed one).
    chain_status : ndarray (n_chains,) of int
        0 ran to the end, 1 went non-finite, 2 absorbed, 3 diffusion not PSD, 4 grew beyond
        the divergence bound (SGD runs: ``|w_i| > settings["divergence_bound"]``).
    stop_step : ndarray (n_chains,) of int
        The step at which a chain stopped, -1 if it ran to the end.
    exit_wall : ndarray (n_chains,) of int
        ``2 * axis + side`` (side 0 lower, 1 upper) of the absorbing wall crossed, else -1.
    status : str
        ``"completed"``, or ``"diverged"`` when some chain went non-finite (or met a diffusion
        that is not PSD); ``message`` says how many and when.
    message : str
        How the chains stopped (how many, why, the first step and time), or, when every chain ran
        to the end, that they all did; never empty.
    settings : dict
        Everything else needed to interpret the run (grid, field kind, the engine's options).
    seconds : float
        Time spent in the kernels (compilation included on a first call); the timing name every
        result uses (``wall_seconds`` is its deprecated old name).
    steps_per_epoch : int or None
        ``M = N / b`` for minibatch runs without replacement (else None); the epoch fields
        below are set only then.
    epoch_weights : ndarray (n_chains, n_epoch_records, d) or None
        ``x`` at the epoch ends ``epoch_steps`` (multiples of ``M``, from the first one at or
        after ``burn_in``); ``None`` when epoch recording was off.
    epoch_steps : ndarray (n_epoch_records,) of int or None
    epoch_count, epoch_chain_mean, epoch_chain_m2 : ndarray or None
        Welford statistics of ``x`` at every epoch end ``n = k M > burn_in``
        (shapes as ``count``, ``chain_mean``, ``chain_m2``).

    See Also
    --------
    fpsolve.simulate.langevin, fpsolve.simulate.sgd : Produce it.
    fpsolve.compare : Compares it with a state on a grid or a Gaussian.

    Examples
    --------
    >>> import fpsolve as fp
    >>> grid = fp.Grid(-4, 4, 64)
    >>> problem = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5)
    >>> run = fp.simulate.langevin(problem, 0.0, dt=0.01, n_steps=400, n_walkers=20,
    ...                            record_every=100, rng=3)
    >>> run.n_chains, run.ndim, run.steps.tolist(), run.status
    (20, 1, [0, 100, 200, 300, 400], 'completed')
    >>> run.samples().shape  # every record of every chain, x0 included
    (100, 1)
    """

    weights: np.ndarray | None
    steps: np.ndarray
    dt: float
    n_steps: int
    burn_in: int
    record_every: int
    seed: int
    method: str
    scheme: str
    count: np.ndarray
    chain_mean: np.ndarray
    chain_m2: np.ndarray
    final: np.ndarray
    chain_status: np.ndarray
    stop_step: np.ndarray
    exit_wall: np.ndarray
    status: str = "completed"
    message: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    steps_per_epoch: int | None = None
    epoch_weights: np.ndarray | None = None
    epoch_steps: np.ndarray | None = None
    epoch_count: np.ndarray | None = None
    epoch_chain_mean: np.ndarray | None = None
    epoch_chain_m2: np.ndarray | None = None

    @property
    def wall_seconds(self) -> float:
        """Deprecated name of :attr:`seconds`."""
        import warnings

        warnings.warn("Trajectory.wall_seconds is deprecated: use Trajectory.seconds", DeprecationWarning,
                      stacklevel=2)
        return self.seconds

    # -- what ran -------------------------------------------------------------------------
    @property
    def integrator(self) -> str | None:
        """The SDE integrator of a Langevin run (``"euler_maruyama"``, ``"heun"``), else None."""
        return self.scheme if self.method == "langevin" else None

    @property
    def sampler(self) -> str | None:
        """The minibatch sampler of an SGD run (``SGD.scheme``), else None."""
        return self.scheme if self.method == "sgd" else None

    # -- shape ----------------------------------------------------------------------------
    # (same shape as EntropyProduction.n_walkers/n_windows in thermo.py: other arrays' axes)
    @property
    def n_chains(self) -> int:
        """Number of independent chains (walkers)."""
        return int(self.final.shape[0])

    @property
    def ndim(self) -> int:
        """Dimension ``d`` of the weights."""
        return int(self.final.shape[1])

    @property
    def n_records(self) -> int:
        """Records per chain (0 when recording was off)."""
        return 0 if self.weights is None else int(self.weights.shape[1])

    @property
    def times(self) -> np.ndarray:
        """SDE times of the records, ``steps * dt``."""
        return self.steps * self.dt

    @property
    def n_diverged(self) -> int:
        """Chains stopped by a non-finite position, a position beyond the divergence bound (SGD),
        or a diffusion that is not PSD."""
        return int(np.isin(self.chain_status, DIVERGED_CODES).sum())

    @property
    def n_absorbed(self) -> int:
        """Chains that left through an absorbing wall."""
        return int(np.sum(self.chain_status == ABSORBED))

    @property
    def exit_times(self) -> np.ndarray:
        """SDE time at which each chain was absorbed (``nan`` for the others), shape (n_chains,)."""
        return np.where(self.chain_status == ABSORBED, self.stop_step * self.dt, np.nan)

    # -- statistics -----------------------------------------------------------------------
    def _pooled(self) -> tuple[int, np.ndarray, np.ndarray]:
        return pooled_moments(self.count, self.chain_mean, self.chain_m2)

    @property
    def n_samples(self) -> int:
        """Steps after burn-in in the streaming statistics, all chains together."""
        return int(np.sum(self.count))

    def mean(self) -> np.ndarray:
        """Mean of ``x_n`` over every step after burn-in and every chain, shape (d,)."""
        return self._pooled()[1]

    def covariance(self) -> np.ndarray:
        """Covariance (``1/(N−1)``) of ``x_n`` over every step after burn-in, shape (d, d)."""
        return self._covariance(*self._pooled())

    def _covariance(self, total: int, mean: np.ndarray, M2: np.ndarray) -> np.ndarray:
        """``M2 / (total − 1)`` from pooled moments; NaN below two samples."""
        if total < 2:
            return np.full((self.ndim, self.ndim), np.nan)
        return M2 / (total - 1)

    # -- epoch level (minibatch runs without replacement) ---------------------------------
    def _epoch_pooled(self) -> tuple[int, np.ndarray, np.ndarray]:
        if self.epoch_count is None:
            raise InputError(
                "this trajectory has no epoch statistics: they exist for minibatch runs with "
                "scheme='without_replacement' only"
            )
        return pooled_moments(self.epoch_count, self.epoch_chain_mean, self.epoch_chain_m2)

    @property
    def epoch_times(self) -> np.ndarray | None:
        """SDE times of the epoch records, ``epoch_steps * dt`` (None without them)."""
        return None if self.epoch_steps is None else self.epoch_steps * self.dt

    def epoch_mean(self) -> np.ndarray:
        """Mean of ``x`` at every epoch end after burn-in, all chains, shape (d,)."""
        return self._epoch_pooled()[1]

    def epoch_covariance(self) -> np.ndarray:
        """Covariance (``1/(N−1)``) of ``x`` at every epoch end after burn-in, shape (d, d)."""
        return self._covariance(*self._epoch_pooled())

    def samples(self) -> np.ndarray:
        """Recorded positions of all chains as one array ``(n, d)``, rows after a stop dropped.

        Raises if recording was off (``record_every=0``).
        """
        return recorded_samples(self.weights, self.ndim)

    def effective_sample_size(self) -> float:
        """Effective number of independent records, by batch means over each chain.

        ``nan`` without records, with stopped chains, or with fewer than 16 records per chain.
        """
        if self.weights is None or np.any(self.chain_status != RUNNING):
            return float("nan")
        return batch_means_ess(self.weights)

    def __repr__(self) -> str:
        rec = "no records" if self.weights is None else f"{self.n_records} records"
        return (
            f"Trajectory({self.method}/{self.scheme}, {self.n_chains} chains × {self.n_steps} steps "
            f"(burn-in {self.burn_in}), dt={self.dt:g}, {rec}, seed={self.seed}, "
            f"status={self.status!r})"
        )
