"""The one place where numba options are set.

``cache=True`` keeps compiled kernels on disk so the second process starts fast;
``fastmath=False`` so that NaN and inf surface instead of being optimised away.
``jit_parallel`` is for the few kernels whose ``prange`` loops pay for threading;
``jit_parallel_uncached`` for kernels that receive a jitted function as an argument;
``jit_inline`` for small helpers inlined into a kernel's loop.
"""

from __future__ import annotations

from numba import njit

_OPTIONS = {"cache": True, "fastmath": False, "nogil": True}

jit = njit(**_OPTIONS)
jit_parallel = njit(parallel=True, **_OPTIONS)

# Small helpers called in the innermost loop of a kernel: inlined into the caller's Numba IR,
# so arrays passed to them cost nothing and the optimiser sees one loop body.
jit_inline = njit(inline="always", **_OPTIONS)

# For kernels that take another jitted function as an argument (a user's model or field):
# Numba cannot cache those on disk (a fresh process has a fresh dispatcher type, so each
# process would add a new cache entry), so they compile once per process, in memory.
_UNCACHED = dict(_OPTIONS, cache=False)
jit_parallel_uncached = njit(parallel=True, **_UNCACHED)
