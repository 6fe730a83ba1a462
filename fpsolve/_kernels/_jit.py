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
