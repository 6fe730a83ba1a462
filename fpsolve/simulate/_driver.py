"""What the trajectory engines share: argument checks, record sizes, the chunk loop, summaries.

:func:`~fpsolve.simulate.langevin` and :func:`~fpsolve.simulate.sgd` both check their counts
and starts here (each check takes the argument's name, so every message names what the user
typed), size their records, advance their kernels over the run in chunks with an optional
progress bar, and describe how their chains stopped.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Union

import numpy as np
from numpy.typing import ArrayLike

from .._kernels.codes import DIVERGED_CODES, STATUS_NAMES, SUMMARY_ORDER
from ..errors import InputError, InputTypeError
from .trajectory import Trajectory

RngLike = Union[None, int, np.integer, np.random.Generator]
MAX_RECORD_BYTES = 2 * 1024**3  # refuse record arrays above this unless asked


def seed_from(rng: RngLike) -> int:
    """The integer seed a run uses: ``rng`` itself if an int, else drawn from it (or fresh)."""
    if rng is None:
        return int(np.random.default_rng().integers(0, 2**63))
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**63))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if not 0 <= int(rng) < 2**64:
            raise InputError(f"rng must be a seed between 0 and 2**64 - 1; got {rng}")
        return int(rng)
    raise InputTypeError(f"rng must be None, an int seed or a numpy.random.Generator; got {type(rng).__name__}")


def check_count(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int, or an :class:`~fpsolve.InputError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if not (isinstance(value, float) and value.is_integer()):
            raise InputError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    if int(value) < minimum:
        raise InputError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    return int(value)


def check_steps(n_steps: Any, burn_in: Any, record_every: Any) -> tuple[int, int, int]:
    """``n_steps >= 1``, ``0 <= burn_in < n_steps`` and ``record_every >= 0`` (None: 0)."""
    n_steps = check_count(n_steps, "n_steps", 1)
    burn_in = check_count(burn_in, "burn_in", 0)
    if burn_in >= n_steps:
        raise InputError(f"burn_in must be smaller than n_steps={n_steps}; got {burn_in}")
    record_every = 0 if record_every is None else check_count(record_every, "record_every", 0)
    return n_steps, burn_in, record_every


def initial_positions(x0: ArrayLike, n_chains: int | None, d: int, *, name: str = "x0",
                      count_name: str = "n_walkers", unit: str = "walkers",
                      extra_per_chain: int = 0) -> np.ndarray:
    """The ``(n_chains, d)`` start array from one point or one row per chain.

    ``name`` and ``count_name`` are the engine's names for the start and the chain count
    (``x0``/``n_walkers`` or ``w0``/``n_chains``), ``unit`` its word for a chain;
    ``extra_per_chain`` bytes of per-chain state go into the memory estimate.
    """
    if np.iscomplexobj(x0):
        raise InputError(f"{name} must be real; got complex values {x0!r}")
    try:
        arr = np.asarray(x0, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be an array of numbers of shape ({d},) or ({count_name}, {d}); "
                         f"got {x0!r}") from None
    if n_chains is not None:
        from .._memory import check_memory, walker_bytes

        check_memory(walker_bytes(check_count(n_chains, count_name, 1), d, extra_per_chain),
                     f"{n_chains} {unit} in {d} dimensions ({count_name})", f"use fewer {unit}")
    if arr.ndim == 0 and d == 1:
        arr = arr.reshape(1)
    if arr.ndim == 1 and d == 1 and arr.shape[0] != 1 and n_chains in (None, arr.shape[0]):
        arr = arr[:, None]
    if arr.shape == (d,):
        n = 1 if n_chains is None else check_count(n_chains, count_name, 1)
        arr = np.broadcast_to(arr, (n, d))
    elif arr.ndim == 2 and arr.shape[1] == d:
        if n_chains is not None and check_count(n_chains, count_name, 1) != arr.shape[0]:
            raise InputError(
                f"{count_name}={n_chains} does not match {name} with {arr.shape[0]} rows; give one or "
                "the other"
            )
    else:
        raise InputError(f"{name} must have shape ({d},) or ({count_name}, {d}); got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite; got non-finite entries")
    return np.ascontiguousarray(arr, dtype=float).copy()


def check_record_size(n_chains: int, n_records: int, d: int, record_every: int,
                      max_record_bytes: int, unit: str) -> None:
    """Refuse records of ``n_chains × n_records × d`` floats above ``max_record_bytes``."""
    nbytes = n_chains * n_records * d * 8
    if nbytes > max_record_bytes:
        raise InputError(
            f"record_every={record_every} would record {n_chains} {unit} × {n_records} records × {d} = "
            f"{nbytes / 1024**3:.1f} GiB (max_record_bytes={max_record_bytes}); record less often, "
            "or record_every=0 and use the streaming mean() and covariance()"
        )


def progress_bar(total: int, enabled: bool | None, desc: str):
    """A tqdm bar when asked (default: when stderr is a terminal), else None."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, unit="step", desc=desc)


def run_chunks(advance: Callable[[int, int], Any], n_steps: int, chunk: int, progress: bool | None,
               desc: str) -> float:
    """Call ``advance(n0, n1)`` over ``[0, n_steps)`` in chunks of ``chunk`` steps, with a
    progress bar for long runs in a terminal; returns the seconds spent."""
    bar = progress_bar(n_steps, progress, desc) if n_steps > chunk else None
    t0 = time.perf_counter()
    n = 0
    try:
        while n < n_steps:
            n1 = min(n_steps, n + chunk)
            advance(n, n1)
            if bar is not None:
                bar.update(n1 - n)
            n = n1
    finally:
        if bar is not None:
            bar.close()
    return time.perf_counter() - t0


def summarise(status: np.ndarray, stop_step: np.ndarray, dt: float, n_steps: int) -> tuple[str, str]:
    """The run's status (``"diverged"`` or ``"completed"``) and its message: how chains stopped,
    or that every chain ran all ``n_steps`` steps (a message is never empty)."""
    parts = []
    for code in SUMMARY_ORDER:
        sel = status == code
        if sel.any():
            first = int(stop_step[sel].min())
            parts.append(
                f"{int(sel.sum())} of {len(status)} chains stopped: {STATUS_NAMES[code]} "
                f"(first at step {first}, t={first * dt:g})"
            )
    diverged = np.isin(status, DIVERGED_CODES)
    message = "; ".join(parts) if parts else f"all {len(status)} chains ran the {n_steps} steps"
    return ("diverged" if diverged.any() else "completed"), message


def build_trajectory(records: np.ndarray, *, burn_in: int, record_every: int, **fields: Any) -> Trajectory:
    """The :class:`~fpsolve.simulate.Trajectory` of a run: ``weights`` the records (None when
    ``record_every == 0``), ``steps`` their steps, every other field as given."""
    return Trajectory(
        weights=records if record_every else None,
        steps=burn_in + record_every * np.arange(records.shape[1], dtype=np.int64),
        burn_in=burn_in,
        record_every=record_every,
        **fields,
    )
