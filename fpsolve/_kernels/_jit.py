"""The one place where numba options are set.

``cache=True`` keeps compiled kernels on disk so the second process starts fast;
``fastmath=False`` so that NaN and inf surface instead of being optimised away.
``jit_parallel`` is for the few kernels whose ``prange`` loops pay for threading;
``jit_parallel_uncached`` for kernels that receive a jitted function as an argument;
``jit_inline`` for small helpers inlined into a kernel's loop; ``jit_reduce`` for sums over
samples that may be reassociated; ``serial_and_parallel`` for a
kernel built both ways; ``with_constants`` for a variant of a kernel with some globals fixed.
"""

from __future__ import annotations

import types

from numba import njit

_OPTIONS = {"cache": True, "fastmath": False, "nogil": True}

jit = njit(**_OPTIONS)
jit_parallel = njit(parallel=True, **_OPTIONS)

# Small helpers called in the innermost loop of a kernel: inlined into the caller's Numba IR,
# so arrays passed to them cost nothing and the optimiser sees one loop body.
jit_inline = njit(inline="always", **_OPTIONS)

# Reductions (sums over samples, GMRES's dot products) that may be reassociated, so that they vectorise: the
# accumulated rounding error is that of any order of summing the terms.  NaN and inf keep their
# IEEE meaning (no ``nnan``/``ninf`` flags), so non-finite fields still surface.
jit_reduce = njit(**dict(_OPTIONS, fastmath={"reassoc", "contract"}))

# For kernels that take another jitted function as an argument (a user's model or field):
# Numba cannot cache those on disk (a fresh process has a fresh dispatcher type, so each
# process would add a new cache entry), so they compile once per process, in memory.
_UNCACHED = dict(_OPTIONS, cache=False)
jit_parallel_uncached = njit(parallel=True, **_UNCACHED)


def with_constants(function, suffix: str, **constants):
    """A copy of the Python ``function`` that sees ``constants`` in place of the module globals of
    those names, named with ``suffix``.  Numba freezes globals into the compiled code, so a
    ``False`` flag there removes the branches it guards (and a helper named in ``constants`` is
    inlined instead of the module's); the new name gives the copy its own disk-cache entry, as in
    :func:`serial_and_parallel`.  Made after the module's last definition: the copy's globals are
    a snapshot of the module's."""
    names = dict(function.__globals__, **constants)
    twin = types.FunctionType(function.__code__, names, function.__name__ + suffix, function.__defaults__,
                              function.__closure__)
    twin.__qualname__ = function.__qualname__ + suffix
    twin.__doc__ = function.__doc__
    twin.__module__ = function.__module__
    return twin


def serial_and_parallel(function):
    """One Python kernel compiled twice: without threads (small inputs) and with ``prange``.

    Numba names a kernel's disk cache after the function's qualified name and first line, not
    after its options, so two dispatchers of one function would share a cache entry and a fresh
    process would load whichever variant was compiled first for both. The parallel twin is
    therefore compiled from a copy of the function whose name ends in ``_parallel``.
    """
    twin = types.FunctionType(function.__code__, function.__globals__,
                              function.__name__ + "_parallel", function.__defaults__,
                              function.__closure__)
    twin.__qualname__ = function.__qualname__ + "_parallel"
    twin.__doc__ = function.__doc__
    twin.__module__ = function.__module__
    return jit(function), jit_parallel(twin)
