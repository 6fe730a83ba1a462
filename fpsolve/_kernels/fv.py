"""Kernels of the finite-volume (Markov-jump) discretisation.

Array names follow the maths of ``fpsolve.solve.operator``:

``Dh``      (n, ndim, ndim)  diffusion in grid-index units, ``D_ij / (h_i h_j)``
``vec``     (n, K, ndim)     integer stencil offsets from Selling's decomposition
``w``       (n, K)           their non-negative weights (``Dh = Σ_k w_k v_k v_kᵀ``)
``G``       (points, ndim)   ``D⁻¹A`` on the cell centres or the lattice of half cell steps
``src, dst, rate``           the jump list: jump ``src -> dst`` at ``rate`` (1 / time)
"""

from __future__ import annotations

import math

import numpy as np

from numba import prange

from ._jit import jit, jit_inline, jit_parallel

SELLING_MAX_ITER = 200  # Selling's reduction needs O(log condition number) steps
SELLING_RTOL = 1e-13  # scalar products below this (relative to the trace) count as zero


@jit
def bernoulli(z):
    """B(z) = z / (exp(z) - 1), with B(0) = 1; finite for every finite z."""
    if z == 0.0:
        return 1.0
    return z / math.expm1(z)


@jit
def _dot(D, u, v, ndim):
    s = 0.0
    for i in range(ndim):
        for j in range(ndim):
            s += u[i] * D[i, j] * v[j]
    return s


@jit
def selling_2d(Dh, vec, w):
    """Selling's decomposition of 2x2 tensors; returns the number of cells that failed."""
    n = Dh.shape[0]
    failed = 0
    b = np.empty((3, 2), dtype=np.int64)
    for a in range(n):
        D = Dh[a]
        tol = SELLING_RTOL * (abs(D[0, 0]) + abs(D[1, 1]))
        b[0, 0] = 1
        b[0, 1] = 0
        b[1, 0] = 0
        b[1, 1] = 1
        b[2, 0] = -1
        b[2, 1] = -1
        done = False
        for _ in range(SELLING_MAX_ITER):
            flipped = False
            for i in range(3):
                for j in range(i + 1, 3):
                    if _dot(D, b[i], b[j], 2) > tol:
                        k = 3 - i - j
                        for c in range(2):
                            bi = b[i, c]
                            b[k, c] = bi - b[j, c]
                            b[i, c] = -bi
                        flipped = True
                        break
                if flipped:
                    break
            if not flipped:
                done = True
                break
        if not done:
            failed += 1
        for i in range(3):
            j = (i + 1) % 3
            k = (i + 2) % 3
            rho = -_dot(D, b[j], b[k], 2)
            w[a, i] = rho if rho > 0.0 else 0.0
            v0 = -b[i, 1]
            v1 = b[i, 0]
            if v0 < 0 or (v0 == 0 and v1 < 0):
                v0 = -v0
                v1 = -v1
            vec[a, i, 0] = v0
            vec[a, i, 1] = v1
    return failed


@jit
def selling_3d(Dh, vec, w):
    """Selling's decomposition of 3x3 tensors; returns the number of cells that failed."""
    n = Dh.shape[0]
    failed = 0
    b = np.empty((4, 3), dtype=np.int64)
    for a in range(n):
        D = Dh[a]
        tol = SELLING_RTOL * (abs(D[0, 0]) + abs(D[1, 1]) + abs(D[2, 2]))
        for i in range(4):
            for c in range(3):
                b[i, c] = 1 if i == c else (-1 if i == 3 else 0)
        done = False
        for _ in range(SELLING_MAX_ITER):
            flipped = False
            for i in range(4):
                for j in range(i + 1, 4):
                    if _dot(D, b[i], b[j], 3) > tol:
                        for k in range(4):
                            if k != i and k != j:
                                for c in range(3):
                                    b[k, c] += b[i, c]
                        for c in range(3):
                            b[i, c] = -b[i, c]
                        flipped = True
                        break
                if flipped:
                    break
            if not flipped:
                done = True
                break
        if not done:
            failed += 1
        slot = 0
        for i in range(4):
            for j in range(i + 1, 4):
                rho = -_dot(D, b[i], b[j], 3)
                # the other two superbase vectors k < l
                k = -1
                l = -1
                for m in range(4):
                    if m != i and m != j:
                        if k < 0:
                            k = m
                        else:
                            l = m
                v0 = b[k, 1] * b[l, 2] - b[k, 2] * b[l, 1]
                v1 = b[k, 2] * b[l, 0] - b[k, 0] * b[l, 2]
                v2 = b[k, 0] * b[l, 1] - b[k, 1] * b[l, 0]
                if v0 < 0 or (v0 == 0 and (v1 < 0 or (v1 == 0 and v2 < 0))):
                    v0 = -v0
                    v1 = -v1
                    v2 = -v2
                vec[a, slot, 0] = v0
                vec[a, slot, 1] = v1
                vec[a, slot, 2] = v2
                w[a, slot] = rho if rho > 0.0 else 0.0
                slot += 1
    return failed


REFLECTING = 0
PERIODIC = 1
ABSORBING = 2


@jit
def _target(a, v, sign, shape, strides, kind, disp):
    """Where the jump ``sign * v`` from cell ``a`` lands.

    ``kind`` per axis: REFLECTING, PERIODIC or ABSORBING.  Periodic axes wrap.  On a
    reflecting axis a jump that would leave the box is mirrored at the wall (the
    reflected path of the jump process).  A jump through an absorbing wall leaves the
    box: it returns ``exit = 2 * axis + side`` (side 0: lower wall) and the fraction
    ``t`` of the jump that lies inside the box.  Returns (target, mirrored, exit, t);
    ``disp`` receives the displacement in grid units.
    """
    ndim = shape.shape[0]
    rem = a
    b = 0
    mirrored = False
    exit_code = -1
    t = 1.0
    for d in range(ndim):
        i = rem // strides[d]
        rem -= i * strides[d]
        j = i + sign * v[d]
        disp[d] = sign * v[d]
        if j < 0 or j >= shape[d]:
            if kind[d] == PERIODIC:
                j = j % shape[d]
            elif kind[d] == ABSORBING:
                side = 0 if j < 0 else 1
                inside = (i + 0.5 if side == 0 else shape[d] - 0.5 - i) / abs(v[d])
                if inside < t:
                    t = inside
                    exit_code = 2 * d + side
                j = i
            else:
                mirrored = True
                j = -1 - j if j < 0 else 2 * shape[d] - 1 - j
                j = min(max(j, 0), shape[d] - 1)
                disp[d] = j - i
        b += j * strides[d]
    return b, mirrored, exit_code, t


# Edge rules on the lattice of half cell steps: weights of the nodes a + (k / 2) v, k = -2..4,
# for ∫ over the edge from cell a to a + v (rows: 7, 5 and 3 nodes).  The wider rules are exact
# for polynomials of degree 7 and 5 (error terms 4.0e-7 and 1.0e-5 times h^8 f^(8) and h^6 f^(6));
# Simpson's rule (degree 3, error 3.5e-4 h^4 f^(4)) serves edges too close to a reflecting wall
# for the others.
EDGE_RULES = np.array([
    [1 / 1512, -1 / 105, 167 / 840, 586 / 945, 167 / 840, -1 / 105, 1 / 1512],
    [0.0, -1 / 180, 17 / 90, 19 / 30, 17 / 90, -1 / 180, 0.0],
    [0.0, 0.0, 1 / 6, 2 / 3, 1 / 6, 0.0, 0.0],
])


@jit_inline
def _inside(c, v, k, refine, lat_shape, kind):
    """Whether the node ``refine * c + k v`` lies in the lattice (periodic axes always)."""
    for d in range(c.shape[0]):
        j = refine * c[d] + k * v[d]
        if (j < 0 or j >= lat_shape[d]) and kind[d] != PERIODIC:
            return False
    return True


@jit_inline
def _node(c, v, k, refine, lat_shape):
    """Flat lattice index of the node ``refine * c + k v`` (periodic axes wrapped)."""
    flat = 0
    for d in range(c.shape[0]):
        size = lat_shape[d]
        j = refine * c[d] + k * v[d]
        if j < 0 or j >= size:  # periodic only; an integer division only when it wraps
            j %= size
        flat = flat * size + j
    return flat


@jit_inline
def edge_integral(c, v, G, lat_shape, refine, kind, h):
    """``β = ∫ D⁻¹A · dx`` along the edge from the cell with multi-index ``c`` to ``c + v``.

    ``G`` (lattice points, ndim) holds ``D⁻¹A``: on the cell centres (``refine == 1``, trapezoid
    rule) or on the lattice of half cell steps (``refine == 2``), where the widest of the
    7-, 5- and 3-point rules (``EDGE_RULES``) whose nodes all lie in the lattice is used.
    """
    ndim = c.shape[0]
    if refine == 1:
        total = 0.0
        for k in range(2):
            node = _node(c, v, k, 1, lat_shape)
            for d in range(ndim):
                total += 0.5 * G[node, d] * (v[d] * h[d])
        return total
    if _inside(c, v, -2, refine, lat_shape, kind) and _inside(c, v, 4, refine, lat_shape, kind):
        rule, first = 0, 0
    elif _inside(c, v, -1, refine, lat_shape, kind) and _inside(c, v, 3, refine, lat_shape, kind):
        rule, first = 1, 1
    else:
        rule, first = 2, 2
    total = 0.0
    for q in range(first, 7 - first):
        node = _node(c, v, q - 2, refine, lat_shape)
        s = 0.0
        for d in range(ndim):
            s += G[node, d] * (v[d] * h[d])
        total += EDGE_RULES[rule, q] * s
    return total


EDGE_CHUNK = 4096  # cells per parallel task of edge_betas
# Grids from this size use the parallel edge_betas; below it the serial one, which spares a
# first solve the start of Numba's thread pool (measured 0.2-0.3 s of cold start).
PARALLEL_CELLS = 1 << 17


def _edge_betas(shape, kind, vec, w, G, lat_shape, refine, h, n, out):
    """``out[a, k, 0]``: ``β`` from cell ``a`` to ``a + v``, ``out[a, k, 1]``: from ``a`` to
    ``a - v`` (``v = vec[a, k]``), where that cell is reached without a wall (else not written).

    Both come from :func:`edge_integral` started at the edge's end where ``+v`` starts, so the two
    directions of an edge get exactly opposite values.  In parallel over blocks of cells, slot by
    slot within a block so that the lattice is read in sequence.
    """
    K = vec.shape[1]
    per_cell = 1 if vec.shape[0] > 1 else 0
    ndim = shape.shape[0]
    n_chunks = (n + EDGE_CHUNK - 1) // EDGE_CHUNK
    for chunk in prange(n_chunks):
        c = np.empty(ndim, dtype=np.int64)
        cb = np.empty(ndim, dtype=np.int64)
        start = chunk * EDGE_CHUNK
        stop = min(n, start + EDGE_CHUNK)
        for k in range(K):
            rem = start
            for d in range(ndim - 1, -1, -1):
                c[d] = rem % shape[d]
                rem //= shape[d]
            for a in range(start, stop):
                if a > start:  # next multi-index in C order
                    d = ndim - 1
                    c[d] += 1
                    while c[d] == shape[d]:
                        c[d] = 0
                        d -= 1
                        c[d] += 1
                row = a * per_cell
                if not w[row, k] > 0.0:
                    continue
                v = vec[row, k]
                forward = True
                backward = True
                for d in range(ndim):
                    j = c[d] + v[d]
                    if (j < 0 or j >= shape[d]) and kind[d] != PERIODIC:
                        forward = False
                    j = c[d] - v[d]
                    if j < 0 or j >= shape[d]:
                        if kind[d] != PERIODIC:
                            backward = False
                        j %= shape[d]
                    cb[d] = j
                if forward:
                    out[a, k, 0] = edge_integral(c, v, G, lat_shape, refine, kind, h)
                if backward:
                    out[a, k, 1] = -edge_integral(cb, v, G, lat_shape, refine, kind, h)


edge_betas_serial = jit(_edge_betas)
edge_betas_parallel = jit_parallel(_edge_betas)


def edge_betas(shape, kind, vec, w, G, lat_shape, refine, h, n, out):
    """:func:`_edge_betas`, in parallel on grids of at least ``PARALLEL_CELLS`` cells."""
    kernel = edge_betas_parallel if n >= PARALLEL_CELLS else edge_betas_serial
    kernel(shape, kind, vec, w, G, lat_shape, refine, h, n, out)


def grid_layout(shape, kind) -> np.ndarray:
    """The ``layout`` argument of :func:`build_jumps`: rows ``shape``, C-order strides, ``kind``."""
    shape = np.asarray(shape, dtype=np.int64)
    strides = np.array([int(np.prod(shape[d + 1:])) for d in range(len(shape))], dtype=np.int64)
    return np.ascontiguousarray(np.stack((shape, strides, np.asarray(kind, dtype=np.int64))))


@jit
def build_jumps(layout, vec, w, G, lat_shape, refine, h, betas, jumps, n):
    """Fill the jump list ``jumps = (src, dst, rate, disp, beta)``; returns the number of jumps.

    ``layout`` (3, ndim) int64: the grid's cells per axis, C-order strides and boundary kinds
    (REFLECTING, PERIODIC, ABSORBING), one row each (see :func:`grid_layout`).

    Jump ``a -> a + s v`` (``v = vec[a, k]``, weight ``w[a, k] > 0``) has rate ``w B(-β)`` with
    ``β = ∫ D⁻¹A·dx`` along the jump (``betas`` from :func:`edge_betas`); a jump
    mirrored at a reflecting wall uses the trapezoid rule on ``G`` at its two cells.  A jump
    through an absorbing wall (``p = 0`` on the wall) has ``dst = -1 - exit`` and rate
    ``(w / t) B(-β t)``: the Scharfetter--Gummel flux over the part ``t`` inside the box, with
    ``β`` from ``G`` at the cell.  ``disp`` (cap, ndim) receives displacements in grid units and
    ``beta`` (cap,) the ``β`` of each jump.  ``vec`` and ``w`` hold one row per cell, or a single
    row shared by all ``n`` cells (constant diffusion).  Output arrays need room for
    ``2 * n * K`` jumps.
    """
    shape, strides, kind = layout[0], layout[1], layout[2]
    src, dst, rate, disp, beta = jumps
    K = vec.shape[1]
    per_cell = 1 if vec.shape[0] > 1 else 0
    ndim = shape.shape[0]
    count = 0
    step = np.empty(ndim, dtype=np.int64)
    ca = np.empty(ndim, dtype=np.int64)
    for a in range(n):
        row = a * per_cell
        rem = a
        for d in range(ndim):
            ca[d] = rem // strides[d]
            rem -= ca[d] * strides[d]
        ga = 0
        for d in range(ndim):
            ga = ga * lat_shape[d] + refine * ca[d]
        for k in range(K):
            weight = w[row, k]
            if not weight > 0.0:
                continue
            v = vec[row, k]
            for s in (1, -1):
                b, mirrored, exit_code, t = _target(a, v, s, shape, strides, kind, step)
                if exit_code >= 0:
                    bt = 0.0
                    for d in range(ndim):
                        bt += G[ga, d] * step[d] * h[d]
                    src[count] = a
                    dst[count] = -1 - exit_code
                    rate[count] = (weight / t) * bernoulli(-bt * t)
                    beta[count] = bt
                    for d in range(ndim):
                        disp[count, d] = step[d]
                    count += 1
                    continue
                if b == a:
                    continue
                if mirrored:
                    gb = 0
                    for d in range(ndim):  # b = a + step (wrapped on periodic axes)
                        j = ca[d] + step[d]
                        if j < 0 or j >= shape[d]:
                            j %= shape[d]
                        gb = gb * lat_shape[d] + refine * j
                    bt = 0.0
                    for d in range(ndim):
                        bt += 0.5 * (G[ga, d] + G[gb, d]) * step[d] * h[d]
                else:
                    bt = betas[a, k, 0 if s > 0 else 1]
                src[count] = a
                dst[count] = b
                rate[count] = weight * bernoulli(-bt)
                beta[count] = bt
                for d in range(ndim):
                    disp[count, d] = step[d]
                count += 1
    return count


@jit
def jumps_to_csc(n, src, dst, rate, indptr, indices, data):
    """Generator matrix in CSC form (column a: the diagonal, then the jumps out of a).

    ``src`` must be sorted.  Jumps out of the box (``dst < 0``) only enter the diagonal, so
    every column sums to minus its exit rate (zero without absorbing walls).  ``indptr`` has
    n + 1 entries, ``indices``/``data`` room for ``n + len(src)``.
    """
    nj = src.shape[0]
    j = 0
    pos = 0
    for a in range(n):
        indptr[a] = pos
        diag = pos
        indices[pos] = a
        pos += 1
        total = 0.0
        while j < nj and src[j] == a:
            total += rate[j]
            if dst[j] >= 0:
                indices[pos] = dst[j]
                data[pos] = rate[j]
                pos += 1
            j += 1
        data[diag] = -total
    indptr[n] = pos


@jit
def cell_current(src, dst, rate, disp, h, p, out):
    """Probability current at cell centres: half the displacement-weighted flow of each jump
    is assigned to both of its cells (``disp`` in grid units, ``h`` the spacings)."""
    ndim = out.shape[0]
    for c in range(ndim):
        for a in range(out.shape[1]):
            out[c, a] = 0.0
    for j in range(src.shape[0]):
        f = 0.5 * rate[j] * p[src[j]]
        for c in range(ndim):
            g = f * disp[j, c] * h[c]
            out[c, src[j]] += g
            if dst[j] >= 0:
                out[c, dst[j]] += g
