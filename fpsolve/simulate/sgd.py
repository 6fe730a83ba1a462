"""Minibatch SGD, SGLD and SGWORLD trajectories of a model on its data (THEORY.md §2, §6).

Every step draws a minibatch ``B`` with the scheme's sampler and applies

.. math::  w ← w − η ∇L_B(w) + \\sqrt{2 η T}\\, ξ,   ∇L_B = (1/b) Σ_{i∈B} ∇ℓ_i,

with the per-sample loss ``ℓ_i`` of :class:`fpsolve.Landscape` (weight decay in every
``ℓ_i``), ``ξ ~ N(0, I)`` and ``T`` the scheme's temperature (``T = 0``: plain SGD; ``T > 0``:
SGLD with ``with_replacement``/``iid`` batches, SGWORLD ``without_replacement``).  One step
lasts ``dt = η`` in SDE time.  Chains run in parallel over threads, each with its own random
streams derived from ``(seed, chain)`` only.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import DivergenceWarning, InputError, InputTypeError, MemoryEstimateError, StabilityWarning
from ..landscape.landscape import Landscape
from ..landscape.models import LIKELIHOODS
from ..landscape.schemes import SGD
from .langevin import (MAX_RECORD_BYTES, RngLike, _count, _initial_positions, _run_chunks, _summarise,
                       seed_from)
from .trajectory import Trajectory

CHUNK_CHAIN_STEPS = 5_000_000  # chain-steps per kernel call (~1 s for the 7-parameter net)
SAMPLER_CODES = {"with_replacement": 0, "iid": 1, "without_replacement": 2}
DIVERGENCE_FACTOR = 1e6  # default bound: |w_i| beyond 10⁶ × max(1, |w0|∞) is no sample of a state near w0
STABILITY_LIMIT = 2.0  # the step w − η ∇L is unstable at a point where η λmax(∇²L) >= 2
MAX_STABILITY_POINTS = 8  # distinct starts whose Hessian the up-front stability check examines


def _model_path(model) -> tuple[int, bool]:
    """Kernel path (0 TanhNet loop, 1 Gaussian mean, 2 point kernel) and whether it is built in."""
    from .._kernels import models as mk
    from .._kernels import sgd as sk

    if not getattr(model, "builtin", False):
        return sk.PATH_POINT, False
    code = int(model.params[0])
    if code == mk.TANH_NET and model.likelihood == "gaussian" and model.input_dim == 1:
        return sk.PATH_TANH_NET, True
    if code == mk.CONSTANT:
        return sk.PATH_CONSTANT, True
    return sk.PATH_POINT, True


def _check_inputs(landscape: Any, scheme: Any) -> None:
    if not isinstance(landscape, Landscape):
        raise InputTypeError(f"landscape must be an fpsolve.Landscape; got {type(landscape).__name__}")
    if not isinstance(scheme, SGD):
        raise InputTypeError(
            f"scheme must be an fpsolve.SGD (learning rate, batch size, sampler, temperature); "
            f"got {type(scheme).__name__}"
        )
    scheme.strategy.check(scheme, landscape)


def sgd_batches(scheme: SGD, n_samples: int, n_steps: int, rng: RngLike, chain: int = 0) -> np.ndarray:
    """The minibatches that chain ``chain`` of :func:`sgd` draws with seed ``rng``.

    A testing and inspection hook: the batch streams are separate from the Langevin noise,
    so the batches do not depend on the model, the temperature or the number of chains.

    Parameters
    ----------
    scheme : SGD
        Its ``batch_size`` and ``scheme`` (sampler) are used.
    n_samples : int
        N.
    n_steps : int
    rng : int or numpy.random.Generator
        The run's seed (``Trajectory.seed``); a Generator draws one as :func:`sgd` would.
    chain : int

    Returns
    -------
    ndarray (n_steps, batch_size) of int
        Row ``n - 1`` holds the sample indices of step ``n``.
    """
    from .._kernels import sgd as sk

    if not isinstance(scheme, SGD):
        raise InputTypeError(f"scheme must be an fpsolve.SGD; got {type(scheme).__name__}")
    N = _count(n_samples, "n_samples", 1)
    b = scheme.batch_size
    if b > N:
        raise InputError(f"batch_size must be at most n_samples={N}; got {b}")
    if scheme.scheme == "without_replacement" and N % b:
        raise InputError(f"batch_size={b} must divide n_samples={N} for without_replacement")
    out = np.empty((_count(n_steps, "n_steps", 1), b), dtype=np.int64)
    sk.draw_batches(np.uint64(seed_from(rng)), _count(chain, "chain", 0), SAMPLER_CODES[scheme.scheme],
                    N, out)
    return out


def sgd(
    landscape: Landscape,
    scheme: SGD,
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
    """Run minibatch SGD (SGLD / SGWORLD when ``scheme.temperature > 0``) on a landscape.

    Parameters
    ----------
    landscape : Landscape
        Model, data and loss (THEORY.md §6).
    scheme : SGD
        Learning rate η, batch size b, sampler and temperature T.  Samplers:
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
    """
    from .._kernels import sgd as sk

    _check_inputs(landscape, scheme)
    n_steps = _count(n_steps, "n_steps", 1)
    burn_in = _count(burn_in, "burn_in", 0)
    if burn_in >= n_steps:
        raise InputError(f"burn_in must be smaller than n_steps={n_steps}; got {burn_in}")
    record_every = 0 if record_every is None else _count(record_every, "record_every", 0)
    epoch_record_every = 0 if epoch_record_every is None else _count(epoch_record_every,
                                                                     "epoch_record_every", 0)
    d, N, b = landscape.n_params, landscape.n_samples, scheme.batch_size
    try:
        pos = _initial_positions(w0, n_chains, d, extra_per_walker=8 * N)
    except MemoryEstimateError as exc:
        raise MemoryEstimateError(str(exc).replace("n_walkers", "n_chains").replace("walkers", "chains")) from None
    except ValueError as exc:
        raise InputError(str(exc).replace("x0", "w0").replace("n_walkers", "n_chains")) from None
    C = pos.shape[0]
    eta, T = scheme.learning_rate, scheme.temperature
    bound = _divergence_bound(divergence_bound, pos)
    _warn_unstable_start(landscape, eta, pos)

    sampler = SAMPLER_CODES[scheme.scheme]
    epochs = scheme.scheme == "without_replacement"
    M = N // b

    n_records = (n_steps - burn_in) // record_every + 1 if record_every else 0
    e0 = -(-burn_in // M) * M
    last = (n_steps // M) * M
    n_erec = (last - e0) // (epoch_record_every * M) + 1 if epochs and epoch_record_every and last >= e0 else 0
    nbytes = C * (n_records + n_erec) * d * 8
    if nbytes > max_record_bytes:
        raise InputError(
            f"record_every={record_every} would record {C} chains × {n_records + n_erec} records × {d} = "
            f"{nbytes / 1024**3:.1f} GiB (max_record_bytes={max_record_bytes}); record less often, "
            "or record_every=0 and use the streaming mean() and covariance()"
        )
    records = np.full((C, n_records, d), np.nan)
    erecords = np.full((C, n_erec, d), np.nan)

    seed = seed_from(rng)
    rng_noise = np.empty((C, 4), dtype=np.uint64)
    rng_batch = np.empty((C, 4), dtype=np.uint64)
    perm = np.empty((C, N), dtype=np.int64)
    sk.seed_chains(np.uint64(seed), rng_noise, rng_batch, perm)
    cursor = np.full(C, M, dtype=np.int64)  # the first step starts an epoch
    count, mean, m2 = np.zeros(C, dtype=np.int64), np.zeros((C, d)), np.zeros((C, d, d))
    ecount, emean, em2 = np.zeros(C, dtype=np.int64), np.zeros((C, d)), np.zeros((C, d, d))
    status = np.zeros(C, dtype=np.int64)
    stop_step = np.full(C, -1, dtype=np.int64)

    model = landscape.model
    path, builtin = _model_path(model)
    loss_args = (LIKELIHOODS[model.likelihood], landscape.noise_std**2, float(N), landscape.prior_precision)
    X = np.ascontiguousarray(landscape.x)
    Y = np.ascontiguousarray(landscape.y)
    params = np.ascontiguousarray(model.params, dtype=float)

    def advance(n0: int, n1: int) -> int:
        args = (path, params, X, Y, *loss_args, pos, rng_noise, rng_batch, perm, cursor,
                count, mean, m2, ecount, emean, em2, status, stop_step, records, erecords,
                n0, n1, burn_in, record_every, epoch_record_every, eta, T, sampler, b, bound)
        if builtin:
            return sk.sgd_builtin(*args)
        return sk.sgd_point(model.kernel, *args)

    seconds = _run_chunks(advance, n_steps, max(1, CHUNK_CHAIN_STEPS // C), progress, scheme.name)

    for arr in (m2, em2):  # the kernel accumulates the lower triangle
        arr += np.tril(arr, -1).transpose(0, 2, 1)
    status[(status == 1) & np.all(np.isfinite(pos), axis=1)] = 4  # stopped by the bound, still finite
    run_status, message = _summarise(status, stop_step, eta)
    if (status == 4).any():
        message += f" (divergence_bound {bound:.3g})"
    if run_status == "diverged":
        warnings.warn(f"SGD diverged: {message}", DivergenceWarning, stacklevel=2)
    settings: dict[str, Any] = {
        "landscape": landscape, "sgd": scheme, "algorithm": scheme.name, "learning_rate": eta,
        "batch_size": b, "temperature": T, "n_samples": N,
        "model_path": {0: "tanh_net", 1: "gaussian_mean", 2: "point_kernel"}[path],
        "divergence_bound": bound,
    }
    return Trajectory(
        weights=records if record_every else None,
        steps=burn_in + record_every * np.arange(n_records, dtype=np.int64),
        dt=eta,
        n_steps=n_steps,
        burn_in=burn_in,
        record_every=record_every,
        seed=seed,
        method="sgd",
        scheme=scheme.scheme,
        count=count,
        chain_mean=mean,
        chain_m2=m2,
        final=pos,
        chain_status=status,
        stop_step=stop_step,
        exit_wall=np.full(C, -1, dtype=np.int64),
        status=run_status,
        message=message,
        settings=settings,
        wall_seconds=seconds,
        steps_per_epoch=M if epochs else None,
        epoch_weights=(erecords if epoch_record_every else None) if epochs else None,
        epoch_steps=(e0 + epoch_record_every * M * np.arange(n_erec, dtype=np.int64)) if epochs else None,
        epoch_count=ecount if epochs else None,
        epoch_chain_mean=emean if epochs else None,
        epoch_chain_m2=em2 if epochs else None,
    )


def _divergence_bound(value: Any, pos: np.ndarray) -> float:
    """The bound passed to the kernel: finite (the largest float stands for "non-finite only")."""
    if value is None:
        return float(DIVERGENCE_FACTOR * max(1.0, float(np.abs(pos).max())))
    if isinstance(value, (bool, np.bool_, str, bytes)) or np.iscomplexobj(value) or not np.isscalar(value):
        raise InputError(f"divergence_bound must be a positive number or None; got {value!r}")
    try:
        bound = float(value)
    except (TypeError, ValueError):
        raise InputError(f"divergence_bound must be a positive number or None; got {value!r}") from None
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
