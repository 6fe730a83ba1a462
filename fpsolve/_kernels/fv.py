"""Kernels of the finite-volume (Markov-jump) discretisation.

Array names follow the maths of ``fpsolve.solve.operator``:

``Dh``      (n, ndim, ndim)  diffusion in grid-index units, ``D_ij / (h_i h_j)``
``vec``     (n, K, ndim)     integer stencil offsets from Selling's decomposition
``w``       (n, K)           their non-negative weights (``Dh = Σ_k w_k v_k v_kᵀ``)
``G``       (ndim, points)   ``D⁻¹A`` on the cell centres or the lattice of half cell steps
``src, dst, rate``           the jump list: jump ``src -> dst`` at ``rate`` (1 / time)
"""

from __future__ import annotations

import math

import numpy as np

from numba import prange

from ._jit import jit, jit_inline, serial_and_parallel, with_constants

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


@jit_inline
def _selling_reduce(D, b, ndim):
    """Selling's reduction of the superbase ``b`` (ndim + 1, ndim) for the tensor ``D``, in place.

    ``b`` starts as ``e_1, ..., e_ndim, -(e_1 + ... + e_ndim)``.  While two vectors have a
    positive scalar product ``b_iᵀ D b_j`` (above ``SELLING_RTOL`` times the trace), ``b_i`` is
    negated and added to the others: once to each of the two others in 3-D, twice to the third
    in 2-D (``b_k ← b_k + 2 b_i = b_i − b_j``), which keeps the sum zero.  Returns whether it
    converged within ``SELLING_MAX_ITER`` flips.
    """
    m = ndim + 1
    gain = 2 if ndim == 2 else 1
    trace = 0.0
    for c in range(ndim):
        trace += abs(D[c, c])
    tol = SELLING_RTOL * trace
    for i in range(ndim):
        for c in range(ndim):
            b[i, c] = 0
        b[i, i] = 1
        b[ndim, i] = -1
    for _ in range(SELLING_MAX_ITER):
        flipped = False
        for i in range(m):
            for j in range(i + 1, m):
                if _dot(D, b[i], b[j], ndim) > tol:
                    for k in range(m):
                        if k != i and k != j:
                            for c in range(ndim):
                                b[k, c] += gain * b[i, c]
                    for c in range(ndim):
                        b[i, c] = -b[i, c]
                    flipped = True
                    break
            if flipped:
                break
        if not flipped:
            return True
    return False


@jit_inline
def _offsets_2d(D, b, vec, w, a):
    """Cell ``a``'s weights ``w[a]`` (3,) and offsets ``vec[a]`` (3, 2) from its reduced 2-D
    superbase ``b``: offset
    ``i`` is ``b_i`` turned by a right angle (the sign making it lexicographically positive),
    its weight ``−b_jᵀ D b_k`` of the other two (clipped at 0)."""
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


@jit_inline
def _offsets_3d(D, b, vec, w, a):
    """Cell ``a``'s weights ``w[a]`` (6,) and offsets ``vec[a]`` (6, 3) from its reduced 3-D
    superbase ``b``: for
    each pair ``i < j`` the weight ``−b_iᵀ D b_j`` (clipped at 0) and the cross product of the
    other two vectors (the sign making it lexicographically positive)."""
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


@jit_inline
def _selling_cells(Dh, vec, w, ndim):
    """The loop of :func:`selling` over the cells, with ``ndim`` a constant (inlined twice)."""
    failed = 0
    b = np.empty((ndim + 1, ndim), dtype=np.int64)
    for a in range(Dh.shape[0]):
        D = Dh[a]
        if not _selling_reduce(D, b, ndim):
            failed += 1
        if ndim == 2:
            _offsets_2d(D, b, vec, w, a)
        else:
            _offsets_3d(D, b, vec, w, a)
    return failed


@jit
def selling(Dh, vec, w):
    """Selling's decomposition of the 2x2 or 3x3 tensors ``Dh`` (n, ndim, ndim) into ``vec``
    (n, 3 or 6, ndim) and ``w`` (n, 3 or 6); returns the number of cells that failed.

    One reduction (:func:`_selling_reduce`) for both dimensions; the read-out of the offsets
    differs (a turned superbase vector in 2-D, a cross product in 3-D).  The cell loop is
    compiled once per dimension with ``ndim`` a constant, so its short loops unroll (a loop
    over a run-time ``ndim`` was 5 times slower).  The shared reduction costs the 2-D case
    20–27 % of this kernel against the former separate 2-D loop (0.4–0.5 ms on 147k cells, about
    1.5 % of that grid's assembly); 3-D 3–5 %.
    """
    if Dh.shape[1] == 2:
        return _selling_cells(Dh, vec, w, 2)
    return _selling_cells(Dh, vec, w, 3)


REFLECTING = 0
PERIODIC = 1
# Both False in the assembly kernels compiled for lattice fields on grids without a periodic axis
# (see build_generator): edge_integral's branches for wrapped nodes and for fields on the cell
# centres are then compiled out.
PERIODIC_AXES = True
CENTRE_FIELDS = True
ABSORBING = 2


@jit_inline
def _land(c, v, sign, shape, strides, kind, disp):
    """Where the jump ``sign * v`` from the cell with multi-index ``c`` lands.

    ``kind`` per axis: REFLECTING, PERIODIC or ABSORBING.  Periodic axes wrap.  On a
    reflecting axis a jump that would leave the box is mirrored at the wall (the
    reflected path of the jump process).  A jump through an absorbing wall leaves the
    box: it returns ``exit = 2 * axis + side`` (side 0: lower wall) and the fraction
    ``t`` of the jump that lies inside the box.  Returns (target, mirrored, exit, t);
    ``disp`` receives the displacement in grid units.
    """
    ndim = shape.shape[0]
    b = 0
    mirrored = False
    exit_code = -1
    t = 1.0
    for d in range(ndim):
        i = c[d]
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


@jit_inline
def _unravel(a, strides, c):
    """The multi-index ``c`` of the flat C-order cell index ``a``."""
    rem = a
    for d in range(c.shape[0]):
        c[d] = rem // strides[d]
        rem -= c[d] * strides[d]


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

    ``G`` (ndim, lattice points) holds ``D⁻¹A``: on the cell centres (``refine == 1``, trapezoid
    rule) or on the lattice of half cell steps (``refine == 2``), where the widest of the
    7-, 5- and 3-point rules (``EDGE_RULES``) whose nodes all lie in the lattice is used.
    """
    ndim = c.shape[0]
    if CENTRE_FIELDS and refine == 1:
        total = 0.0
        for k in range(2):
            node = _node(c, v, k, 1, lat_shape)
            for d in range(ndim):
                total += 0.5 * G[d, node] * (v[d] * h[d])
        return total
    # the widest rule whose nodes all lie in the lattice, and whether they wrap a periodic axis:
    # if not, the node indices step by a constant (the nodes at -2 ... 4 are in order)
    rule = 0
    wraps = False
    base = 0
    step = 0
    for d in range(ndim):
        size = lat_shape[d]
        j = refine * c[d]
        base = base * size + j
        step = step * size + v[d]
        for r in range(rule, 3):
            lo = j - (2 - r) * v[d]
            hi = j + (4 - r) * v[d]
            if lo >= 0 and lo < size and hi >= 0 and hi < size:
                break
            if PERIODIC_AXES and kind[d] == PERIODIC:
                wraps = True
                break
            rule = r + 1
    if rule == 3:  # only when c + v leaves the box on a non-periodic axis; the callers avoid it
        rule = 2
    first = rule
    total = 0.0
    for q in range(first, 7 - first):
        node = _node(c, v, q - 2, refine, lat_shape) if wraps else base + (q - 2) * step
        s = 0.0
        for d in range(ndim):
            s += G[d, node] * (v[d] * h[d])
        total += EDGE_RULES[rule, q] * s
    return total


CELL_CHUNK = 4096  # cells per parallel task of the assembly kernels
# Grids from this size use the parallel assembly kernels; below it the serial ones, which spare
# a first solve the start of Numba's thread pool (measured 0.2-0.3 s of cold start).
PARALLEL_CELLS = 1 << 17


@jit_inline
def _unpack(layout, vec):
    """Cells per axis, strides, boundary kinds (the rows of ``layout``) and whether ``vec`` has
    one row per cell (1) or one for all (0)."""
    return layout[0], layout[1], layout[2], 1 if vec.shape[0] > 1 else 0


@jit_inline
def _slot(vec, w, row, v):
    """The offset slot of cell ``row`` (one row of ``vec`` per cell) holding ``v`` with a
    positive weight, or -1."""
    for k in range(vec.shape[1]):
        if not w[row, k] > 0.0:
            continue
        same = True
        for d in range(v.shape[0]):
            if vec[row, k, d] != v[d]:
                same = False
                break
        if same:
            return k
    return -1


def _count_jumps(layout, vec, w, G, lat_shape, refine, h, n, counts, forward):
    """``counts[a, 0]``: the jumps out of cell ``a`` that :func:`build_generator` lists,
    ``counts[a, 1]``: those of them that stay in the box; ``forward[a, k]``: the edge integral
    of the jump ``a -> a + vec[a, k]`` where it lands in the box unmirrored (else untouched), which
    the reverse jump reuses.  In parallel over blocks of cells."""
    shape, strides, kind, per_cell = _unpack(layout, vec)
    ndim = shape.shape[0]
    for chunk in prange((n + CELL_CHUNK - 1) // CELL_CHUNK):
        c = np.empty(ndim, dtype=np.int64)
        step = np.empty_like(c)
        lo, hi = chunk * CELL_CHUNK, min(n, (chunk + 1) * CELL_CHUNK)
        for a in range(lo, hi):
            row = a * per_cell
            total = inside = 0
            _unravel(a, strides, c)
            for k in range(vec.shape[1]):
                if not w[row, k] > 0.0:
                    continue
                for s in (1, -1):
                    b, mirrored, exit_code, _ = _land(c, vec[row, k], s, shape, strides, kind, step)
                    if exit_code >= 0:
                        total += 1
                    elif b != a:
                        total += 1
                        inside += 1
                        if s > 0 and not mirrored:
                            forward[a, k] = edge_integral(c, vec[row, k], G, lat_shape, refine, kind, h)
            counts[a, 0] = total
            counts[a, 1] = inside


# One loop of 67 lines, kept whole: moving the β of the in-box jumps (mirrored, forward, backward)
# into an inlined helper gave the same bits but made the serial 3-D assembly 17-28 % slower
# (40³ periodic, anisotropic D, best of 9), with the arrays in a tuple or one by one.
def _fill_jumps(layout, vec, w, G, lat_shape, refine, h, start, forward, jumps, csc, n):
    """Fill the jump list ``jumps = (src, dst, rate, disp, beta)`` (the jumps out of cell ``a``
    from ``start[a]``) and the generator's CSC arrays ``csc = (indptr, indices, data)``
    (``indptr`` given: column ``a`` holds the diagonal, then the jumps out of ``a`` that stay in
    the box, in the order of the list), with the edge integrals ``forward`` of
    :func:`_count_jumps`.  In parallel over blocks of cells; see :func:`build_generator` for the rates."""
    shape, strides, kind, per_cell = _unpack(layout, vec)
    src, dst, rate, disp, beta = jumps
    indptr, indices, data = csc
    ndim = shape.shape[0]
    for chunk in prange((n + CELL_CHUNK - 1) // CELL_CHUNK):
        c = np.empty(ndim, dtype=np.int64)
        cb = np.empty(ndim, dtype=np.int64)
        step = np.empty(ndim, dtype=np.int64)
        for a in range(chunk * CELL_CHUNK, min(n, (chunk + 1) * CELL_CHUNK)):
            _unravel(a, strides, c)
            row = a * per_cell
            ga = 0
            for d in range(ndim):
                ga = ga * lat_shape[d] + refine * c[d]
            j = start[a]
            diag = indptr[a]
            pos = diag + 1
            indices[diag] = a
            total = 0.0
            for k in range(vec.shape[1]):
                weight = w[row, k]
                if not weight > 0.0:
                    continue
                v = vec[row, k]
                for s in (1, -1):
                    b, mirrored, exit_code, t = _land(c, v, s, shape, strides, kind, step)
                    if exit_code < 0 and b == a:
                        continue
                    if exit_code >= 0:
                        bt = 0.0
                        for d in range(ndim):
                            bt += G[d, ga] * step[d] * h[d]
                        r = (weight / t) * bernoulli(-bt * t)
                        dst[j] = -1 - exit_code
                    else:
                        if mirrored:
                            gb = 0
                            for d in range(ndim):  # b = a + step (wrapped on periodic axes)
                                jd = c[d] + step[d]
                                if jd < 0 or jd >= shape[d]:
                                    jd %= shape[d]
                                gb = gb * lat_shape[d] + refine * jd
                            bt = 0.0
                            for d in range(ndim):
                                bt += 0.5 * (G[d, ga] + G[d, gb]) * step[d] * h[d]
                        elif s > 0:
                            bt = forward[a, k]
                        else:  # from the far end, so both directions get opposite values
                            ib = 0
                            for d in range(ndim):
                                jd = c[d] - v[d]
                                if jd < 0 or jd >= shape[d]:
                                    jd %= shape[d]
                                cb[d] = jd
                                ib += jd * strides[d]
                            # the far end's forward jump along v, if it lists one (always with
                            # one row of offsets for all cells): its integral, else computed here
                            kb = k if per_cell == 0 else _slot(vec, w, ib, v)
                            if kb >= 0:
                                bt = -forward[ib, kb]
                            else:
                                bt = -edge_integral(cb, v, G, lat_shape, refine, kind, h)
                        r = weight * bernoulli(-bt)
                        dst[j] = b
                        indices[pos] = b
                        data[pos] = r
                        pos += 1
                    src[j] = a
                    rate[j] = r
                    beta[j] = bt
                    for d in range(ndim):
                        disp[j, d] = step[d]
                    total += r
                    j += 1
            data[diag] = -total


count_jumps_serial, count_jumps_parallel = serial_and_parallel(_count_jumps)
fill_jumps_serial, fill_jumps_parallel = serial_and_parallel(_fill_jumps)

# The same kernels for lattice fields (callables) on grids without a periodic axis, the commonest
# case, with edge_integral's branches for wrapped nodes and for centre fields compiled out: their
# mere presence (never taken there) kept the loops around the inlined integral from being
# optimised.  128² NESS OU, serial, medians: the counting pass 2.2-2.8 -> 1.1 ms; the same bits.
_BOX = {"PERIODIC_AXES": False, "CENTRE_FIELDS": False}
_BOX["edge_integral"] = jit_inline(with_constants(edge_integral.py_func, "_box", **_BOX))
count_jumps_box_serial, count_jumps_box_parallel = serial_and_parallel(with_constants(_count_jumps, "_box", **_BOX))
fill_jumps_box_serial, fill_jumps_box_parallel = serial_and_parallel(with_constants(_fill_jumps, "_box", **_BOX))


def grid_layout(shape, kind) -> np.ndarray:
    """The ``layout`` argument of :func:`build_generator`: rows ``shape``, C-order strides, ``kind``."""
    shape = np.asarray(shape, dtype=np.int64)
    strides = np.array([int(np.prod(shape[d + 1:])) for d in range(len(shape))], dtype=np.int64)
    return np.ascontiguousarray(np.stack((shape, strides, np.asarray(kind, dtype=np.int64))))


# Index arrays are int32 where the values fit: on this VM every fresh GB costs 2.5-3.5 s of system
# time, and at 128³ int64 jump lists and CSC indices were 0.5 GB more (SciPy copies int64 indices
# that fit to int32 anyway)
INDEX32_MAX = np.iinfo(np.int32).max
INDEX16_MAX = np.iinfo(np.int16).max


def build_generator(layout, vec, w, G, lat_shape, refine, h, n):
    """The jump list and the generator matrix: ``((src, dst, rate, disp, beta), (indptr, indices,
    data))``, the latter the CSC arrays of ``L`` (column ``a``: the diagonal, then the jumps out
    of ``a`` that stay in the box), with int32 indices where they fit, as SciPy keeps them; ``src``,
    ``dst`` are int32 on grids of fewer than ``2**31`` cells, ``disp`` int16 for offsets under ``2**15``.

    ``layout`` (3, ndim) int64: the grid's cells per axis, C-order strides and boundary kinds
    (REFLECTING, PERIODIC, ABSORBING), one row each (see :func:`grid_layout`).  ``vec`` and ``w``
    hold one row per cell, or a single row shared by all ``n`` cells (constant diffusion).

    Jump ``a -> a + s v`` (``v = vec[a, k]``, weight ``w[a, k] > 0``, ``s = ±1``) has rate
    ``w B(-β)`` with ``β = ∫ D⁻¹A·dx`` along the jump by :func:`edge_integral`, started at the
    edge's end where ``+v`` starts, so the two directions of an edge get exactly opposite
    values.  A jump mirrored at a reflecting wall uses the trapezoid rule on ``G`` at its two
    cells; one mirrored onto its own cell is dropped.  A jump through an absorbing wall
    (``p = 0`` on the wall) has ``dst = -1 - exit`` and rate ``(w / t) B(-β t)``: the
    Scharfetter--Gummel flux over the part ``t`` inside the box, with ``β`` from ``G`` at the
    cell; it only enters the diagonal, so every column of ``L`` sums to minus its exit rate.
    ``disp`` receives displacements in grid units and ``beta`` the ``β`` of each jump.  The jumps
    are listed by source cell, offset and sign (``+`` first).  One pass counts the jumps of every
    cell and integrates each ``+v`` edge, a second fills the jumps in, the ``−v`` jumps taking the
    far end's integral wherever that cell lists the same offset (always with one row of offsets):
    the same bits as integrating twice, at 128² NESS OU 4.7 ms against 6.9 (medians, interleaved),
    TanhUnit SGLD 6.9 against 7.9.  In parallel on grids of at least ``PARALLEL_CELLS`` cells.  Lattice
    fields (``refine == 2``) on grids without a periodic axis take the kernels compiled without the
    periodic and centre-field branches (``count_jumps_box_*``, ``fill_jumps_box_*``).
    """
    parallel = n >= PARALLEL_CELLS
    if refine == 1 or np.any(layout[2] == PERIODIC):
        count, fill = (count_jumps_parallel, fill_jumps_parallel) if parallel else (count_jumps_serial, fill_jumps_serial)
    else:
        count, fill = ((count_jumps_box_parallel, fill_jumps_box_parallel) if parallel
                       else (count_jumps_box_serial, fill_jumps_box_serial))
    counts = np.empty((n, 2), dtype=np.int64)
    forward = np.empty((n, vec.shape[1]))  # each edge's integral, computed once for both directions
    count(layout, vec, w, G, lat_shape, refine, h, n, counts, forward)
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts[:, 0], out=start[1:])
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts[:, 1] + 1, out=indptr[1:])
    del counts
    if indptr[n] <= INDEX32_MAX:  # SciPy's own choice of index type: it would copy int64 indices to int32
        indptr = indptr.astype(np.int32)
    count, ndim = int(start[n]), layout.shape[1]
    cell = np.int32 if n <= INDEX32_MAX else np.int64  # src and dst
    step = np.int16 if np.abs(vec).max(initial=0) <= INDEX16_MAX else cell  # disp: |disp| <= |offset|
    jumps = (np.empty(count, dtype=cell), np.empty(count, dtype=cell), np.empty(count),
             np.empty((count, ndim), dtype=step), np.empty(count))
    csc = (indptr, np.empty(indptr[n], dtype=indptr.dtype), np.empty(indptr[n]))
    fill(layout, vec, w, G, lat_shape, refine, h, start, forward, jumps, csc, n)
    return jumps, csc


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
