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
def gth_factor(n, m, Ap, Ai, Ax, capacity):
    """Left-looking (Gilbert--Peierls) GTH factorisation of the first ``n`` columns of a
    column-generator with ``m >= n`` rows (rows ``n..m-1``: absorbing sinks, never eliminated).

    Column ``j`` of the Schur complement at step ``j`` is computed by a sparse triangular solve
    with the unit lower factor (all updates add ``l_ik · u_kj >= 0``); its pivot is the sum of its
    entries below row ``j`` (``d_j``, the total rate out of state ``j`` in the reduced chain), and
    ``l_ij = x_i / d_j`` are jump probabilities.  Any sparsity pattern is handled (the fill is
    found by depth-first search over the graph of ``L``).

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
    xi = np.empty(m, dtype=np.int64)  # reach, in topological order, in xi[top:]
    stack = np.empty(m, dtype=np.int64)
    pst = np.empty(m, dtype=np.int64)
    lnz = 0
    unz = 0
    for j in range(n):
        # symbolic: reach of the pattern of A[:, j] in the graph of L[:, :j]
        top = m
        for q in range(Ap[j], Ap[j + 1]):
            start = Ai[q]
            if start == j or mark[start] == j:
                continue
            head = 0
            stack[0] = start
            while head >= 0:
                i = stack[head]
                if mark[i] != j:
                    mark[i] = j
                    pst[i] = Lp[i] if i < j else 0
                done = True
                if i < j:
                    for r in range(pst[i], Lp[i + 1]):
                        c = Li[r]
                        if mark[c] != j:
                            pst[i] = r + 1
                            head += 1
                            stack[head] = c
                            done = False
                            break
                if done:
                    head -= 1
                    top -= 1
                    xi[top] = i
        # numeric: scatter the off-diagonal entries of A[:, j], then apply the columns of L
        for t in range(top, m):
            x[xi[t]] = 0.0
        for q in range(Ap[j], Ap[j + 1]):
            i = Ai[q]
            if i != j:
                x[i] += Ax[q]
        for t in range(top, m):
            k = xi[t]
            if k < j:
                xk = x[k]
                if xk != 0.0:
                    for r in range(Lp[k], Lp[k + 1]):
                        x[Li[r]] += Lx[r] * xk
        # store U[:, j] (rows < j) and the pivot, then L[:, j] = x / d (rows > j)
        cnt = m - top
        if unz + cnt > Ui.shape[0]:
            Ui = _grow_int(Ui, unz + cnt)
            Ux = _grow_float(Ux, unz + cnt)
        if lnz + cnt > Li.shape[0]:
            Li = _grow_int(Li, lnz + cnt)
            Lx = _grow_float(Lx, lnz + cnt)
        s = 0.0
        for t in range(top, m):
            i = xi[t]
            if i < j:
                Ui[unz] = i
                Ux[unz] = x[i]
                unz += 1
            elif i > j:
                s += x[i]
        d[j] = s
        if s > 0.0:
            inv = 1.0 / s
            for t in range(top, m):
                i = xi[t]
                if i > j:
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
def tree_log_density(n, Wp, Wi, log_ratio, out, parent):
    """Log-density along a breadth-first spanning tree of a generator's jump graph.

    ``Wp, Wi``: CSC pattern of the off-diagonal rates (symmetric pattern);
    ``log_ratio[q] = log(w_{j→i} / w_{i→j})`` for entry ``q`` (row ``i``, column ``j``), which in
    detailed balance equals ``log p_i − log p_j``.  Fills ``out`` (``log p``, state 0 at 0) and
    ``parent``; returns the number of states reached.
    """
    for i in range(n):
        parent[i] = -2
    queue = np.empty(n, dtype=np.int64)
    parent[0] = -1
    out[0] = 0.0
    queue[0] = 0
    head = 0
    tail = 1
    while head < tail:
        j = queue[head]
        head += 1
        for q in range(Wp[j], Wp[j + 1]):
            i = Wi[q]
            if parent[i] == -2:
                parent[i] = j
                out[i] = out[j] + log_ratio[q]
                queue[tail] = i
                tail += 1
    return tail


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
def drift_basins(n, Wp, Wi, log_ratio, labels):
    """Basins of attraction of the discrete drift.

    Each state moves to the neighbour ``i`` of largest ``log_ratio = log(w_{j→i} / w_{i→j})``
    when that is positive (the jump the drift favours most), else stays.  Every state then
    flows into a terminal cycle of this map (a fixed point or a short rotation); attractors
    that touch (neighbours in the jump graph) are merged, so plateaus and rotating sinks count
    once.  Fills ``labels`` (0..count-1); returns the number of basins.
    """
    succ = np.empty(n, dtype=np.int64)
    for j in range(n):
        best = j
        bv = 0.0
        for q in range(Wp[j], Wp[j + 1]):
            if log_ratio[q] > bv:
                bv = log_ratio[q]
                best = Wi[q]
        succ[j] = best
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
    # union-find over attractor states that are neighbours
    root = np.arange(n)
    for j in range(n):
        if attractor[j]:
            for q in range(Wp[j], Wp[j + 1]):
                i = Wi[q]
                if attractor[i]:
                    a = j
                    while root[a] != a:
                        a = root[a]
                    b = i
                    while root[b] != b:
                        b = root[b]
                    if a != b:
                        root[max(a, b)] = min(a, b)
    for j in range(n):
        labels[j] = -1
    count = 0
    for j in range(n):
        if attractor[j]:
            a = j
            while root[a] != a:
                a = root[a]
            if labels[a] < 0:
                labels[a] = count
                count += 1
            labels[j] = labels[a]
    # every other state takes the label of the attractor it flows into
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
