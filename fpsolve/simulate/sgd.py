"""Minibatch SGD, SGLD and SGWORLD trajectories of a model on its data (docs/theory.md §2, §6).

Every step draws a minibatch ``B`` with the SGD object's sampler and applies

.. math::  w ← w − η ∇L_B(w) + \\sqrt{2 η T}\\, ξ,   ∇L_B = (1/b) Σ_{i∈B} ∇ℓ_i,

with the per-sample loss ``ℓ_i`` of :class:`fpsolve.Landscape` (weight decay in every
``ℓ_i``), ``ξ ~ N(0, I)`` and ``T`` its temperature (``T = 0``: plain SGD; ``T > 0``:
SGLD with ``with_replacement``/``iid`` batches, SGWORLD ``without_replacement``).  One step
lasts ``dt = η`` in SDE time.  Chains run in parallel over threads, each with its own random
streams derived from ``(seed, chain)`` only.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._checks import scalar_float
from .._deprecate import renamed_keyword
from .._kernels.codes import (
    DIVERGED,
    NON_FINITE,
    PATH_CONSTANT,
    PATH_NAMES,
    PATH_POINT,
    PATH_TANH_NET,
    SAMPLER_CODES,
)
from ..errors import DivergenceWarning, InputError, InputTypeError, StabilityWarning
from ..landscape.landscape import Landscape
from ..landscape.models import LIKELIHOODS, GaussianMean, TanhNet
from ..landscape.schemes import SGD
from . import _driver as drv
from ._driver import MAX_RECORD_BYTES, RngLike, seed_from
from .trajectory import Trajectory

CHUNK_CHAIN_STEPS = 5_000_000  # chain-steps per kernel call (~1 s for the 7-parameter net)
DIVERGENCE_FACTOR = 1e6  # default bound: |w_i| beyond 10⁶ × max(1, |w0|∞) is no sample of a state near w0
STABILITY_LIMIT = 2.0  # the step w − η ∇L is unstable at a point where η λmax(∇²L) >= 2
_SPECIALISED = True  # the hand-written TanhNet loop (False: the general loop; tests pin the two)
MAX_STABILITY_POINTS = 8  # distinct starts whose Hessian the up-front stability check examines


def _model_path(model) -> tuple[int, bool]:
    """Kernel path (``PATH_TANH_NET``, ``PATH_CONSTANT`` or ``PATH_POINT``) and whether it is built in."""
    if not getattr(model, "builtin", False):
        return PATH_POINT, False
    if isinstance(model, TanhNet) and model.likelihood == "gaussian":
        return PATH_TANH_NET, True
    if isinstance(model, GaussianMean):
        return PATH_CONSTANT, True
    return PATH_POINT, True


def _check_inputs(landscape: Any, sgd: Any) -> None:
    if not isinstance(landscape, Landscape):
        raise InputTypeError(f"landscape must be an fpsolve.Landscape; got {type(landscape).__name__}")
    if not isinstance(sgd, SGD):
        raise InputTypeError(
            f"sgd must be an fpsolve.SGD (learning rate, batch size, sampler, temperature); "
            f"got {type(sgd).__name__}"
        )
    sgd.strategy.check(sgd, landscape)


@renamed_keyword("scheme", "sgd")
def sgd_batches(sgd: SGD, n_samples: int, n_steps: int, rng: RngLike, chain: int = 0) -> np.ndarray:
    """The minibatches that chain ``chain`` of :func:`sgd` draws with seed ``rng``.

    A testing and inspection hook: the batch streams are separate from the Langevin noise,
    so the batches do not depend on the model, the temperature or the number of chains.

    Parameters
    ----------
    sgd : SGD
        Its ``batch_size`` and ``scheme`` (sampler) are used (old keyword ``scheme=``: deprecated).
    n_samples : int
        N.
    n_steps : int
        Number of steps whose batches are returned.
    rng : int or numpy.random.Generator
        The run's seed (``Trajectory.seed``); a Generator draws one as :func:`sgd` would.
    chain : int
        Index of the chain.

    Returns
    -------
    ndarray (n_steps, batch_size) of int
        Row ``n - 1`` holds the sample indices of step ``n``.

    Raises
    ------
    InputTypeError
        If ``sgd`` is not an :class:`~fpsolve.SGD`.
    InputError
        For a batch size above ``n_samples`` (or not dividing it without replacement), or
        counts and seeds out of range.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> sgd = fp.SGD(learning_rate=1e-3, batch_size=5, scheme="without_replacement")
    >>> batches = fp.simulate.sgd_batches(sgd, n_samples=20, n_steps=4, rng=0)
    >>> batches.shape  # one epoch: 4 batches of 5
    (4, 5)
    >>> sorted(batches.ravel().tolist()) == list(range(20))  # a permutation of the data
    True
    """
    from .._kernels import sgd as sk

    if not isinstance(sgd, SGD):
        raise InputTypeError(f"sgd must be an fpsolve.SGD; got {type(sgd).__name__}")
    N = drv.check_count(n_samples, "n_samples", 1)
    b = sgd.batch_size
    if b > N:
        raise InputError(f"batch_size must be at most n_samples={N}; got {b}")
    if sgd.scheme == "without_replacement" and N % b:
        raise InputError(f"batch_size={b} must divide n_samples={N} for without_replacement")
    out = np.empty((drv.check_count(n_steps, "n_steps", 1), b), dtype=np.int64)
    sk.draw_batches(np.uint64(seed_from(rng)), drv.check_count(chain, "chain", 0), SAMPLER_CODES[sgd.scheme],
                    N, out)
    return out


@renamed_keyword("scheme", "sgd")
def sgd(
    landscape: Landscape,
    sgd: SGD,
    w0: ArrayLike,
    n_steps: int,
    n_chains: int | None = None,
    record_every: int | None = 1,
    burn_in: int = 0,
    rng: RngLike = None,
    *,
    epoch_record_every: int | None = 1,
    progress: bool | None = None,
    max_record_bytes: int = MAX_RECORD_BYTES,
    divergence_bound: float | None = None,
) -> Trajectory:
    """Run minibatch SGD (SGLD / SGWORLD when ``sgd.temperature > 0``) on a landscape.

    Parameters
    ----------
    landscape : Landscape
        Model, data and loss (docs/theory.md §6).
    sgd : SGD
        Learning rate η, batch size b, sampler (its ``scheme``) and temperature T (the old
        keyword ``scheme=`` for this argument still works, with a DeprecationWarning).  Samplers:
        ``"with_replacement"`` a fresh uniformly random subset of b distinct indices every
        step; ``"iid"`` b independent uniform indices; ``"without_replacement"`` a fresh random
        permutation per epoch, consumed in ``M = N / b`` consecutive batches (drawn when the
        epoch starts, so a run that stops inside an epoch simply stops there).
    w0 : array_like, shape (d,) or (n_chains, d)
        Start, for every chain or one row per chain.
    n_steps : int
        Every step, burn-in included.
    n_chains : int, optional
        Independent chains (default: the rows of ``w0``, or 1).
    record_every : int or None
        Record ``w`` after steps ``burn_in, burn_in + record_every, …`` (``w0`` itself when
        ``burn_in == 0``); ``0`` or ``None`` records nothing (``weights`` is None; the
        streaming ``mean()`` and ``covariance()`` still cover every step after burn-in).
    burn_in : int
        Steps excluded from the start of the records and from the streaming moments.
    rng : None, int or numpy.random.Generator
        An int is the seed itself; otherwise a seed is drawn (stored in ``Trajectory.seed``).
    epoch_record_every : int or None
        ``without_replacement`` only: record ``w`` at every ``epoch_record_every``-th epoch end
        (from the first at or after ``burn_in``) into ``epoch_weights``; 0 or None: none.
        Streaming epoch-end moments (``epoch_mean()``, ``epoch_covariance()``) are always kept.
    progress : bool, optional
        Show a tqdm bar (default: when stderr is a terminal).
    max_record_bytes : int
        Refuse record arrays larger than this (2 GiB by default).
    divergence_bound : float, optional
        A chain stops as diverged (``chain_status`` 4) at the first step where some ``|w_i|``
        exceeds this; default ``DIVERGENCE_FACTOR × max(1, max |w0|)`` (10⁶ times the scale of
        the start), so a run that blows up is reported tens of steps after it leaves, not at
        overflow.  ``inf`` stops chains only when ``w`` becomes non-finite.

    Warns
    -----
    StabilityWarning
        Before running, when ``η λmax(∇²L(w0)) >= 2`` at a start: the step is unstable there.

    Returns
    -------
    Trajectory
        ``method == "sgd"``, ``scheme`` the sampler, ``dt = η``; ``settings`` holds the
        landscape, the SGD object, ``algorithm`` ("SGD", "SGLD" or "SGWORLD") and N.  A chain
        whose weights become non-finite stops at that step (``stop_step``), is counted in
        ``n_diverged`` and makes ``status == "diverged"`` with a
        :class:`~fpsolve.DivergenceWarning`; its statistics keep the finite steps.

    See Also
    --------
    fpsolve.SGD.linearized : The Gaussian stationary state the chains approach near a minimum.
    fpsolve.SGD.fokker_planck : The scheme's Fokker--Planck problem over a few parameters.
    fpsolve.simulate.sgd_batches : The minibatches a chain draws.

    Notes
    -----
    Random streams (xoshiro256**, see ``fpsolve._kernels.sgd``): the Langevin normals of
    chain ``c`` are those of ``fp.simulate.standard_normals(seed, …)`` for walker ``c``, and
    its batches are those of :func:`sgd_batches`.  A chain's path depends on ``(seed, c)``
    only: not on the thread count, the number of chains or the chunking of the run.

    The built-in :class:`~fpsolve.models.TanhNet` runs through a hand-written gradient loop
    and the other built-ins through their point kernels (all cached on disk); a
    :class:`~fpsolve.models.CustomModel` kernel is compiled into the stepping loop once per
    process.

    Examples
    --------
    >>> import fpsolve as fp
    >>> x, y, w_min = fp.datasets.load_adhikari2023()
    >>> land = fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1, weight_decay=1e-3)
    >>> run = fp.simulate.sgd(land, fp.SGD(learning_rate=1e-7, batch_size=10), w_min,
    ...                       n_steps=100_000, record_every=1000, rng=0)
    >>> run.weights.shape, run.covariance().shape
    ((1, 101, 7), (7, 7))
    >>> run.status, run.settings["algorithm"], run.dt
    ('completed', 'SGD', 1e-07)
    """
    _check_inputs(landscape, sgd)
    n_steps, burn_in, record_every = drv.check_steps(n_steps, burn_in, record_every)
    epoch_record_every = (0 if epoch_record_every is None
                          else drv.check_count(epoch_record_every, "epoch_record_every", 0))
    d, N, b = landscape.n_params, landscape.n_samples, sgd.batch_size
    pos = drv.initial_positions(w0, n_chains, d, name="w0", count_name="n_chains", unit="chains",
                                extra_per_chain=8 * N)
    C = pos.shape[0]
    bound = _divergence_bound(divergence_bound, pos)
    _warn_unstable_start(landscape, sgd.learning_rate, pos)

    epochs = sgd.scheme == "without_replacement"
    M = N // b

    n_records = (n_steps - burn_in) // record_every + 1 if record_every else 0
    e0 = -(-burn_in // M) * M
    last = (n_steps // M) * M
    n_erec = (last - e0) // (epoch_record_every * M) + 1 if epochs and epoch_record_every and last >= e0 else 0
    drv.check_record_size(C, n_records + n_erec, d, record_every, max_record_bytes, "chains")
    seed = seed_from(rng)
    chains = _new_chains(pos, N, M, n_records, n_erec, seed)
    stepper = _SGDStepper(landscape, chains, burn_in, record_every, epoch_record_every, sgd, bound)
    seconds = drv.run_chunks(stepper.step, n_steps, max(1, CHUNK_CHAIN_STEPS // C), progress, sgd.name)
    return _result(landscape, sgd, chains, pos, bound, seed, seconds, n_steps, burn_in, record_every,
                   epoch_record_every, e0, n_erec)


class _SGDStepper:
    """Advances the chains: ``step(n0, n1)`` runs steps ``[n0, n1)`` of every chain, through the
    built-in model's kernel or the user's :class:`~fpsolve.models.CustomModel` kernel."""

    def __init__(self, landscape: Landscape, chains, burn_in: int, record_every: int,
                 epoch_record_every: int, sgd: SGD, bound: float):
        self.path, self.builtin = _model_path(landscape.model)
        self.kernel = None if self.builtin else landscape.model.kernel
        self.loss = _loss(landscape)
        self.chains = chains
        self.settings = (burn_in, record_every, epoch_record_every, float(sgd.learning_rate),
                         float(sgd.temperature), SAMPLER_CODES[sgd.scheme], sgd.batch_size, bound)

    def step(self, n0: int, n1: int) -> int:
        from .._kernels import sgd as sk

        run = sk.Run(n0, n1, *self.settings, _SPECIALISED)
        driver = sk.sgd_builtin if self.builtin else sk.sgd_point
        return driver(self.kernel, self.path, self.loss, self.chains, run)


def _result(landscape: Landscape, sgd: SGD, chains, pos: np.ndarray, bound: float, seed: int,
            seconds: float, n_steps: int, burn_in: int, record_every: int, epoch_record_every: int,
            e0: int, n_erec: int) -> Trajectory:
    """The run's status (divergence warned), settings and :class:`Trajectory`."""
    from .._kernels import stats as stats_kernels

    N, b = landscape.n_samples, sgd.batch_size
    C = pos.shape[0]
    eta, T = sgd.learning_rate, sgd.temperature
    epochs = sgd.scheme == "without_replacement"
    M = N // b
    path, _ = _model_path(landscape.model)
    m2, em2 = stats_kernels.mirror_upper(chains.m2), stats_kernels.mirror_upper(chains.em2)  # upper kept
    status, stop_step = chains.status, chains.stop_step
    status[(status == NON_FINITE) & np.all(np.isfinite(pos), axis=1)] = DIVERGED  # by the bound, still finite
    run_status, message = drv.summarise(status, stop_step, eta, n_steps)
    if (status == DIVERGED).any():
        message += f" (divergence_bound {bound:.3g})"
    if run_status == "diverged":
        warnings.warn(f"SGD diverged: {message}", DivergenceWarning, stacklevel=3)
    settings: dict[str, Any] = {
        "landscape": landscape, "sgd": sgd, "algorithm": sgd.name, "learning_rate": eta,
        "batch_size": b, "temperature": T, "n_samples": N,
        "model_path": PATH_NAMES[path],
        "divergence_bound": bound,
    }
    return drv.build_trajectory(
        chains.records,
        burn_in=burn_in,
        record_every=record_every,
        dt=eta,
        n_steps=n_steps,
        seed=seed,
        method="sgd",
        scheme=sgd.scheme,
        count=chains.count,
        chain_mean=chains.mean,
        chain_m2=m2,
        final=pos,
        chain_status=status,
        stop_step=stop_step,
        exit_wall=np.full(C, -1, dtype=np.int64),
        status=run_status,
        message=message,
        settings=settings,
        seconds=seconds,
        steps_per_epoch=M if epochs else None,
        epoch_weights=(chains.erecords if epoch_record_every else None) if epochs else None,
        epoch_steps=(e0 + epoch_record_every * M * np.arange(n_erec, dtype=np.int64)) if epochs else None,
        epoch_count=chains.ecount if epochs else None,
        epoch_chain_mean=chains.emean if epochs else None,
        epoch_chain_m2=em2 if epochs else None,
    )



def _new_chains(pos: np.ndarray, N: int, M: int, n_records: int, n_erec: int, seed: int):
    """The kernels' chain state for starts ``pos`` (C, d): seeded streams, identity index buffers,
    empty statistics, NaN records; every chain's first step starts an epoch."""
    from .._kernels import sgd as sk

    C, d = pos.shape
    rng_noise = np.empty((C, 4), dtype=np.uint64)
    rng_batch = np.empty((C, 4), dtype=np.uint64)
    perm = np.empty((C, N), dtype=np.int64)
    sk.seed_chains(np.uint64(seed), rng_noise, rng_batch, perm)
    return sk.Chains(
        pos, rng_noise, rng_batch, perm,
        np.full(C, M, dtype=np.int64),  # cursor
        np.zeros(C, dtype=np.int64), np.zeros((C, d)), np.zeros((C, d, d)),  # count, mean, m2
        np.zeros(C, dtype=np.int64), np.zeros((C, d)), np.zeros((C, d, d)),  # the same at epoch ends
        np.zeros(C, dtype=np.int64),  # status
        np.full(C, -1, dtype=np.int64),  # stop_step
        np.full((C, n_records, d), np.nan),  # records
        np.full((C, n_erec, d), np.nan),  # epoch records
    )


def _loss(landscape: Landscape):
    """The kernels' data and loss constants: likelihood code, noise variance, N, weight decay."""
    from .._kernels import sgd as sk

    model = landscape.model
    return sk.Loss(np.ascontiguousarray(landscape.x), np.ascontiguousarray(landscape.y),
                   np.ascontiguousarray(model.params, dtype=float), LIKELIHOODS[model.likelihood],
                   landscape.noise_std**2, float(landscape.n_samples), landscape.prior_precision)

def _divergence_bound(value: Any, pos: np.ndarray) -> float:
    """The bound passed to the kernel: finite (the largest float stands for "non-finite only")."""
    if value is None:
        return float(DIVERGENCE_FACTOR * max(1.0, float(np.abs(pos).max())))
    bound = scalar_float(value)
    if bound is None:
        raise InputError(f"divergence_bound must be a positive number or None; got {value!r}")
    if not bound > float(np.abs(pos).max()):
        raise InputError(
            f"divergence_bound must exceed the largest |w0| component ({float(np.abs(pos).max()):.3g}); "
            f"got {value!r}"
        )
    return min(bound, float(np.finfo(float).max))


def _warn_unstable_start(landscape: Landscape, eta: float, pos: np.ndarray) -> None:
    starts = np.unique(pos, axis=0)[:MAX_STABILITY_POINTS]
    for w in starts:
        H = np.atleast_2d(landscape.hessian(w))
        top = float(np.linalg.eigvalsh(0.5 * (H + H.T))[-1])
        if eta * top >= STABILITY_LIMIT:
            warnings.warn(
                f"learning_rate η = {eta:.6g} is beyond SGD's stability limit at w0 = "
                f"{np.array2string(w, precision=4)}: η λmax(∇²L) = {eta * top:.4g} >= {STABILITY_LIMIT:g} "
                f"(λmax = {top:.6g}; the limit is η < {STABILITY_LIMIT / top:.6g}); the run will "
                "diverge unless it leaves this region", StabilityWarning, stacklevel=3)
            return


__all__ = ["sgd", "sgd_batches"]
