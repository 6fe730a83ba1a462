"""Subtraction-free kernels for Markov generators: GTH elimination and spanning-tree log-densities.

The generator is given column-wise (CSC): column ``j`` holds the rates ``w_{j→i}`` of the jumps
out of state ``j``.  Diagonal entries are never read: in a generator (and in each of its Schur
complements) the diagonal is minus the sum of the off-diagonal entries of its column, and the
kernels recompute it that way, which is what keeps every operation an addition of non-negative
numbers (Grassmann--Taksar--Heyman elimination).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit

GROWTH = 2  # factor by which the L and U storage grows when it fills


@jit
def _grow_int(a, need):
    out = np.empty(max(need, GROWTH * a.shape[0]), dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


@jit
def _grow_float(a, need):
    out = np.empty(max(need, GROWTH * a.shape[0]), dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


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


@jit
def gth_factor(n, m, Ap, Ai, Ax, Sp, Si, parent, capacity):
    """Left-looking GTH factorisation of the first ``n`` columns of a column-generator with
    ``m >= n`` rows (rows ``n..m-1``: absorbing sinks, never eliminated).

    Column ``j`` of the Schur complement at step ``j`` is computed by a sparse triangular solve
    with the unit lower factor (all updates add ``l_ik · u_kj >= 0``); its pivot is the sum of its
    entries below row ``j`` (``d_j``, the total rate out of state ``j`` in the reduced chain), and
    ``l_ij = x_i / d_j`` are jump probabilities.  The pattern of ``U[:, j]`` is found by walking
    the elimination tree (``parent``) of a symmetric pattern ``S ⊇ A + Aᵀ`` (``Sp, Si``) from the
    entries of ``S[:j, j]``, in topological order, at a cost of the size of the column; the rows
    of ``L[:, j]`` (sinks included) are collected as they fill.  Any sparsity pattern is handled.

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
        # symbolic: rows k < j of U[:, j] are the etree paths from the entries of S[:j, j] to j
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
        # numeric: scatter A[:, j], then apply the columns of L in topological order
        for t in range(top, n):
            x[pattern[t]] = 0.0
        nlow = 0
        for q in range(Ap[j], Ap[j + 1]):
            i = Ai[q]
            if i > j:
                if mark[i] != j:
                    mark[i] = j
                    x[i] = 0.0
                    lower[nlow] = i
                    nlow += 1
                x[i] += Ax[q]
            elif i < j:
                x[i] += Ax[q]
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
        cnt = n - top
        if unz + cnt > Ui.shape[0]:
            Ui = _grow_int(Ui, unz + cnt)
            Ux = _grow_float(Ux, unz + cnt)
        if lnz + nlow > Li.shape[0]:
            Li = _grow_int(Li, lnz + nlow)
            Lx = _grow_float(Lx, lnz + nlow)
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
def log_balance_residual(n, Wp, Wi, Wx, log_p, out_rate, out):
    """Componentwise balance residual of a density given by its log, per state:
    ``|Σ_j w_{j→i} p_j / p_i − Σ_j w_{i→j}| / Σ_j w_{i→j}``, evaluated with ``p_j / p_i =
    exp(log p_j − log p_i)`` so no density under- or overflows.  ``Wp, Wi, Wx`` hold the
    off-diagonal rates as the transpose (row ``i`` of the generator: rates into ``i``);
    ``out_rate`` the total outflow rate of each state.  States with ``log p = -inf`` get ``nan``."""
    for i in range(n):
        li = log_p[i]
        if li == -np.inf or out_rate[i] <= 0.0:
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
def _neighbour(a, o0, o1, o2, shape, periodic):
    """Index of cell ``a + (o0, o1, o2)`` on a padded 3-D grid, or -1 outside a non-periodic axis."""
    n1, n2 = shape[1], shape[2]
    i = a // (n1 * n2)
    j = (a // n2) % n1
    k = a % n2
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
    for a in range(n):
        best = a
        bv = 0.0
        for o0 in range(-1, 2):
            for o1 in range(-1, 2):
                for o2 in range(-1, 2):
                    if o0 == 0 and o1 == 0 and o2 == 0:
                        continue
                    if (o0 != 0 and shape[0] == 1) or (o1 != 0 and shape[1] == 1) or (o2 != 0 and shape[2] == 1):
                        continue
                    b = _neighbour(a, o0, o1, o2, shape, periodic)
                    if b < 0:
                        continue
                    d0, d1, d2 = o0 * h[0], o1 * h[1], o2 * h[2]
                    v = (A[0, a] * d0 + A[1, a] * d1 + A[2, a] * d2) / math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
                    if v > bv:
                        bv = v
                        best = b
        succ[a] = best
    # terminal cycles of the functional graph: walk with colours 0 new, 1 on path, 2 done
    colour = np.zeros(n, dtype=np.int8)
    attractor = np.zeros(n, dtype=np.bool_)
    path = np.empty(n, dtype=np.int64)
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
    # union-find over attractor cells that are neighbours
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
