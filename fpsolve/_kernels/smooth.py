"""Gauss-Seidel sweeps on CSR matrices (multigrid smoothers) and the multigrid transfers, one axis at a time."""

from __future__ import annotations

import numpy as np

from numba import prange

from ._jit import jit, jit_reduce, serial_and_parallel


@jit
def gauss_seidel_forward(indptr, indices, data, inv_diag, x, b):
    """One forward sweep for ``A x = b`` in place (``A`` in CSR, ``inv_diag = 1 / diag(A)``)."""
    for i in range(x.shape[0]):
        s = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            s -= data[k] * x[indices[k]]
        x[i] += s * inv_diag[i]


@jit
def gauss_seidel_backward(indptr, indices, data, inv_diag, x, b):
    """One backward sweep for ``A x = b`` in place."""
    for i in range(x.shape[0] - 1, -1, -1):
        s = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            s -= data[k] * x[indices[k]]
        x[i] += s * inv_diag[i]


@jit
def ilu0_factor(indptr, indices, data, diag_pos):
    """Incomplete LU with no fill (ILU(0)) of a CSR matrix with sorted column indices.

    Returns the factor values on the sparsity pattern of ``A``: strictly below the diagonal
    the unit-lower ``L``, on and above it ``U``.  ``diag_pos[i]`` is the index of ``A[i, i]``
    in ``data``.  No pivoting: meant for M-matrices, whose ILU(0) pivots are positive.
    """
    n = indptr.shape[0] - 1
    lu = data.copy()
    where = -np.ones(n, dtype=np.int64)
    for i in range(n):
        for k in range(indptr[i], indptr[i + 1]):
            where[indices[k]] = k
        for k in range(indptr[i], diag_pos[i]):
            j = indices[k]
            lu[k] /= lu[diag_pos[j]]
            lij = lu[k]
            for m in range(diag_pos[j] + 1, indptr[j + 1]):
                q = where[indices[m]]
                if q >= 0:
                    lu[q] -= lij * lu[m]
        for k in range(indptr[i], indptr[i + 1]):
            where[indices[k]] = -1
    return lu


@jit
def ilu0_smooth(indptr, indices, data, lu, diag_pos, x, b, work):
    """One ILU(0) correction ``x += (L U)⁻¹ (b − A x)`` in place (``work``: scratch of size n)."""
    n = x.shape[0]
    for i in range(n):  # residual, then forward substitution with the unit-lower factor
        s = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            s -= data[k] * x[indices[k]]
        for k in range(indptr[i], diag_pos[i]):
            s -= lu[k] * work[indices[k]]
        work[i] = s
    for i in range(n - 1, -1, -1):  # backward substitution with U, and the correction
        s = work[i]
        for k in range(diag_pos[i] + 1, indptr[i + 1]):
            s -= lu[k] * work[indices[k]]
        work[i] = s / lu[diag_pos[i]]
        x[i] += work[i]  # x is not read again in this sweep


@jit
def prolong_axis(x, cols, weights, out):
    """Linear interpolation along the middle axis: ``out[i, f, k] = Σ_j weights[f, j] x[i, cols[f, j], k]``
    (``x`` (pre, m, post), ``out`` (pre, n, post), ``cols`` and ``weights`` (n, 2)); a zero weight
    is skipped, so a wall cell's value is copied exactly."""
    if x.shape[2] == 1:  # the last axis: no inner loop (2x faster at 128², the same bits)
        for i in range(x.shape[0]):
            for f in range(out.shape[1]):
                c0, c1 = cols[f, 0], cols[f, 1]
                w0, w1 = weights[f, 0], weights[f, 1]
                out[i, f, 0] = w0 * x[i, c0, 0] if w1 == 0.0 else w0 * x[i, c0, 0] + w1 * x[i, c1, 0]
        return
    for i in range(x.shape[0]):
        for f in range(out.shape[1]):
            c0, c1 = cols[f, 0], cols[f, 1]
            w0, w1 = weights[f, 0], weights[f, 1]
            if w1 == 0.0:
                for k in range(x.shape[2]):
                    out[i, f, k] = w0 * x[i, c0, k]
            else:
                for k in range(x.shape[2]):
                    out[i, f, k] = w0 * x[i, c0, k] + w1 * x[i, c1, k]


@jit
def restrict_axis(x, cols, weights, out):
    """The transpose of :func:`prolong_axis`: ``out[i, c, k] = Σ_{f, j: cols[f, j] = c} weights[f, j]
    x[i, f, k]`` (``x`` (pre, n, post), ``out`` (pre, m, post), filled here)."""
    out[:] = 0.0
    if x.shape[2] == 1:  # the last axis, as in prolong_axis
        for i in range(x.shape[0]):
            for f in range(x.shape[1]):
                c0, c1 = cols[f, 0], cols[f, 1]
                w0, w1 = weights[f, 0], weights[f, 1]
                v = x[i, f, 0]
                out[i, c0, 0] += w0 * v
                if w1 != 0.0:
                    out[i, c1, 0] += w1 * v
        return
    for i in range(x.shape[0]):
        for f in range(x.shape[1]):
            c0, c1 = cols[f, 0], cols[f, 1]
            w0, w1 = weights[f, 0], weights[f, 1]
            for k in range(x.shape[2]):
                out[i, c0, k] += w0 * x[i, f, k]
            if w1 != 0.0:
                for k in range(x.shape[2]):
                    out[i, c1, k] += w1 * x[i, f, k]


REACH_CHUNK = 4096  # rows per parallel task of stencil_reach
PARALLEL_ROWS = 1 << 17  # from this many rows stencil_reach runs in parallel (the thread pool's
# start, 0.2-0.3 s, would cost a small first solve more than it saves)


def _stencil_reach(indptr, indices, shape, periodic, out):
    """``out[t]``: the reach of the rows of block ``t`` (see :func:`stencil_reach`)."""
    ndim = shape.shape[0]
    n = indptr.shape[0] - 1
    inv = 1.0 / shape.astype(np.float64)
    for chunk in prange((n + REACH_CHUNK - 1) // REACH_CHUNK):
        ci = np.empty(ndim, dtype=np.int64)
        reach = 0
        for i in range(chunk * REACH_CHUNK, min(n, (chunk + 1) * REACH_CHUNK)):
            rem = i
            for d in range(ndim - 1, -1, -1):
                ci[d] = rem % shape[d]
                rem //= shape[d]
            for k in range(indptr[i], indptr[i + 1]):
                b = indices[k]
                for d in range(ndim - 1, -1, -1):
                    m = shape[d]
                    q = np.int64(b * inv[d])  # b // m, or one off: corrected below (no division)
                    r = b - q * m
                    if r < 0:
                        q -= 1
                        r += m
                    elif r >= m:
                        q += 1
                        r -= m
                    dist = abs(ci[d] - r)
                    if periodic[d] and m - dist < dist:
                        dist = m - dist
                    if dist > reach:
                        reach = dist
                    b = q
        out[chunk] = reach


stencil_reach_serial, stencil_reach_parallel = serial_and_parallel(_stencil_reach)


def stencil_reach(indptr, indices, shape, periodic) -> int:
    """Largest number of cells, along any axis, between a row of a CSR grid operator and the
    columns it couples (``shape``: the grid, C order; on a ``periodic`` axis the short way round).
    In parallel over blocks of rows from ``PARALLEL_ROWS`` rows."""
    n = indptr.shape[0] - 1
    out = np.zeros(max(1, (n + REACH_CHUNK - 1) // REACH_CHUNK), dtype=np.int64)
    kernel = stencil_reach_parallel if n >= PARALLEL_ROWS else stencil_reach_serial
    kernel(indptr, indices, shape, periodic, out)
    return int(out.max())


# GMRES's Gram--Schmidt in plain loops: on a loaded machine BLAS's threads wait on each other (3-D NESS
# OU 64³ at load 9: the whole solve took 2.9 s CPU with two OpenBLAS threads, 1.5 s with one), and
# these products are memory-bound, so one thread loses little on an idle one.  Each pass runs over
# whole rows: the dot products reassociated (so they vectorise), the updates plain loops.  Against
# the earlier passes over blocks of 2048 entries, with dot products in four hand-unrolled partial
# sums, one call with 6 / 11 / 21 basis rows took 65 / 125 / 318 µs against 211 / 390 / 810 at
# n = 128² (the rows stay in cache: the blocks' loop overhead dominated), 3.4 / 6.3 / 12.1 ms
# against 3.9 / 6.8 / 14.5 at n = 512² (memory-bound).


@jit_reduce
def _dot(x, y):
    """``Σ x[k] y[k]``, in any order of summation (vectorised)."""
    s = 0.0
    for k in range(x.shape[0]):
        s += x[k] * y[k]
    return s


@jit
def orthogonalise(V, j, w, h):
    """Classical Gram--Schmidt with one reorthogonalisation of ``w`` against the rows ``0..j`` of
    ``V``, in place: the coefficients are added to ``h[:j + 1]``; returns ``|w|₂`` after."""
    n = w.shape[0]
    c = np.empty(j + 1)
    for _ in range(2):
        for i in range(j + 1):
            c[i] = _dot(V[i], w)
        for i in range(j + 1):
            ci = c[i]
            row = V[i]
            for k in range(n):
                w[k] -= ci * row[k]
        for i in range(j + 1):
            h[i] += c[i]
    return np.sqrt(_dot(w, w))
