"""Subtraction-free kernels for Markov generators: GTH elimination and spanning-tree log-densities.

The generator is given column-wise (CSC): column ``j`` holds the rates ``w_{j→i}`` of the jumps
out of state ``j``.  Diagonal entries are never read: in a generator (and in each of its Schur
complements) the diagonal is minus the sum of the off-diagonal entries of its column, and the
kernels recompute it that way, which is what keeps every operation an addition of non-negative
numbers (Grassmann--Taksar--Heyman elimination).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from numba import prange

from ._jit import jit, jit_inline, jit_parallel, jit_reduce

GROWTH = 2  # factor by which the L and U storage grows when it fills
PANEL = 32  # pivots eliminated by rank-1 updates before one matrix product updates the rest of a front

CSC = namedtuple("CSC", "indptr indices data")  # a sparse matrix's compressed columns (int64, int64, float)
# the result of supernodal_symbolic, as the supernodal kernels take it
Supernodes = namedtuple("Supernodes", "first update_ptr update_rows postorder children_ptr children "
                                      "u_ptr stack_size max_front")


@jit
def _grow(a, need):
    """A copy of ``a`` in storage of at least ``need`` entries (``GROWTH`` times its size)."""
    out = np.empty(max(need, GROWTH * a.shape[0]), dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


@jit_inline
def _join_row(i, j, mark, rows, top):
    """Add row ``i`` to column ``j``'s pattern ``rows[..top]`` if it lies below ``j`` and is not
    there yet (``mark[i] == j``); ``(rows, top)``, ``rows`` grown when full."""
    if i > j and mark[i] != j:
        if top >= rows.shape[0]:
            rows = _grow(rows, top + 1)
        mark[i] = j
        rows[top] = i
        top += 1
    return rows, top


@jit
def elimination_tree(n, Sp, Si, parent):
    """Elimination tree of a structurally symmetric pattern (CSC ``Sp, Si``; e.g. of ``A + Aᵀ``),
    with path compression (Liu's algorithm).  ``parent[k] = -1`` at roots."""
    ancestor = np.empty(n, dtype=np.int64)
    for k in range(n):
        parent[k] = -1
        ancestor[k] = -1
        for q in range(Sp[k], Sp[k + 1]):
            i = Si[q]
            while i != -1 and i < k:
                nxt = ancestor[i]
                ancestor[i] = k
                if nxt == -1:
                    parent[i] = k
                i = nxt


@jit_inline
def _u_pattern(j, n, Sp, Si, parent, mark, stack, pattern):
    """Rows ``k < j`` of ``U[:, j]``: the elimination-tree paths from the entries of ``S[:j, j]``
    to ``j``, in topological order in ``pattern[top:n]`` (``mark[k] = j`` on them); returns ``top``."""
    top = n
    mark[j] = j
    for q in range(Sp[j], Sp[j + 1]):
        i = Si[q]
        if i >= j:
            continue
        length = 0
        while mark[i] != j:
            stack[length] = i
            length += 1
            mark[i] = j
            i = parent[i]
        while length > 0:
            length -= 1
            top -= 1
            pattern[top] = stack[length]
    return top


@jit_inline
def _solve_column(j, A, Lp, Li, Lx, pattern, top, n, mark, x, lower):
    """Column ``j`` of the Schur complement into ``x``: ``A[:, j]`` scattered, then the columns of
    ``L`` applied in the topological order of ``pattern[top:n]``; the rows ``> j`` that fill are
    collected in ``lower``, whose length is returned."""
    for t in range(top, n):
        x[pattern[t]] = 0.0
    nlow = 0
    for q in range(A.indptr[j], A.indptr[j + 1]):
        i = A.indices[q]
        if i > j:
            if mark[i] != j:
                mark[i] = j
                x[i] = 0.0
                lower[nlow] = i
                nlow += 1
            x[i] += A.data[q]
        elif i < j:
            x[i] += A.data[q]
    for t in range(top, n):
        k = pattern[t]
        xk = x[k]
        if xk != 0.0:
            for r in range(Lp[k], Lp[k + 1]):
                i = Li[r]
                if i > j and mark[i] != j:
                    mark[i] = j
                    x[i] = 0.0
                    lower[nlow] = i
                    nlow += 1
                x[i] += Lx[r] * xk
    return nlow


@jit
def gth_factor(n, m, A, Sp, Si, parent, capacity):
    """Left-looking GTH factorisation of the first ``n`` columns of a column-generator ``A``
    (:class:`CSC`) with ``m >= n`` rows (rows ``n..m-1``: absorbing sinks, never eliminated).

    Column ``j`` of the Schur complement at step ``j`` is computed by a sparse triangular solve
    with the unit lower factor (all updates add ``l_ik · u_kj >= 0``); its pivot is the sum of its
    entries below row ``j`` (``d_j``, the total rate out of state ``j`` in the reduced chain), and
    ``l_ij = x_i / d_j`` are jump probabilities.  The pattern of ``U[:, j]`` is found by walking
    the elimination tree (``parent``) of a symmetric pattern ``S ⊇ A + Aᵀ`` (``Sp, Si``) from the
    entries of ``S[:j, j]``, in topological order, at a cost of the size of the column; the rows
    of ``L[:, j]`` (sinks included) are collected as they fill.  Any sparsity pattern is handled.
    ``capacity`` is the first size of the ``L`` and ``U`` storage (grown when it fills).

    Returns ``(Lp, Li, Lx, Up, Ui, Ux, d)``: ``L`` strictly lower (rows > j, values l_ij in
    [0, 1]) and ``U`` strictly upper (rows < j, values u_kj >= 0), both CSC, and the pivots ``d``.
    """
    Lp = np.zeros(n + 1, dtype=np.int64)
    Up = np.zeros(n + 1, dtype=np.int64)
    Li = np.empty(capacity, dtype=np.int64)
    Lx = np.empty(capacity)
    Ui = np.empty(capacity, dtype=np.int64)
    Ux = np.empty(capacity)
    d = np.zeros(n)
    x = np.zeros(m)
    mark = np.full(m, -1, dtype=np.int64)
    stack = np.empty(m, dtype=np.int64)
    pattern = np.empty(m, dtype=np.int64)  # U part in topological order, in pattern[top:n]
    lower = np.empty(m, dtype=np.int64)  # rows > j met so far
    lnz = 0
    unz = 0
    for j in range(n):
        top = _u_pattern(j, n, Sp, Si, parent, mark, stack, pattern)
        nlow = _solve_column(j, A, Lp, Li, Lx, pattern, top, n, mark, x, lower)
        cnt = n - top
        if unz + cnt > Ui.shape[0]:
            Ui = _grow(Ui, unz + cnt)
            Ux = _grow(Ux, unz + cnt)
        if lnz + nlow > Li.shape[0]:
            Li = _grow(Li, lnz + nlow)
            Lx = _grow(Lx, lnz + nlow)
        for t in range(top, n):
            Ui[unz] = pattern[t]
            Ux[unz] = x[pattern[t]]
            unz += 1
        s = 0.0
        for t in range(nlow):
            s += x[lower[t]]
        d[j] = s
        if s > 0.0:
            inv = 1.0 / s
            for t in range(nlow):
                i = lower[t]
                Li[lnz] = i
                Lx[lnz] = x[i] * inv
                lnz += 1
        Lp[j + 1] = lnz
        Up[j + 1] = unz
    return Lp, Li[:lnz], Lx[:lnz], Up, Ui[:unz], Ux[:unz], d


@jit
def gth_log_null(n, Up, Ui, Ux, d, out):
    """Log of the stationary vector from GTH factors of an ``n``-state generator (no sinks).

    Back substitution ``p_k = Σ_{j>k} u_kj p_j / d_k`` with ``p_{n-1} = 1``, column by column,
    in log space (``log-sum-exp`` accumulation), so nothing under- or overflows.  Fills ``out``
    (``-inf`` where a state cannot reach the last one); returns the index of a zero pivot before
    the last state (the chain is reducible), or -1.
    """
    acc = np.full(n, -np.inf)
    acc[n - 1] = 0.0
    bad = -1
    for j in range(n - 1, -1, -1):
        if j == n - 1:
            lp = 0.0
        elif d[j] > 0.0:
            lp = acc[j] - math.log(d[j])
        else:
            lp = -np.inf
            if bad < 0:
                bad = j
        out[j] = lp
        if lp == -np.inf:
            continue
        for r in range(Up[j], Up[j + 1]):
            u = Ux[r]
            if u > 0.0:
                k = Ui[r]
                v = math.log(u) + lp
                a = acc[k]
                if a == -np.inf:
                    acc[k] = v
                elif a >= v:
                    acc[k] = a + math.log1p(math.exp(v - a))
                else:
                    acc[k] = v + math.log1p(math.exp(a - v))
    return bad


@jit
def gth_first_passage(n, Lp, Li, Lx, Up, Ui, Ux, d, out):
    """Mean first-passage times ``τ`` (``Lᵀ τ = −1`` on the transient states) from GTH factors of
    a generator with sink rows: ``y_j = (1 + Σ_{k<j} u_kj y_k) / d_j``, then
    ``τ_k = y_k + Σ_{i>k} l_ik τ_i`` (transient ``i`` only).  Every step adds non-negative
    numbers.  Returns the index of a zero pivot (a state that cannot reach a sink), or -1."""
    for j in range(n):
        if d[j] <= 0.0:
            return j
        s = 1.0
        for r in range(Up[j], Up[j + 1]):
            s += Ux[r] * out[Ui[r]]
        out[j] = s / d[j]
    for k in range(n - 1, -1, -1):
        s = out[k]
        for r in range(Lp[k], Lp[k + 1]):
            i = Li[r]
            if i < n:
                s += Lx[r] * out[i]
        out[k] = s
    return -1


@jit
def tree_log_density(n, Wp, Wi, log_ratio, rtol, out):
    """Log-density along a breadth-first spanning tree of a generator's jump graph, checking
    Kolmogorov's criterion on every edge as it goes.

    ``Wp, Wi``: CSC pattern of the off-diagonal rates (symmetric pattern);
    ``log_ratio[q] = log(w_{j→i} / w_{i→j})`` for entry ``q`` (row ``i``, column ``j``), which in
    detailed balance equals ``log p_i − log p_j``.  Fills ``out`` (``log p``, state 0 at 0).
    Returns ``(reached, worst)``: the number of states reached, and the largest edge mismatch
    relative to ``rtol · (1 + |log p_i| + |log p_j|)``; the walk stops at the first edge whose
    mismatch exceeds 1 (not in detailed balance).
    """
    seen = np.zeros(n, dtype=np.bool_)
    queue = np.empty(n, dtype=np.int64)
    seen[0] = True
    out[0] = 0.0
    queue[0] = 0
    head = 0
    tail = 1
    worst = 0.0
    while head < tail:
        j = queue[head]
        head += 1
        lj = out[j]
        for q in range(Wp[j], Wp[j + 1]):
            i = Wi[q]
            if not seen[i]:
                seen[i] = True
                out[i] = lj + log_ratio[q]
                queue[tail] = i
                tail += 1
            else:
                li = out[i]
                m = abs(li - lj - log_ratio[q]) / (rtol * (1.0 + abs(li) + abs(lj)))
                if m > worst:
                    worst = m
                    if worst > 1.0:
                        return tail, worst
    return tail, worst


@jit
def log_balance_residual(n, Wp, Wi, Wx, log_p, out_rate, floor, out):
    """Componentwise balance residual of a density given by its log, per state:
    ``|Σ_j w_{j→i} p_j / p_i − Σ_j w_{i→j}| / Σ_j w_{i→j}``, evaluated with ``p_j / p_i =
    exp(log p_j − log p_i)`` so no density under- or overflows.  ``Wp, Wi, Wx`` hold the
    off-diagonal rates as the transpose (row ``i`` of the generator: rates into ``i``);
    ``out_rate`` the total outflow rate of each state.  States with ``log p = -inf``, or below
    ``floor``, get ``nan``."""
    for i in range(n):
        li = log_p[i]
        if li == -np.inf or li < floor or out_rate[i] <= 0.0:
            out[i] = np.nan
            continue
        inflow = 0.0
        for q in range(Wp[i], Wp[i + 1]):
            j = Wi[q]
            if j != i:
                lj = log_p[j]
                if lj != -np.inf:
                    inflow += Wx[q] * math.exp(lj - li)
        out[i] = abs(inflow - out_rate[i]) / out_rate[i]


@jit
def column_sums(indptr, data, out):
    """``out[j]``: the sum of the stored entries of column ``j`` of a CSC matrix, in stored order
    (a generator's off-diagonal part: the outflow rate of each state, without cancellation)."""
    for j in range(indptr.shape[0] - 1):
        total = 0.0
        for q in range(indptr[j], indptr[j + 1]):
            total += data[q]
        out[j] = total


@jit
def off_diagonal_rates(indptr, indices, data):
    """The off-diagonal, non-zero entries of a matrix in CSR with sorted indices (a generator's
    rows: the rates into each state), as CSR arrays and as CSC arrays (the jumps out of each
    state, sorted: the transpose by counting sort), in one pass: ``(rp, ri, rx, cp, ci, cx)``."""
    n = indptr.shape[0] - 1
    rp = np.zeros(n + 1, dtype=indptr.dtype)
    cp = np.zeros(n + 1, dtype=indptr.dtype)
    for i in range(n):
        for q in range(indptr[i], indptr[i + 1]):
            j = indices[q]
            if j != i and data[q] != 0.0:
                rp[i + 1] += 1
                cp[j + 1] += 1
    for i in range(n):
        rp[i + 1] += rp[i]
        cp[i + 1] += cp[i]
    nnz = rp[n]
    ri = np.empty(nnz, dtype=indices.dtype)
    rx = np.empty(nnz)
    ci = np.empty(nnz, dtype=indices.dtype)
    cx = np.empty(nnz)
    fill = cp[:n].copy()
    k = 0
    for i in range(n):
        for q in range(indptr[i], indptr[i + 1]):
            j = indices[q]
            if j != i and data[q] != 0.0:
                ri[k] = j
                rx[k] = data[q]
                k += 1
                c = fill[j]
                ci[c] = i
                cx[c] = data[q]
                fill[j] = c + 1
    return rp, ri, rx, cp, ci, cx


@jit_inline
def _shifted(i, j, k, o0, o1, o2, shape, periodic):
    """Index of cell ``(i, j, k) + (o0, o1, o2)`` on a padded 3-D grid, or -1 outside a
    non-periodic axis."""
    n1, n2 = shape[1], shape[2]
    i += o0
    j += o1
    k += o2
    if i < 0 or i >= shape[0]:
        if not periodic[0]:
            return -1
        i %= shape[0]
    if j < 0 or j >= n1:
        if not periodic[1]:
            return -1
        j %= n1
    if k < 0 or k >= n2:
        if not periodic[2]:
            return -1
        k %= n2
    return (i * n1 + j) * n2 + k


@jit
def _neighbour(a, o0, o1, o2, shape, periodic):
    """Index of cell ``a + (o0, o1, o2)`` on a padded 3-D grid, or -1 outside a non-periodic axis."""
    n1, n2 = shape[1], shape[2]
    return _shifted(a // (n1 * n2), (a // n2) % n1, a % n2, o0, o1, o2, shape, periodic)


@jit
def _drift_successors(shape, periodic, A, h, succ):
    """The map of :func:`drift_basins`: ``succ[a]`` the neighbour of cell ``a`` best aligned with
    the drift there (if positively), else ``a``.  Cells are visited by their multi-index, so a
    neighbour costs additions only, not three integer divisions (:func:`drift_basins` of the
    128² NESS OU: 0.94 ms against 1.15, medians; the same labels)."""
    # the offsets along the grid's axes, once
    offsets = np.empty((26, 3), dtype=np.int64)
    step = np.empty((26, 4))  # the offset in length units, and its length
    count_offsets = 0
    for o0 in range(-1, 2):
        for o1 in range(-1, 2):
            for o2 in range(-1, 2):
                if o0 == 0 and o1 == 0 and o2 == 0:
                    continue
                if (o0 != 0 and shape[0] == 1) or (o1 != 0 and shape[1] == 1) or (o2 != 0 and shape[2] == 1):
                    continue
                d0, d1, d2 = o0 * h[0], o1 * h[1], o2 * h[2]
                norm = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
                offsets[count_offsets, 0], offsets[count_offsets, 1], offsets[count_offsets, 2] = o0, o1, o2
                step[count_offsets, 0], step[count_offsets, 1], step[count_offsets, 2] = d0, d1, d2
                step[count_offsets, 3] = norm
                count_offsets += 1
    a = 0
    for i in range(shape[0]):
        for j in range(shape[1]):
            for k in range(shape[2]):
                best = a
                bv = 0.0
                a0, a1, a2 = A[0, a], A[1, a], A[2, a]
                for q in range(count_offsets):
                    v = (a0 * step[q, 0] + a1 * step[q, 1] + a2 * step[q, 2]) / step[q, 3]
                    if v > bv:
                        b = _shifted(i, j, k, offsets[q, 0], offsets[q, 1], offsets[q, 2], shape, periodic)
                        if b >= 0:
                            bv = v
                            best = b
                succ[a] = best
                a += 1


@jit
def _terminal_cycles(succ, attractor, path):
    """Mark in ``attractor`` the cells on the terminal cycles of the functional graph ``succ``
    (a walk with colours 0 new, 1 on the path, 2 done; ``path`` is scratch)."""
    n = succ.shape[0]
    colour = np.zeros(n, dtype=np.int8)
    for s in range(n):
        if colour[s] != 0:
            continue
        length = 0
        v = s
        while colour[v] == 0:
            colour[v] = 1
            path[length] = v
            length += 1
            v = succ[v]
        if colour[v] == 1:  # a new cycle, closed at v
            u = v
            while True:
                attractor[u] = True
                u = succ[u]
                if u == v:
                    break
        for t in range(length):
            colour[path[t]] = 2


@jit
def _label_attractors(shape, periodic, attractor, labels):
    """Label the attractor cells, neighbours merged by union-find, ``0..count-1`` (the others
    ``-1``); returns ``count``."""
    n = attractor.shape[0]
    root = np.arange(n)
    for a in range(n):
        if not attractor[a]:
            continue
        for o0 in range(-1, 2):
            for o1 in range(-1, 2):
                for o2 in range(-1, 2):
                    b = _neighbour(a, o0, o1, o2, shape, periodic)
                    if b < 0 or b == a or not attractor[b]:
                        continue
                    r = a
                    while root[r] != r:
                        r = root[r]
                    q = b
                    while root[q] != q:
                        q = root[q]
                    if r != q:
                        root[max(r, q)] = min(r, q)
    for a in range(n):
        labels[a] = -1
    count = 0
    for a in range(n):
        if attractor[a]:
            r = a
            while root[r] != r:
                r = root[r]
            if labels[r] < 0:
                labels[r] = count
                count += 1
            labels[a] = labels[r]
    return count


@jit
def drift_basins(shape, periodic, A, h, labels):
    """Basins of attraction of the drift ``A`` (3, n) on a padded 3-D grid (unused axes: 1 cell).

    Each cell moves to the neighbour (any of the 26 offsets in ``{-1, 0, 1}³`` that stay on the
    grid) whose direction is best aligned with the drift there, if that alignment is positive,
    else stays.  Every cell then flows into a terminal cycle of this map (a fixed point, or a
    short cycle where the drift rotates or reverses within a cell); attractors that are
    neighbours are merged, so plateaus and rotating sinks count once.  Fills ``labels``
    (0..count-1); returns the number of basins.
    """
    n = shape[0] * shape[1] * shape[2]
    succ = np.empty(n, dtype=np.int64)
    _drift_successors(shape, periodic, A, h, succ)
    attractor = np.zeros(n, dtype=np.bool_)
    path = np.empty(n, dtype=np.int64)
    _terminal_cycles(succ, attractor, path)
    count = _label_attractors(shape, periodic, attractor, labels)
    # every other cell takes the label of the attractor it flows into
    for s in range(n):
        if labels[s] >= 0:
            continue
        length = 0
        v = s
        while labels[v] < 0:
            path[length] = v
            length += 1
            v = succ[v]
        for t in range(length):
            labels[path[t]] = labels[v]
    return count


# -- supernodal (multifrontal) GTH for the stationary vector ------------------------------------


@jit
def _column_patterns(n, Sp, Si, parent):
    """Row patterns of the columns of ``L`` (rows ``> j``): ``S[>j, j]`` joined with the patterns
    of ``j``'s children in the elimination tree; ``(ptr, rows)``, column ``j`` in
    ``rows[ptr[j]:ptr[j+1]]``."""
    head = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    for j in range(n - 1, -1, -1):
        p = parent[j]
        if p >= 0:
            nxt[j] = head[p]
            head[p] = j
    ptr = np.zeros(n + 1, dtype=np.int64)
    cap = 4 * Sp[n] + 1024
    rows = np.empty(cap, dtype=np.int64)
    mark = np.full(n, -1, dtype=np.int64)
    top = 0
    for j in range(n):
        mark[j] = j
        for q in range(Sp[j], Sp[j + 1]):
            rows, top = _join_row(Si[q], j, mark, rows, top)
        c = head[j]
        while c >= 0:
            for q in range(ptr[c], ptr[c + 1]):
                rows, top = _join_row(rows[q], j, mark, rows, top)
            c = nxt[c]
        ptr[j + 1] = top
    return ptr, rows


@jit
def _supernode_tree(n, parent, ptr, rows):
    """Supernodes of the column patterns ``(ptr, rows)``: ``j`` joins the supernode of ``j-1``
    when the pattern of ``j-1`` is ``{j}`` and the pattern of ``j``.  Returns ``(first,
    update_ptr, update_rows, sn_parent)``: pivot columns, sorted update rows and the parent of
    each supernode in the supernodal tree (-1 at roots)."""
    sn_of = np.empty(n, dtype=np.int64)
    first = np.empty(n + 1, dtype=np.int64)
    ns = 0
    for j in range(n):
        if j > 0 and parent[j - 1] == j and (ptr[j] - ptr[j - 1]) == (ptr[j + 1] - ptr[j]) + 1:
            sn_of[j] = ns - 1
        else:
            first[ns] = j
            sn_of[j] = ns
            ns += 1
    first[ns] = n
    first = first[: ns + 1].copy()
    update_ptr = np.zeros(ns + 1, dtype=np.int64)
    for s in range(ns):
        last = first[s + 1] - 1
        update_ptr[s + 1] = update_ptr[s] + ptr[last + 1] - ptr[last]
    update_rows = np.empty(update_ptr[ns], dtype=np.int64)
    sn_parent = np.full(ns, -1, dtype=np.int64)
    for s in range(ns):
        last = first[s + 1] - 1
        seg = np.sort(rows[ptr[last]: ptr[last + 1]])
        update_rows[update_ptr[s]: update_ptr[s + 1]] = seg
        if parent[last] >= 0:
            sn_parent[s] = sn_of[parent[last]]
    return first, update_ptr, update_rows, sn_parent


@jit
def _children_postorder(sn_parent):
    """Children lists ``(children_ptr, children)`` and a postorder (children first) of the
    supernodal tree ``sn_parent``."""
    ns = sn_parent.shape[0]
    count = np.zeros(ns + 1, dtype=np.int64)
    for s in range(ns):
        if sn_parent[s] >= 0:
            count[sn_parent[s] + 1] += 1
    children_ptr = np.cumsum(count)
    children = np.empty(children_ptr[ns], dtype=np.int64)
    fill = children_ptr[:ns].copy()
    for s in range(ns):
        p = sn_parent[s]
        if p >= 0:
            children[fill[p]] = s
            fill[p] += 1
    postorder = np.empty(ns, dtype=np.int64)
    stack = np.empty(ns, dtype=np.int64)
    visit = np.zeros(ns, dtype=np.int64)  # next child to descend into
    pos = 0
    for root in range(ns):
        if sn_parent[root] >= 0:
            continue
        depth = 0
        stack[0] = root
        visit[root] = children_ptr[root]
        while depth >= 0:
            s = stack[depth]
            if visit[s] < children_ptr[s + 1]:
                c = children[visit[s]]
                visit[s] += 1
                depth += 1
                stack[depth] = c
                visit[c] = children_ptr[c]
            else:
                postorder[pos] = s
                pos += 1
                depth -= 1
    return children_ptr, children, postorder


@jit
def supernodal_symbolic(n, Sp, Si, parent):
    """Supernodes and fronts of the factorisation of a structurally symmetric pattern (CSC
    ``Sp, Si`` of ``A + Aᵀ``, off-diagonal) with elimination tree ``parent``.

    The row pattern of column ``j`` of ``L`` is ``S[>j, j]`` joined with the patterns of its
    children in the tree (minus ``j``); consecutive columns ``j, j+1`` with ``parent[j] = j+1``
    and patterns differing by ``j+1`` alone form one supernode (a dense block of the factors:
    on a nested-dissection order, the separators).  Returns ``(first, update_ptr, update_rows,
    postorder, children_ptr, children, u_ptr, stack_size, max_front)``: supernode ``s`` has the
    pivot columns ``first[s]..first[s+1]-1`` and the sorted update rows
    ``update_rows[update_ptr[s]:update_ptr[s+1]]``; ``postorder`` lists the supernodes children
    first; ``u_ptr`` offsets the dense ``k × m`` blocks of ``U`` rows (``k`` pivots, front of
    ``m = k + r`` rows); ``stack_size`` is the peak storage of the update matrices waiting for
    their parent.
    """
    ptr, rows = _column_patterns(n, Sp, Si, parent)
    first, update_ptr, update_rows, sn_parent = _supernode_tree(n, parent, ptr, rows)
    ns = first.shape[0] - 1
    children_ptr, children, postorder = _children_postorder(sn_parent)
    # storage: U blocks, the update-matrix stack, the largest front
    u_ptr = np.zeros(ns + 1, dtype=np.int64)
    max_front = 1
    for s in range(ns):
        k = first[s + 1] - first[s]
        r = update_ptr[s + 1] - update_ptr[s]
        u_ptr[s + 1] = u_ptr[s] + k * (k + r)
        if k + r > max_front:
            max_front = k + r
    stack_size = _stack_peak(children_ptr, children, update_ptr, postorder)
    return first, update_ptr, update_rows, postorder, children_ptr, children, u_ptr, stack_size, max_front


@jit
def _stack_peak(children_ptr, children, update_ptr, sequence):
    """The peak storage of the update matrices waiting for their parent when the supernodes
    ``sequence`` are eliminated in that order (each pops its children's, pushes its own)."""
    held = 0
    peak = 0
    for t in range(sequence.shape[0]):
        s = sequence[t]
        for q in range(children_ptr[s], children_ptr[s + 1]):
            c = children[q]
            rc = update_ptr[c + 1] - update_ptr[c]
            held -= rc * rc
        r = update_ptr[s + 1] - update_ptr[s]
        held += r * r
        if held > peak:
            peak = held
    return peak


@jit
def _trailing_update(G, t0, t1, m):
    """``x_ab += Σ_t l_at u_tb`` over the pivots ``t0..t1-1`` for every front entry with ``a, b >= t1``
    (``G[b, a]`` holds entry ``(a, b)``).  A loop, not BLAS: the pivot rows stay in cache, each
    column of the front is updated once per panel, and no thread pool competes for the cores."""
    for b in range(t1, m):
        Gb = G[b]
        t = t0
        while t + 3 < t1:  # four pivots per pass over the column: fewer loads and stores of it
            u0, u1, u2, u3 = Gb[t], Gb[t + 1], Gb[t + 2], Gb[t + 3]
            if u0 != 0.0 or u1 != 0.0 or u2 != 0.0 or u3 != 0.0:
                L0, L1, L2, L3 = G[t], G[t + 1], G[t + 2], G[t + 3]
                for a in range(t1, m):
                    Gb[a] += (L0[a] * u0 + L1[a] * u1) + (L2[a] * u2 + L3[a] * u3)
            t += 4
        while t < t1:
            u = Gb[t]
            if u != 0.0:
                Lt = G[t]
                for a in range(t1, m):
                    Gb[a] += Lt[a] * u
            t += 1


@jit_inline
def _open_front(sn, s, pos):
    """Supernode ``s``'s first pivot ``f``, pivot count ``k``, update-row offset ``u0``, update
    count ``r`` and front size ``m``; ``pos`` maps its pivots and update rows to front rows."""
    f = sn.first[s]
    k = sn.first[s + 1] - f
    u0 = sn.update_ptr[s]
    r = sn.update_ptr[s + 1] - u0
    for a in range(k):
        pos[f + a] = a
    for a in range(r):
        pos[sn.update_rows[u0 + a]] = k + a
    return f, k, u0, r, k + r


@jit_inline
def _scatter_generator(G, W, T, f, k, pos):
    """Add to the front ``G`` the generator's entries whose smaller index is one of the pivots
    ``f..f+k-1`` (``W`` CSC by source state, ``T = Wᵀ`` CSC by target state)."""
    for a in range(k):
        c = f + a
        for q in range(W.indptr[c], W.indptr[c + 1]):  # column c: rates c -> i
            i = W.indices[q]
            if i >= f and i != c:
                G[a, pos[i]] += W.data[q]
        for q in range(T.indptr[c], T.indptr[c + 1]):  # row c: rates j -> c, for columns j after the pivots
            j = T.indices[q]
            if j >= f + k:
                G[pos[j], a] += T.data[q]


@jit_inline
def _extend_add(G, sn, s, pos, stack, offsets, held, loc):
    """Add the update matrices of supernode ``s``'s children (the most recent on top of the
    ``stack``) to its front ``G``; returns the stack height once they are popped.  ``loc``
    (scratch of ``max_front`` entries) receives a child's front rows once per child; a child
    whose update rows are consecutive front rows (common: a separator's rows in order) is added
    by contiguous runs."""
    c0, c1 = sn.children_ptr[s], sn.children_ptr[s + 1]
    for q in range(c0, c1):
        c = sn.children[q]
        u0 = sn.update_ptr[c]
        rc = sn.update_ptr[c + 1] - u0
        base = offsets[c]
        for a in range(rc):
            loc[a] = pos[sn.update_rows[u0 + a]]
        if rc > 0 and loc[rc - 1] - loc[0] == rc - 1:  # rows ascend, so this means consecutive
            l0 = loc[0]
            for b in range(rc):
                Gb = G[l0 + b]
                row = base + b * rc - l0
                for a in range(l0, l0 + rc):
                    Gb[a] += stack[row + a]
        else:
            for b in range(rc):
                Gb = G[loc[b]]
                row = base + b * rc
                for a in range(rc):
                    Gb[loc[a]] += stack[row + a]
    if c1 > c0:
        low = held
        for q in range(c0, c1):
            if offsets[sn.children[q]] < low:
                low = offsets[sn.children[q]]
        held = low  # the children were the top of the stack (postorder)
    return held


@jit_inline
def _eliminate_front(G, d, f, k, m):
    """Eliminate the ``k`` pivots of the front ``G`` (m, m), ``PANEL`` columns at a time: rank-1
    updates within the panel (and of its pivot rows), then one pass of :func:`_trailing_update`
    for the whole trailing front; the pivots go to ``d[f..f+k-1]``."""
    for t0 in range(0, k, PANEL):
        t1 = min(t0 + PANEL, k)
        for t in range(t0, t1):
            col = G[t]
            total = 0.0
            for a in range(t + 1, m):
                total += col[a]
            d[f + t] = total
            if total > 0.0:
                inv = 1.0 / total
                for a in range(t + 1, m):
                    col[a] *= inv
            else:
                for a in range(t + 1, m):
                    col[a] = 0.0
            for b in range(t + 1, m):
                u = G[b, t]
                if u != 0.0:
                    target = G[b]
                    hi = m if b < t1 else t1
                    for a in range(t + 1, hi):  # the diagonal (a = b) is updated too, never read
                        target[a] += col[a] * u
        _trailing_update(G, t0, t1, m)


@jit_inline
def _front_buffers(n, sn):
    """One elimination's own storage: the row map ``pos`` (n,), the front (``max_front²``) and the
    children's front rows ``loc`` (``max_front``)."""
    return (np.full(n, -1, dtype=np.int64), np.empty(sn.max_front * sn.max_front),
            np.empty(max(sn.max_front, 1), dtype=np.int64))


@jit_inline
def _factor_node(s, W, T, sn, Ux, d, stack, offsets, held, pos, work, loc):
    """Eliminate supernode ``s`` (its children's update matrices on top of ``stack``, below
    ``held``): write its ``U`` block and pivots, push its update matrix; returns the new height."""
    f, k, u0, r, m = _open_front(sn, s, pos)
    # G[b, a] = front entry (row a, column b): columns are contiguous rows of G
    G = work[: m * m].reshape((m, m))
    G[:, :] = 0.0
    _scatter_generator(G, W, T, f, k, pos)
    held = _extend_add(G, sn, s, pos, stack, offsets, held, loc)
    _eliminate_front(G, d, f, k, m)
    # U rows of the pivots: front row t, columns b > t
    base_u = sn.u_ptr[s]
    for t in range(k):
        for b in range(t + 1, m):
            Ux[base_u + t * m + b] = G[b, t]
    # the update matrix (rows and columns after the pivots), stored as G stores it
    if r > 0:
        offsets[s] = held
        for b in range(r):
            row = held + b * r
            Gb = G[k + b]
            for a in range(r):
                stack[row + a] = Gb[k + a]
        held += r * r
    return held


@jit
def supernodal_gth_factor(n, W, T, sn, Ux, stack):
    """Multifrontal GTH elimination of an ``n``-state column generator (off-diagonal part ``W``
    and ``T = Wᵀ``, both :class:`CSC`), on the :class:`Supernodes` ``sn`` of
    :func:`supernodal_symbolic`.

    Each supernode's front (its pivots and update rows, dense) receives the generator's entries
    whose smaller index is one of its pivots and the update matrices of its children (added:
    extend-add).  Its pivots are eliminated in order as in :func:`gth_factor` (pivot = sum of the
    entries below it in its column, multipliers ``l = x / d``, updates ``x_ab += l_a u_b``, all
    non-negative; diagonals never read), the panel by rank-1 updates and the update matrix
    ``F22 + L21 U12`` by one matrix product.  Fills ``Ux`` (``sn.u_ptr[-1]`` entries) with the
    ``U`` rows of supernode ``s`` as a dense ``k × m`` block at ``u_ptr[s]`` (``Ux[u_ptr[s] + t m + b]``
    is ``u`` from pivot ``t`` to front row ``b``, written and meaningful for ``b > t`` only) and
    returns the pivots ``d``.  ``Ux`` and ``stack`` (``max(sn.stack_size, 1)`` entries, the
    waiting update matrices) come from the caller: NumPy's allocations of them cost a few hundred
    page faults where Numba's cost tens of thousands (see ``solve/robust.py``).
    """
    ns = sn.first.shape[0] - 1
    d = np.zeros(n)
    held = 0
    offsets = np.empty(ns, dtype=np.int64)  # where each waiting update matrix starts on the stack
    pos, work, loc = _front_buffers(n, sn)
    for t_s in range(ns):
        held = _factor_node(sn.postorder[t_s], W, T, sn, Ux, d, stack, offsets, held, pos, work, loc)
    return d


SubtreeSplit = namedtuple("SubtreeSplit", "group_ptr group_order group_base rest roots")
SubtreeSplit.__doc__ = """Independent subtrees of the supernode tree shared out to threads (:func:`subtree_split`).

``group_order[group_ptr[g]:group_ptr[g + 1]]`` are the supernodes thread ``g`` eliminates, in
postorder; its update matrices use ``group_base[g]`` onwards of the groups' stack (the last
entry: that stack's size).  ``rest`` are the remaining supernodes in postorder, eliminated after
the groups, and ``roots[t]`` is 1 where ``rest[t]`` is a group's subtree root, whose update
matrix is then moved onto the main stack instead."""


@jit_parallel
def supernodal_gth_factor_parallel(n, W, T, sn, Ux, stack, split, group_stack):
    """:func:`supernodal_gth_factor` with independent subtrees eliminated by parallel threads.

    The groups of ``split`` (:class:`SubtreeSplit`) run side by side, each with its own front,
    row map and stack (``group_stack``, ``split.group_base[-1]`` entries); then the remaining
    supernodes run in postorder, each subtree root's update matrix copied onto the main stack
    where the serial elimination would have pushed it.  Every front sees the same entries added
    in the same order as in the serial kernel, so ``Ux`` and the pivots are bit for bit its own.
    """
    ns = sn.first.shape[0] - 1
    d = np.zeros(n)
    offsets = np.empty(ns, dtype=np.int64)
    n_groups = split.group_ptr.shape[0] - 1
    for g in prange(n_groups):
        pos, work, loc = _front_buffers(n, sn)
        held = split.group_base[g]
        for t in range(split.group_ptr[g], split.group_ptr[g + 1]):
            held = _factor_node(split.group_order[t], W, T, sn, Ux, d, group_stack, offsets, held,
                                pos, work, loc)
    pos, work, loc = _front_buffers(n, sn)
    held = 0
    for t in range(split.rest.shape[0]):
        s = split.rest[t]
        if split.roots[t]:
            r = sn.update_ptr[s + 1] - sn.update_ptr[s]
            src = offsets[s]
            for a in range(r * r):
                stack[held + a] = group_stack[src + a]
            offsets[s] = held
            held += r * r
        else:
            held = _factor_node(s, W, T, sn, Ux, d, stack, offsets, held, pos, work, loc)
    return d


@jit
def subtree_work(sn):
    """Flops of each supernode's elimination (``k m² - k² m + k³ / 3``) summed over its subtree,
    the subtree's size in supernodes, and each supernode's parent (-1 for a root)."""
    ns = sn.first.shape[0] - 1
    parent = np.full(ns, -1, dtype=np.int64)
    for s in range(ns):
        for q in range(sn.children_ptr[s], sn.children_ptr[s + 1]):
            parent[sn.children[q]] = s
    work = np.zeros(ns)
    size = np.ones(ns, dtype=np.int64)
    for t in range(ns):
        s = sn.postorder[t]
        k = sn.first[s + 1] - sn.first[s]
        m = k + sn.update_ptr[s + 1] - sn.update_ptr[s]
        work[s] += k * m * m - k * k * m + k * k * k / 3.0 + m  # + m: the front's scatter, copy
        if parent[s] >= 0:
            work[parent[s]] += work[s]
            size[parent[s]] += size[s]
    return work, size, parent


# Below this multiple of (the U row's sum + the front size), a pivot's scaled sum may have lost
# terms to underflow (each lost term is below the row's u times 2.2e-308, or below 2.2e-308
# itself); the pivot is then summed again in log space, term by term.  1e-280 leaves the lost
# share below 1e-27 of the sum.
SCALED_SAFE = 1e-280


@jit_inline
def _log_row(t, m, k, f, u0, base, Ux, update_rows, out):
    """``log Σ_{b>t} u_tb p_b`` of pivot ``t`` in log space (log-sum-exp, one pass), ``-inf`` when
    no term is positive."""
    top = -np.inf  # acc * e^top = Σ u_ij p_j
    acc = 0.0
    for b in range(t + 1, m):
        u = Ux[base + t * m + b]
        if u > 0.0:
            j = f + b if b < k else update_rows[u0 + b - k]
            v = out[j]
            if v != -np.inf:
                v += math.log(u)
                if v > top:
                    acc = acc * math.exp(top - v) + 1.0
                    top = v
                else:
                    acc += math.exp(v - top)
    return top if top == -np.inf else top + math.log(acc)


@jit_reduce  # the row sums reassociated (vectorised); the log-space fallback is sequential anyway
def supernodal_log_null(n, sn, Ux, d, last, out):
    """Log of the stationary vector from supernodal GTH factors, rooted at state ``last``.

    ``p_last = 1``, states after ``last`` are 0, and for ``k < last``
    ``p_k = Σ_{j>k} u_kj p_j / d_k`` in log space.  Each front's rows are held as
    ``e_b = p_b / e^top`` with ``top`` the largest log among them (so ``e_b <= 1``), and each
    pivot's sum is a plain dot product of its U row with ``e``, the pivot's log then
    ``top + log(Σ) − log d``; a sum below ``SCALED_SAFE`` of the row's scale, whose terms may
    have underflowed, is redone term by term in log space (log-sum-exp).  Returns the highest
    ``k < last`` with a zero pivot (a state that cannot leave the states not yet eliminated), or
    -1; such a state and every state that only reaches it get ``-inf``.
    """
    first, update_ptr, update_rows, u_ptr = sn.first, sn.update_ptr, sn.update_rows, sn.u_ptr
    ns = first.shape[0] - 1
    bad = -1
    e = np.empty(max(sn.max_front, 1))
    for j in range(n):
        out[j] = -np.inf
    out[last] = 0.0
    for s in range(ns - 1, -1, -1):
        f = first[s]
        k = first[s + 1] - f
        if f > last:
            continue
        u0 = update_ptr[s]
        m = k + update_ptr[s + 1] - u0
        base = u_ptr[s]
        top = -np.inf
        for b in range(m):
            v = out[f + b] if b < k else out[update_rows[u0 + b - k]]
            if v > top:
                top = v
        for b in range(m):
            v = out[f + b] if b < k else out[update_rows[u0 + b - k]]
            e[b] = 0.0 if v == -np.inf else math.exp(v - top)
        for t in range(k - 1, -1, -1):
            i = f + t
            if i >= last:
                continue
            if d[i] <= 0.0:
                if bad < 0:
                    bad = i
                continue
            acc = 0.0
            usum = 0.0
            row = base + t * m
            for b in range(t + 1, m):
                u = Ux[row + b]
                acc += u * e[b]
                usum += u
            if acc >= SCALED_SAFE * (usum + m) and acc < np.inf and usum < np.inf:
                v = top + math.log(acc)
            else:
                v = _log_row(t, m, k, f, u0, base, Ux, update_rows, out)
            if v == -np.inf:
                continue
            v -= math.log(d[i])
            out[i] = v
            if v > top:  # rescale the held rows to the new largest (small ones may flush to 0)
                scale = math.exp(top - v)
                for b in range(t + 1, m):
                    e[b] *= scale
                top = v
                e[t] = 1.0
            else:
                e[t] = math.exp(v - top)
    return bad


SPLIT_BALANCE = 0.9  # stop refining the split once the lighter group has 90 % of the heavier's work
SPLIT_MAX_SERIAL = 0.25  # no split whose serial remainder (the top of the tree) exceeds this share
SPLIT_STEPS = 512  # subtree roots moved to the serial remainder at most, looking for balance


def subtree_split(sn, n_groups: int = 2):
    """Share the supernode tree of :func:`supernodal_symbolic` out to ``n_groups`` threads.

    Starting from the roots, the heaviest candidate subtree (by :func:`subtree_work`) is moved to
    the serial remainder and replaced by its children until the candidates, dealt out heaviest
    first to the least loaded group, balance to ``SPLIT_BALANCE``.  Returns a
    :class:`SubtreeSplit` (its ``group_base[-1]``: the groups' stack size), or ``None`` where no split leaves the
    serial remainder at most ``SPLIT_MAX_SERIAL`` of the work.
    """
    work, size, parent = subtree_work(sn)
    ns = work.shape[0]
    cand = [int(s) for s in np.flatnonzero(parent < 0)]
    total = float(work[cand].sum())
    if total <= 0:
        return None
    for _ in range(SPLIT_STEPS):
        order = sorted(cand, key=lambda s: -work[s])
        loads = [0.0] * n_groups
        assign = [[] for _ in range(n_groups)]
        for s in order:
            g = int(np.argmin(loads))
            loads[g] += work[s]
            assign[g].append(s)
        if min(loads) >= SPLIT_BALANCE * max(loads):
            break
        top = order[0]
        kids = sn.children[sn.children_ptr[top]:sn.children_ptr[top + 1]]
        if len(kids) == 0:
            break
        cand.remove(top)
        cand.extend(int(c) for c in kids)
    else:
        return None
    if total - sum(loads) > SPLIT_MAX_SERIAL * total or min(loads) <= 0:
        return None
    where = np.empty(ns, dtype=np.int64)
    where[sn.postorder] = np.arange(ns)
    in_group = np.zeros(ns, dtype=bool)  # by postorder position
    is_root = np.zeros(ns, dtype=bool)
    groups = []
    for members in assign:
        ranges = sorted((int(where[s]) - int(size[s]) + 1, int(where[s]) + 1) for s in members)
        seq = np.concatenate([sn.postorder[a:b] for a, b in ranges])
        for a, b in ranges:
            in_group[a:b] = True
            is_root[b - 1] = True
        groups.append(seq)
    keep = ~in_group | is_root
    group_ptr = np.zeros(n_groups + 1, dtype=np.int64)
    group_ptr[1:] = np.cumsum([len(g) for g in groups])
    group_order = np.ascontiguousarray(np.concatenate(groups), dtype=np.int64)
    group_base = np.zeros(n_groups + 1, dtype=np.int64)
    group_base[1:] = np.cumsum([_stack_peak(sn.children_ptr, sn.children, sn.update_ptr, g) for g in groups])
    return SubtreeSplit(group_ptr, group_order, group_base,
                        np.ascontiguousarray(sn.postorder[keep], dtype=np.int64),
                        is_root[keep].astype(np.int64))
