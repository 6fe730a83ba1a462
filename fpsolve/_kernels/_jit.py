"""The one place where numba options are set.

``cache=True`` keeps compiled kernels on disk so the second process starts fast;
``fastmath=False`` so that NaN and inf surface instead of being optimised away.
``jit_parallel`` is for the few kernels whose ``prange`` loops pay for threading.
"""

from __future__ import annotations

from numba import njit

_OPTIONS = {"cache": True, "fastmath": False, "nogil": True}

jit = njit(**_OPTIONS)
jit_parallel = njit(parallel=True, **_OPTIONS)
# Small helpers called in the innermost loop of a kernel: inlined into the caller's Numba IR,
# so arrays passed to them cost nothing and the optimiser sees one loop body.
jit_inline = njit(inline="always", **_OPTIONS)

# Kernels that take user functions as arguments specialise on each function's type, which the
# disk cache can never hit again (a fresh process has a fresh dispatcher): compile in memory.
jit_parallel_uncached = njit(parallel=True, **{**_OPTIONS, "cache": False})
