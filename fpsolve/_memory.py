"""Memory estimates made before allocating, so an impossible request fails with a clear message.

Each estimate is a lower bound: it counts the arrays a request must hold at once (fields on the
grid, the operator's non-zeros, walker state), not temporaries or factorisation fill.  A request
is refused when even that bound exceeds the memory the machine reports as available, so a
refusal is certain and an accepted request can still run short (NumPy then raises as before).
"""

from __future__ import annotations

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
