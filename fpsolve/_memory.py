"""Memory estimates made before allocating, so an impossible request fails with a clear message.

Each estimate is a lower bound: it counts the arrays a request must hold at once (fields on the
grid, the operator's non-zeros, walker state), not temporaries or factorisation fill.  A request
is refused when even that bound exceeds the memory the machine reports as available, so a
refusal is certain and an accepted request can still run short (NumPy then raises as before).
"""

from __future__ import annotations

import functools
import os

from .errors import MemoryEstimateError

FLOAT = 8  # bytes per float64 / int64 / uint64
GIB = 1024**3


def available_bytes() -> int | None:
    """Memory available to a new allocation: ``MemAvailable`` of /proc/meminfo, else the
    physical memory from ``sysconf``; None when neither can be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(nbytes: float, what: str, fix: str) -> None:
    """Raise :class:`~fpsolve.errors.MemoryEstimateError` when ``nbytes`` exceeds the available memory.

    ``what`` says which request and argument (``"a grid of 10^12 cells (grid.shape=...)"``);
    ``fix`` what to change.
    """
    avail = available_bytes()
    if avail is None or nbytes <= avail:
        return
    raise MemoryEstimateError(
        f"{what} needs at least {nbytes / GIB:.3g} GiB, more than the {avail / GIB:.3g} GiB available "
        f"on this machine; {fix}"
    )


def grid_field_bytes(size: int, ndim: int) -> int:
    """Mesh, drift and a diffusion tensor field on ``size`` cells (``FokkerPlanck``)."""
    return size * FLOAT * (2 * ndim + ndim * ndim)


def operator_bytes(size: int, ndim: int) -> int:
    """The sparse generator (``3^ndim``-point stencil: value and index per non-zero), its
    density and residual vectors (``stationary``, ``evolve``)."""
    return size * (3**ndim * (FLOAT + 4) + 4 * FLOAT)


def walker_bytes(n_walkers: int, ndim: int, extra_per_walker: int = 0) -> int:
    """Per-walker state of the trajectory engines: position, random state, streaming sums."""
    return n_walkers * (FLOAT * (3 * ndim + ndim * ndim + 8) + extra_per_walker)


# glibc's malloc hands large blocks back to the kernel when they are freed (munmap above its
# mmap threshold, trimming at the top of the heap), so every solve faults its working memory in
# afresh: on the 2-core development VM 2.5–10 µs per 4 KiB page, 13 000 faults and a third of the time of a 512²
# stationary solve (0.58 -> 0.38 s once the memory is kept).  These settings keep freed memory
# in the process for the next solve.
MMAP_THRESHOLD = 32 * 1024**2  # blocks above this are still mmapped (glibc's largest allowed value)
TRIM_THRESHOLD = 512 * 1024**2  # free memory kept at the top of the heap before it is returned
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (malloc.h)


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` (``MMAP_THRESHOLD``,
    ``TRIM_THRESHOLD``) once per process, so the arrays of one solve are reused by the next instead
    of being faulted in again.  Skipped (returns False) off glibc, when ``FPSOLVE_KEEP_MEMORY=0``,
    or when the user set ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` themselves."""
    done = False
    if (os.environ.get("FPSOLVE_KEEP_MEMORY", "1") != "0"
            and "MALLOC_MMAP_THRESHOLD_" not in os.environ and "MALLOC_TRIM_THRESHOLD_" not in os.environ):
        import ctypes
        import platform

        if platform.libc_ver()[0] == "glibc":
            try:
                libc = ctypes.CDLL(None)
                done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                    libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
            except (OSError, AttributeError):
                done = False
    return done
