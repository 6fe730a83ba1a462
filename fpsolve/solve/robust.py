"""Barrier-independent stationary solves and the componentwise acceptance test.

A generator ``L`` (columns sum to zero, non-negative off-diagonal rates) has a stationary
vector whose entries can span hundreds of orders of magnitude: in a double well with barrier
``ΔU`` the cells at the saddle carry ``exp(−ΔU/D)`` of the mass of the minima, and the split
between the wells is set by the tiny flow through them.  Elimination with subtractions (LU on
the pinned system, multigrid) loses those flows to cancellation, and the normwise residual
cannot see it.  Everything here works with sums of non-negative numbers, in log space where
values would under- or overflow:

* :class:`JumpGraph`: the off-diagonal rates, their log ratios ``log(w_{j→i} / w_{i→j})``, the
  outflow of each state, the componentwise residual of a density given by its log, and the
  basins of attraction of the discrete drift;
* :func:`tree_log_density`: in detailed balance (every edge consistent with one potential),
  the log-density as a sum of log rate ratios along a breadth-first spanning tree: O(n),
  exact, no linear solve;
* :func:`gth_log_density`: for any chain, Grassmann--Taksar--Heyman elimination (Gaussian
  elimination whose pivots are recomputed as sums of the off-diagonal entries of their column)
  as a supernodal (multifrontal) factorisation in a fill-reducing order (the grid's nested
  dissection, or minimum degree for stencils wider than one cell:
  :func:`fpsolve.solve.direct.fill_ordering`);
* :func:`first_passage_times`: the same elimination, left-looking (column by column), with sinks.
"""

from __future__ import annotations

import weakref
from functools import cached_property

import numba
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from .._kernels import gth
from .._memory import check_memory
from ..errors import SolverError
from .direct import PatternCache, fill_ordering

KOLMOGOROV_RTOL = 1e-12  # per edge, times (1 + |log p_i| + |log p_j|): rounding of the tree sums
FILL_GUESS = 8  # initial L and U storage, in multiples of nnz(A); grows by doubling if needed
RATIO_CHUNK = 1 << 17  # entries per block of JumpGraph.log_ratio (1 MB temporaries)


def _strip_diagonal(M: sp.csc_matrix | sp.csr_matrix):
    """``M`` (CSC or CSR with sorted indices) without its diagonal and explicit zeros, in the
    same format."""
    major = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
    keep = (M.indices != major) & (M.data != 0)
    indptr = np.concatenate(([0], np.cumsum(keep)))[M.indptr]
    return type(M)((M.data[keep], M.indices[keep], indptr), shape=M.shape)


def _offdiagonal(L: sp.spmatrix) -> sp.csc_matrix:
    L = sp.csc_matrix(L)
    if not L.has_sorted_indices:
        L = L.sorted_indices()
    return _strip_diagonal(L)


class JumpGraph:
    """The jump graph of a column generator ``L`` (``L[i, j] = w_{j→i}``).

    ``rows_of_L``, if the caller has it: ``L`` in CSR with sorted indices (the multigrid level's
    matrix), which spares the conversion.  One kernel strips the diagonal and explicit zeros and
    transposes: ``rows`` (row ``i``: the rates into state ``i``) and ``W`` (CSC, sorted).
    """

    def __init__(self, L: sp.spmatrix, rows_of_L: sp.csr_matrix | None = None):
        if rows_of_L is None:
            rows_of_L = sp.csr_matrix(L)
            if not rows_of_L.has_sorted_indices:
                rows_of_L = rows_of_L.sorted_indices()
        rp, ri, rx, cp, ci, cx = gth.off_diagonal_rates(rows_of_L.indptr, rows_of_L.indices, rows_of_L.data)
        self.rows = sp.csr_matrix((rx, ri, rp), shape=rows_of_L.shape)
        self.W = sp.csc_matrix((cx, ci, cp), shape=rows_of_L.shape)  # sorted
        self.n = self.W.shape[0]
        self.outflow = np.empty(self.n)  # Σ_i w_{j→i}, no cancellation
        gth.column_sums(self.W.indptr, self.W.data, self.outflow)
        self.symmetric = (np.array_equal(self.rows.indptr, self.W.indptr)
                          and np.array_equal(self.rows.indices, self.W.indices))

    @cached_property
    def log_ratio(self) -> np.ndarray:
        """``log(w_{j→i} / w_{i→j})`` per stored entry of ``W`` (``+inf`` where a jump has no
        reverse jump)."""
        if self.symmetric:
            reverse = self.rows.data
        else:
            W = self.W
            cols = np.repeat(np.arange(self.n), np.diff(W.indptr))
            reverse = np.asarray(W[cols, W.indices]).ravel()
        with np.errstate(divide="ignore"):
            ratio = np.log(self.W.data)
            for start in range(0, len(ratio), RATIO_CHUNK):  # no temporaries of nnz entries
                stop = start + RATIO_CHUNK
                ratio[start:stop] -= np.log(reverse[start:stop])
        return ratio

    def residual(self, log_p: np.ndarray, floor: float = -np.inf) -> np.ndarray:
        """Per state ``|inflow − outflow| / outflow`` for ``p = exp(log_p)`` (nan where ``p = 0``
        or ``log_p < floor``: states whose residual is not wanted are not computed)."""
        R = self.rows
        out = np.empty(self.n)
        gth.log_balance_residual(self.n, R.indptr, R.indices, R.data, np.ascontiguousarray(log_p, dtype=float),
                                 self.outflow, float(floor), out)
        return out


def tree_log_density(graph: JumpGraph) -> tuple[np.ndarray | None, float]:
    """``log p`` of a chain in detailed balance, or ``None`` if it is not.

    The log-density is accumulated along a breadth-first spanning tree from the log rate
    ratios, and every edge of the graph (tree or not) is checked against
    ``log p_i − log p_j = log(w_{j→i} / w_{i→j})`` (Kolmogorov's criterion, to rounding).
    Returns ``(log_p, worst edge mismatch relative to its tolerance)``; ``log_p`` has maximum 0.
    """
    if not graph.symmetric:
        return None, float("inf")
    ratio = graph.log_ratio
    W = graph.W
    log_p = np.empty(graph.n)
    reached, worst = gth.tree_log_density(graph.n, W.indptr, W.indices, ratio, KOLMOGOROV_RTOL, log_p)
    if worst > 1.0 or not np.isfinite(worst):
        return None, float(worst)
    if reached < graph.n:
        raise SolverError(f"the jump graph is not connected: {graph.n - reached} of {graph.n} cells "
                          f"cannot be reached from cell 0, so the stationary state is not unique")
    return log_p - log_p.max(), float(worst)


_BASIN_CACHE: dict[int, tuple] = {}  # id(problem) -> (weak reference, result); a few entries
_BASIN_CACHE_SIZE = 8


def drift_basins(problem) -> tuple[np.ndarray, int]:
    """Basins of attraction of the drift on the grid: ``(labels of grid.shape, count)`` (see
    :func:`fpsolve._kernels.gth.drift_basins` for the discrete flow that defines them).
    Remembered for the last few problems (the solve, its checks and ``basins()`` share it)."""
    hit = _BASIN_CACHE.get(id(problem))
    if hit is not None and hit[0]() is problem:
        return hit[1]
    result = _drift_basins(problem)
    if len(_BASIN_CACHE) >= _BASIN_CACHE_SIZE:
        _BASIN_CACHE.pop(next(iter(_BASIN_CACHE)))
    _BASIN_CACHE[id(problem)] = (weakref.ref(problem), result)
    return result


def _drift_basins(problem) -> tuple[np.ndarray, int]:
    grid = problem.grid
    shape = np.ones(3, dtype=np.int64)
    shape[: grid.ndim] = grid.shape
    periodic = np.zeros(3, dtype=np.bool_)
    periodic[: grid.ndim] = grid.periodic
    h = np.ones(3)
    h[: grid.ndim] = grid.spacing
    A = np.zeros((3, grid.size))
    A[: grid.ndim] = problem.drift_field.reshape(grid.ndim, -1)
    labels = np.empty(grid.size, dtype=np.int64)
    count = gth.drift_basins(shape, periodic, A, h, labels)
    labels = labels.reshape(grid.shape)
    labels.flags.writeable = False  # shared through the cache
    return labels, int(count)


def gth_factors(W: sp.csc_matrix, n: int):
    """GTH factors of the first ``n`` columns of a column generator's off-diagonal part ``W``
    (already in elimination order; rows ``n..`` are sinks)."""
    cap = max(FILL_GUESS * W.nnz, 1024)
    Sp, Si, parent = _symmetric_pattern(W, n)
    return gth.gth_factor(n, W.shape[0], _csc(W), Sp, Si, parent, cap)


def _symmetric_pattern(W: sp.csc_matrix, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSC pattern of ``|W| + |Wᵀ|`` on the first ``n`` states and its elimination tree."""
    square = W[:n, :n]
    square = (abs(square) + abs(square.T)).tocsc()
    square.sort_indices()
    Sp, Si = square.indptr.astype(np.int64), square.indices.astype(np.int64)
    parent = np.empty(n, dtype=np.int64)
    gth.elimination_tree(n, Sp, Si, parent)
    return Sp, Si, parent


_SYMBOLIC = PatternCache()  # (supernodes and fronts, subtree split) per ordered pattern (levels, repeats)
# Above this many states the elimination shares independent subtrees out to two threads
# (gth.subtree_split); below, the thread start and the split cost more than they save.
PARALLEL_GTH_STATES = 1 << 15


def _csc(M: sp.csc_matrix) -> gth.CSC:
    """The compressed columns of ``M`` as the GTH kernels take them (int64 indices)."""
    return gth.CSC(M.indptr.astype(np.int64), M.indices.astype(np.int64), M.data)


def _gth_ordered(W: sp.csc_matrix) -> tuple[np.ndarray, int]:
    """Supernodal GTH on the off-diagonal generator part ``W`` (already in elimination order):
    ``(log q rooted at the last state, highest state with a zero pivot or -1)``."""
    W = sp.csc_matrix(W)
    W.sort_indices()
    n = W.shape[0]
    key = PatternCache.key(W, (n,))
    cached = _SYMBOLIC.get(key)
    if cached is None:
        symbolic = gth.Supernodes(*gth.supernodal_symbolic(n, *_symmetric_pattern(W, n)))
        cached = (symbolic, gth.subtree_split(symbolic, 2) if n >= PARALLEL_GTH_STATES else None)
        _SYMBOLIC.put(key, cached)
    symbolic, split = cached
    if numba.get_num_threads() < 2:  # one thread here (NUMBA_NUM_THREADS, the coarse levels' thread)
        split = None
    extra = 0 if not split else split.group_base[-1] + 3 * (symbolic.max_front ** 2 + 2 * n)
    check_memory(8 * (symbolic.u_ptr[-1] + symbolic.stack_size + symbolic.max_front ** 2 + 4 * n + extra),
                 f"the GTH factors of {n} states", "use a coarser grid")
    T = W.T.tocsc()
    T.sort_indices()
    # the factors' storage from NumPy, not from inside the kernel: NumPy asks for transparent huge
    # pages for large blocks, so the 134 MB of U at 512² (SGLD) costs ~500 page faults, not the
    # ~33 000 that Numba's allocator takes (0.03 s against 0.16-0.18 s on the development VM)
    Ux = np.empty(symbolic.u_ptr[-1])
    stack = np.empty(max(symbolic.stack_size, 1))
    if split:  # independent subtrees on two threads: the same factor, bit for bit
        d = gth.supernodal_gth_factor_parallel(n, _csc(W), _csc(T), symbolic, Ux, stack, split,
                                               np.empty(max(split.group_base[-1], 1)))
    else:
        d = gth.supernodal_gth_factor(n, _csc(W), _csc(T), symbolic, Ux, stack)
    log_q = np.empty(n)
    bad = gth.supernodal_log_null(n, symbolic, Ux, d, n - 1, log_q)
    if bad >= 0:
        # state `bad` cannot leave the states not yet eliminated (rates that underflowed in the
        # elimination): it is recurrent in the censored chain, so the stationary vector of that
        # chain sits on it, and the eliminated states follow from it
        gth.supernodal_log_null(n, symbolic, Ux, d, bad, log_q)
    return log_q, bad


CLOSED_CLASS_STEPS = 64  # candidate states tried when looking for the closed class (each a pair of BFS)


def closed_class(graph: JumpGraph) -> np.ndarray | None:
    """The states of the chain's only closed communicating class (no jump leaves it), if the chain
    is reducible with exactly one; ``None`` if it is irreducible, has several closed classes, or
    none was found in ``CLOSED_CLASS_STEPS`` candidates.  Every other state is transient: its
    stationary probability is exactly 0.

    A state ``c`` is in a closed class when every state it reaches reaches it back; if not, some
    state it reaches cannot, and that state reaches strictly fewer states, so the search moves
    there.  (Breadth-first searches; SciPy 1.17's strongly connected components hang here.)"""
    forward = graph.W.T.tocsr()  # row j: the jumps out of state j
    backward = graph.W.tocsr()  # row i: the jumps into state i
    c = 0
    for _ in range(CLOSED_CLASS_STEPS):
        reach = np.zeros(graph.n, dtype=bool)
        reach[breadth_first_order(forward, c, directed=True, return_predecessors=False)] = True
        back = np.zeros(graph.n, dtype=bool)
        back[breadth_first_order(backward, c, directed=True, return_predecessors=False)] = True
        escaped = np.flatnonzero(reach & ~back)
        if len(escaped) == 0:
            if reach.all() or not back.all():  # irreducible, or some state cannot reach this class
                return None
            return np.flatnonzero(reach)
        c = int(escaped[0])
    return None


def gth_log_density(graph: JumpGraph, shape: tuple[int, ...]) -> np.ndarray:
    """``log p`` (maximum 0) by supernodal (multifrontal) GTH elimination in the fill-reducing
    order of :func:`~fpsolve.solve.direct.fill_ordering` (nested dissection of ``shape`` for short
    stencils, minimum degree for wide ones): dense fronts, one per supernode (the separators), eliminated by panels.

    A zero pivot means a state that cannot leave the states not yet eliminated.  If the chain is
    reducible with one closed class (some jumps have no reverse jump, so some states cannot be
    re-entered), the transient states get ``log p = -inf`` (exactly 0) and GTH runs on the closed
    class alone; otherwise the density is built on the state with the zero pivot."""
    order = fill_ordering(graph.W, tuple(shape))
    log_q, bad = _gth_ordered(graph.W[order][:, order])
    log_p = np.empty(graph.n)
    log_p[order] = log_q
    if bad >= 0:
        recurrent = closed_class(graph)
        if recurrent is not None:
            inside = np.zeros(graph.n, dtype=bool)
            inside[recurrent] = True
            sub = order[inside[order]]
            log_sub, _ = _gth_ordered(graph.W[sub][:, sub])
            log_p[:] = -np.inf
            log_p[sub] = log_sub
    return log_p - log_p.max()


def normalise_log(log_p: np.ndarray, cell_volume: float) -> tuple[np.ndarray, np.ndarray]:
    """``(p, log p)`` with ``Σ p · cell_volume = 1``; ``p`` underflows to 0 where ``log p`` is tiny."""
    top = float(np.max(log_p))
    w = np.exp(log_p - top)
    log_norm = top + np.log(w.sum() * cell_volume)
    log_p = log_p - log_norm
    return np.exp(log_p), log_p


def first_passage_times(L: sp.spmatrix, exit_rate: np.ndarray, transient: np.ndarray,
                        shape: tuple[int, ...]) -> np.ndarray:
    """Mean first-passage times ``τ`` solving ``Lᵀ τ = −1`` on the ``transient`` cells.

    ``exit_rate[j]``: total rate from cell ``j`` straight out of the transient set (through an
    absorbing wall or into a target cell), summed from the jump rates (no cancellation).  The
    exits form one extra sink state, never eliminated; GTH elimination in nested-dissection
    order then gives every ``τ`` by additions of non-negative numbers.  Returns ``τ`` on the
    transient cells (grid order), ``inf`` where it overflows.
    """
    order = fill_ordering(L, tuple(shape))
    order = order[transient[order]]
    n = len(order)
    W = _offdiagonal(L)[order][:, order].tocoo()
    rows = np.concatenate((W.row, np.full(n, n)))
    cols = np.concatenate((W.col, np.arange(n)))
    data = np.concatenate((W.data, exit_rate[order]))
    keep = data > 0
    A = sp.csc_matrix((data[keep], (rows[keep], cols[keep])), shape=(n + 1, n))
    A.sort_indices()
    Lp, Li, Lx, Up, Ui, Ux, d = gth_factors(A, n)
    tau = np.empty(n)
    with np.errstate(over="ignore"):
        bad = gth.gth_first_passage(n, Lp, Li, Lx, Up, Ui, Ux, d, tau)
    if bad >= 0:
        raise SolverError(f"cell {int(order[bad])} cannot reach the target or an absorbing wall: its "
                          f"mean first-passage time is infinite")
    out = np.empty(n)
    out[np.argsort(order)] = tau
    return out
