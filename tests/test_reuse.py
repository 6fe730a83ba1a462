"""Speed structures of the grid solver: fill-reducing orders, caches reused across solves."""

from __future__ import annotations


import numpy as np
import pytest

import fpsolve as fp
from fpsolve.solve import direct, robust
from fpsolve.solve.operator import assemble
from fpsolve.solve.robust import JumpGraph, gth_log_density

GTH_ORDER_RTOL = 1e-11  # GTH is subtraction-free in any order: two orders agree to a few roundings per step


def _wide_problem(n: int) -> fp.FokkerPlanck:
    """A constant, strongly anisotropic, rotated diffusion (Selling offsets up to ~8 cells) with a
    non-gradient drift."""
    c, s = np.cos(0.4), np.sin(0.4)
    R = np.array([[c, -s], [s, c]])
    D = R @ np.diag([1.0, 4e-3]) @ R.T
    K = np.array([[1.0, 0.7], [-0.7, 1.0]])
    grid = fp.Grid((-3, -3), (3, 3), (n, n))
    return fp.FokkerPlanck(grid, lambda x: -np.einsum("ij,j...->i...", K, x), D)


def test_fill_ordering_is_a_permutation_and_nested_dissection_for_short_stencils():
    op = assemble(_wide_problem(32))
    order = direct.fill_ordering(op.matrix, (32, 32))
    assert np.array_equal(np.sort(order), np.arange(32 * 32))
    assert np.abs(op.offsets).max() > 1
    assert not np.array_equal(order, direct.grid_ordering((32, 32)))
    grid = fp.Grid((-3, -3), (3, 3), (32, 32), boundary="periodic")
    short = assemble(fp.FokkerPlanck(grid, lambda x: -np.sin(x), 0.5))  # 5 points, wraps included
    assert np.array_equal(direct.fill_ordering(short.matrix, (32, 32)), direct.grid_ordering((32, 32)))


def test_gth_in_minimum_degree_order_matches_nested_dissection(monkeypatch):
    problem = _wide_problem(32)
    graph = JumpGraph(assemble(problem).matrix)
    fast = gth_log_density(graph, problem.grid.shape)
    monkeypatch.setattr(robust, "fill_ordering", lambda W, shape: direct.grid_ordering(tuple(shape)))
    reference = gth_log_density(graph, problem.grid.shape)
    finite = np.isfinite(reference)  # a few wall cells no jump reaches have log p = -inf in both
    assert finite.sum() > 0.99 * len(reference)
    assert np.array_equal(np.isfinite(fast), finite)
    scale = 1 + np.abs(reference[finite]).max()
    assert np.max(np.abs(fast[finite] - reference[finite])) <= GTH_ORDER_RTOL * scale


def test_stencil_reach_counts_cells_along_an_axis_and_wraps_the_short_way():
    from fpsolve._kernels.smooth import stencil_reach

    shape = np.array([6, 5], dtype=np.int64)
    rows = np.array([0, 0, 7])
    cols = np.array([1, 5 * 3 + 0, 7 + 4 - 2])  # (0,0)-(0,1): 1; (0,0)-(3,0): 3; (1,2)-(1,4): 2
    import scipy.sparse as sp

    A = sp.csr_matrix((np.ones(3), (rows, cols)), shape=(30, 30))
    assert stencil_reach(A.indptr, A.indices, shape, np.array([False, False])) == 3
    assert stencil_reach(A.indptr, A.indices, shape, np.array([True, False])) == 3  # 6 - 3 = 3
    wrap = sp.csr_matrix((np.ones(1), ([0], [5 * 5])), shape=(30, 30))  # (0,0)-(5,0)
    assert stencil_reach(wrap.indptr, wrap.indices, shape, np.array([False, False])) == 5
    assert stencil_reach(wrap.indptr, wrap.indices, shape, np.array([True, False])) == 1


@pytest.mark.filterwarnings("ignore::fpsolve.errors.BoundaryMassWarning")
def test_wide_stencil_starts_with_ilu_without_spending_the_gauss_seidel_budget(monkeypatch):
    from fpsolve.solve import multigrid, steady_state

    events = []
    gmres, use_ilu = multigrid.gmres, multigrid.Level.use_ilu

    def counting_gmres(*args, **kwargs):
        events.append("gmres")
        return gmres(*args, **kwargs)

    def counting_ilu(self):
        events.append("ilu")
        use_ilu(self)

    monkeypatch.setattr(multigrid, "gmres", counting_gmres)
    monkeypatch.setattr(multigrid.Level, "use_ilu", counting_ilu)
    monkeypatch.setattr(steady_state, "DIRECT_MAX_CELLS", 128 * 128)  # 128² solved directly
    state = fp.stationary(_wide_problem(256), order=2)
    assert "ILU(0) smoothing" in state.info.method
    assert state.info.path == "fast"
    # 256² is the one multigrid level (128² is solved directly): switched first, one GMRES run
    assert events[0] == "ilu" and events.count("gmres") == 1


GMRES_RTOL = 1e-10  # the solve stops at |b - A e| <= 1e-12 |b|; the system's condition number is ~1e2


def test_right_preconditioned_gmres_solves_a_nonsymmetric_system_and_restarts():
    import scipy.sparse as sp

    from fpsolve.solve import multigrid

    rng = np.random.default_rng(0)
    n = 400
    A = sp.random(n, n, density=0.02, random_state=1) + sp.diags(4.0 + rng.uniform(size=n))
    A = sp.csr_matrix(A)
    b = rng.normal(size=n)
    inv_diag = 1.0 / A.diagonal()
    ticks = []
    e, ok = multigrid.gmres(A, b, lambda r: inv_diag * r, 1e-12 * np.linalg.norm(b), 5, 200, ticks.append)
    assert ok and len(ticks) > 5  # needed more than one cycle of 5
    np.testing.assert_allclose(e, sp.linalg.spsolve(sp.csc_matrix(A), b), rtol=GMRES_RTOL, atol=GMRES_RTOL)
    e, ok = multigrid.gmres(A, b, lambda r: inv_diag * r, 1e-12 * np.linalg.norm(b), 5, 1, ticks.append)
    assert not ok  # one cycle of 5 is not enough: reported as not converged


def _kron_prolongation(coarse):
    """The reference: Kronecker product of the 1-D interpolations (how P was built before)."""
    import scipy.sparse as sp

    P = None
    for m, per in zip(coarse.shape, coarse.periodic):
        i = np.arange(2 * m)
        c = i // 2
        other = np.where(i % 2 == 0, c - 1, c + 1)
        if per:
            rows, cols = np.concatenate((i, i)), np.concatenate((c, np.mod(other, m)))
            vals = np.concatenate((np.full(2 * m, 0.75), np.full(2 * m, 0.25)))
        else:
            inside = (other >= 0) & (other < m)
            rows, cols = np.concatenate((i, i[inside])), np.concatenate((c, other[inside]))
            vals = np.concatenate((np.where(inside, 0.75, 1.0), np.full(int(inside.sum()), 0.25)))
        P1 = sp.csr_matrix((vals, (rows, cols)), shape=(2 * m, m))
        P = P1 if P is None else sp.kron(P, P1, format="csr")
    return P


TRANSFER_ROUNDING = 4e-16  # of max|x|: applied axis by axis, P x sums its 2^d terms in another order


def _dense(T) -> np.ndarray:
    """The matrix of a transfer, column by column (applied to the unit vectors)."""
    return np.column_stack([T @ e for e in np.eye(T.shape[1])])


@pytest.mark.parametrize("shape, boundary", [((4, 6), "reflecting"), ((5, 3), ("periodic", "reflecting")),
                                             ((3, 4, 3), ("reflecting", "periodic", "reflecting"))])
def test_transfers_equal_the_kronecker_prolongation_and_are_shared_per_grid(shape, boundary):
    from fpsolve.solve import multigrid

    ndim = len(shape)
    coarse = fp.Grid((0.0,) * ndim, (1.0,) * ndim, shape, boundary)
    P, R = multigrid._transfers(coarse)
    ref = _kron_prolongation(coarse)
    assert P.shape == ref.shape and R.shape == ref.T.shape
    # the weights are products of 3/4, 1/4, 1 and 1/2: a unit vector's image is exact
    assert np.array_equal(_dense(P), ref.toarray())  # bit for bit
    assert np.array_equal(_dense(R), ref.T.toarray() / 2**ndim)
    rng = np.random.default_rng(0)
    xc, xf = rng.normal(size=ref.shape[1]), rng.normal(size=ref.shape[0])
    np.testing.assert_allclose(P @ xc, ref @ xc, rtol=0, atol=TRANSFER_ROUNDING * np.abs(xc).max())
    np.testing.assert_allclose(R @ xf, ref.T @ xf / 2**ndim, rtol=0, atol=TRANSFER_ROUNDING * np.abs(xf).max())
    again = fp.Grid((0.0,) * ndim, (1.0,) * ndim, shape, boundary)
    assert multigrid._transfers(again)[0] is P  # one build per grid
    with pytest.raises(ValueError, match="flat array of"):
        P @ xf


def _ness_ou(n: int) -> fp.FokkerPlanck:
    K = np.array([[1.0, 1.5], [-0.5, 1.0]])
    return fp.FokkerPlanck(fp.Grid((-6, -6), (6, 6), (n, n)), lambda x: -np.einsum("ij,j...->i...", K, x),
                           np.diag([0.5, 0.25]))


def test_one_stationary_call_solves_each_level_once_and_reuse_changes_nothing(monkeypatch):
    from fpsolve.solve import steady_state

    once = steady_state._solve_discrete_once
    solved = []

    def counting(problem, *rest, **options):
        solved.append(problem.grid.shape)
        return once(problem, *rest, **options)

    monkeypatch.setattr(steady_state, "_solve_discrete_once", counting)
    monkeypatch.setattr(steady_state, "DIRECT_MAX_CELLS", 128 * 128)  # 128² by the pinned direct solve
    with pytest.raises(fp.errors.FPSolveError, match="order"):
        fp.stationary(_ness_ou(32), order=3)  # a call that raises leaves nothing behind either
    assert steady_state._SOLVED.get() is None
    state = fp.stationary(_ness_ou(128), check_boundary=False)
    # 128² direct: its pin comes from the 64² solve, which is also the Richardson level; 32² checks
    assert sorted(solved) == [(32, 32), (64, 64), (128, 128)]
    assert steady_state._SOLVED.get() is None  # nothing kept after the call
    monkeypatch.setattr(steady_state, "_solve_discrete", counting)  # no memory: levels re-solved
    fresh = fp.stationary(_ness_ou(128), check_boundary=False)
    assert len(solved) == 3 + 4  # the 64² level twice
    assert np.array_equal(state.density, fresh.density)
    assert np.array_equal(state.current, fresh.current)
    assert state.info.error_estimate == fresh.info.error_estimate


ODD_AGREEMENT = 1e-11  # of the peak (measured 4e-13): GMRES stops at a normwise residual 1e-13 of the scale
LINEAR_EXACT = 1e-12  # linear interpolation reproduces a linear function up to rounding


@pytest.mark.parametrize("periodic", [False, True])
def test_prolongation_between_non_nested_grids_is_linear_and_keeps_constants(periodic):
    from fpsolve.solve import multigrid

    boundary = ("periodic" if periodic else "reflecting", "reflecting")
    coarse = fp.Grid((0.0, 0.0), (1.0, 1.0), (5, 8), boundary)
    P, R = multigrid._transfers(coarse, (9, 16))  # odd first axis, nested second axis
    assert P.shape == (9 * 16, 5 * 8) and R.shape == (5 * 8, 9 * 16)
    np.testing.assert_allclose(P @ np.ones(40), 1.0, rtol=0, atol=LINEAR_EXACT)
    fine = fp.Grid((0.0, 0.0), (1.0, 1.0), (9, 16), boundary)
    xc, xf = coarse.mesh()[0].ravel(), fine.mesh()[0]
    inner = (xf > xc.min()) & (xf < xc.max())  # between the outermost coarse centres: no wrap, no wall
    np.testing.assert_allclose((P @ xc).reshape(9, 16)[inner], xf[inner], rtol=0, atol=LINEAR_EXACT)
    r = np.random.default_rng(0).normal(size=9 * 16)
    r -= r.mean()
    assert abs((R @ r).sum()) <= LINEAR_EXACT * np.abs(r).sum()  # consistent right-hand sides stay so


def test_offset_reach_equals_the_matrix_reach():
    from fpsolve._kernels.smooth import stencil_reach
    from fpsolve.solve import multigrid

    periodic = fp.Grid((-3, -3), (3, 3), (16, 16), boundary="periodic")
    for problem in (_wide_problem(32), fp.FokkerPlanck(periodic, lambda x: -np.sin(x), 0.5)):
        op = assemble(problem)
        A = op.matrix.tocsr()
        grid = problem.grid
        expected = stencil_reach(A.indptr, A.indices, np.asarray(grid.shape, dtype=np.int64),
                                 np.asarray(grid.periodic, dtype=np.bool_))
        assert multigrid.offset_reach(grid, op.offsets) == expected
    assert expected == 1  # the periodic 5-point stencil, wraps counted the short way


def test_odd_grid_is_solved_by_multigrid_and_matches_the_direct_solve():
    from fpsolve.solve.direct import PinnedLU

    state = fp.stationary(_ness_ou(131), check_boundary=False)  # 17161 cells: above DIRECT_MAX_CELLS
    assert "multigrid" in state.info.method and state.info.order == 2
    L = assemble(_ness_ou(131)).matrix
    p = state.discrete_density.ravel()
    ref = PinnedLU(L, (131, 131), int(np.argmax(p))).null_vector()
    ref /= ref.sum() * state.grid.cell_volume
    np.testing.assert_allclose(p, ref, rtol=0, atol=ODD_AGREEMENT * ref.max())


def test_initial_guess_does_not_amplify_the_coarse_tails():
    from fpsolve.solve import steady_state
    from fpsolve.solve.interpolate import interpolate_density
    from fpsolve.solve.multigrid import prolongation

    cg = fp.Grid((-6, -6), (6, 6), (32, 32))
    grid = fp.Grid((-6, -6), (6, 6), (64, 64))
    x, y = cg.mesh()
    p = np.exp(-(x**2 + y**2) / 2)
    tail = p < 1e-14
    rng = np.random.default_rng(1)
    p[tail] = np.where(rng.uniform(size=tail.sum()) < 0.5, 1e-300, 1e-16)  # rounding noise of a fast solve
    fourth = interpolate_density(p, cg, grid).ravel()
    guess = steady_state._initial_guess(p.ravel(), fourth, prolongation(cg))
    assert fourth.max() > 2 * p.max()  # the fourth-order interpolation of log p overshoots there
    assert guess.max() <= 1.0 + LINEAR_EXACT  # the Gaussian's peak (its quadratic log p is interpolated exactly)
    bulk = guess > 1e-6 * guess.max()
    assert np.array_equal(guess[bulk], fourth[bulk])

def test_minimum_degree_order_without_fill_is_the_complete_factorisations_order():
    """The ordering's incomplete factorisation (every entry dropped) gives SuperLU's column order
    of the complete factorisation, which it replaced (3-4× slower at 512²)."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    W = JumpGraph(assemble(_wide_problem(48)).matrix).W
    S = abs(W) + abs(W.T)
    S = sp.csc_matrix(S + sp.diags(np.asarray(S.sum(axis=0)).ravel() + 1.0))
    lu = spla.splu(S, permc_spec=direct.PINNED_ORDERING, diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    complete = np.empty(W.shape[0], dtype=np.int64)
    complete[lu.perm_c] = np.arange(W.shape[0])
    assert np.array_equal(direct._minimum_degree(W), complete)


def test_orderings_and_symbolic_factors_are_reused_per_pattern_only(monkeypatch):
    problem = _wide_problem(32)
    graph = JumpGraph(assemble(problem).matrix)
    first = gth_log_density(graph, problem.grid.shape)
    calls = []
    monkeypatch.setattr(direct, "_minimum_degree", lambda W: calls.append(W) or np.arange(W.shape[0]))
    symbolic = robust.gth.supernodal_symbolic
    monkeypatch.setattr(robust.gth, "supernodal_symbolic", lambda *a: calls.append(a) or symbolic(*a))
    again = gth_log_density(graph, problem.grid.shape)
    assert calls == [] and np.array_equal(again, first)  # same pattern: nothing recomputed, same numbers
    other = _wide_problem(34)
    gth_log_density(JumpGraph(assemble(other).matrix), other.grid.shape)
    assert len(calls) == 2  # a new pattern: its own ordering and symbolic factorisation


def test_pattern_cache_keeps_the_most_recent_patterns_within_its_byte_budget(monkeypatch):
    monkeypatch.setattr(direct, "PATTERN_CACHE_BYTES", 1000)
    cache = direct.PatternCache()
    for key in (b"a", b"b", b"c"):
        cache.put(key, (np.zeros(50), 3))  # 400 bytes each: two fit
    assert cache.get(b"a") is None and cache.get(b"b") is not None and cache.get(b"c") is not None
    cache.put(b"big", np.zeros(500))  # over the budget alone: kept, everything older dropped
    assert cache.get(b"big") is not None and cache.get(b"b") is None and cache.get(b"c") is None
    monkeypatch.setattr(direct, "PATTERN_CACHE_BYTES", 1 << 30)
    for i in range(direct.PATTERN_CACHE_SIZE + 1):
        cache.put(bytes([i]), np.zeros(1))
    assert cache.get(b"big") is None and cache.get(bytes([1])) is not None  # the oldest went first
    # nested tuples (the GTH cache's (supernodes, subtree split) pairs) count their arrays too
    monkeypatch.setattr(direct, "PATTERN_CACHE_BYTES", 1000)
    nested = direct.PatternCache()
    for key in (b"a", b"b", b"c"):
        nested.put(key, ((np.zeros(25), 1), (np.zeros(25), None)))  # 400 bytes each: two fit
    assert nested.get(b"a") is None and nested.get(b"b") is not None and nested.get(b"c") is not None


OUTFLOW_RTOL = 1e-15  # the same positive column sums as scipy's, added in another order (measured 3e-16)


@pytest.mark.parametrize("make", [lambda: assemble(_wide_problem(24)).matrix,
                                  lambda: assemble(_ness_ou(20)).matrix])
def test_jump_graph_from_the_sorted_rows_is_the_graph_from_the_matrix(make):
    """The one-pass kernel, from the rows the solve already has or from the matrix itself, gives
    scipy's off-diagonal part and its transpose array for array; explicit zeros and the diagonal
    are dropped."""
    L = make().tocsc()
    L.data[L.indices == 3] = 0.0  # explicit zeros in one row, kept as stored entries
    rows = L.tocsr()
    rows.sort_indices()
    W_ref = robust._offdiagonal(L)  # scipy: strip in CSC, then convert
    rows_ref = W_ref.tocsr()
    rows_ref.sort_indices()
    outflow_ref = np.asarray(W_ref.sum(axis=0)).ravel()
    for graph in (JumpGraph(L, rows), JumpGraph(L)):
        for a, b in ((graph.rows, rows_ref), (graph.W, W_ref)):
            assert a.has_sorted_indices
            for name in ("indptr", "indices", "data"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), name
        np.testing.assert_allclose(graph.outflow, outflow_ref, rtol=OUTFLOW_RTOL, atol=0)
        assert graph.symmetric == (np.array_equal(rows_ref.indptr, W_ref.indptr)
                                   and np.array_equal(rows_ref.indices, W_ref.indices))
        assert not np.any(graph.W.diagonal()) and np.all(graph.W.data != 0)


def test_3d_grid_above_the_direct_limit_is_solved_by_multigrid_and_matches_the_direct_solve():
    from fpsolve.solve.direct import PinnedLU
    from fpsolve.solve.steady_state import DIRECT_MAX_CELLS

    K = np.array([[1.0, 0.8, 0.0], [-0.8, 1.0, 0.3], [0.0, -0.3, 1.0]])
    problem = fp.FokkerPlanck(fp.Grid((-5.0,) * 3, (5.0,) * 3, (20, 20, 20)),
                              lambda x: -np.einsum("ij,j...->i...", K, x), 0.5 * np.eye(3))
    assert DIRECT_MAX_CELLS < problem.grid.size  # a two-level hierarchy: 20³ on 10³
    state = fp.stationary(problem, check_boundary=False)
    assert "multigrid" in state.info.method
    p = state.discrete_density.ravel()
    ref = PinnedLU(assemble(problem).matrix, problem.grid.shape, int(np.argmax(p))).null_vector()
    ref /= ref.sum() * state.grid.cell_volume
    np.testing.assert_allclose(p, ref, rtol=0, atol=ODD_AGREEMENT * ref.max())


def _rotated(problem: fp.FokkerPlanck, rotation: float) -> fp.FokkerPlanck:
    """``problem``'s grid and diffusion (so its stencil pattern) with the drift ``-(I + rotation J) x``."""
    K = np.array([[1.0, rotation], [-rotation, 1.0]])
    return fp.FokkerPlanck(problem.grid, lambda x: -np.einsum("ij,j...->i...", K, x), problem.diffusion)


def _empty_caches(monkeypatch):
    """Every cache a solve fills, empty: a fresh process as far as the numbers go."""
    from fpsolve.solve import multigrid

    monkeypatch.setattr(direct, "_ORDERINGS", direct.PatternCache())
    monkeypatch.setattr(robust, "_SYMBOLIC", direct.PatternCache())
    monkeypatch.setattr(robust, "_BASIN_CACHE", {})
    direct.grid_ordering.cache_clear()
    multigrid._transfers.cache_clear()


@pytest.mark.parametrize("make, n", [(_ness_ou, 128), (_wide_problem, 64)])
def test_a_sweep_on_one_grid_reuses_the_pattern_but_no_numbers_of_the_previous_field(monkeypatch, make, n):
    # 128² NESS OU: multigrid over the 64² GTH level (nested-dissection order) and the 32² check;
    # 64² wide stencil: GTH in minimum-degree order.  The second field has the same pattern, so the
    # sweep reuses the orderings and symbolic factors, and must give what an empty cache gives.
    first, second = _rotated(make(n), 0.7), _rotated(make(n), 1.3)
    _empty_caches(monkeypatch)
    fp.stationary(first, check_boundary=False)
    patterns = len(robust._SYMBOLIC._entries)
    swept = fp.stationary(second, check_boundary=False)
    assert len(robust._SYMBOLIC._entries) == patterns  # the same patterns: nothing new was factored
    _empty_caches(monkeypatch)
    alone = fp.stationary(second, check_boundary=False)
    assert np.array_equal(swept.density, alone.density)
    assert np.array_equal(swept.current, alone.current)
    assert swept.info.error_estimate == alone.info.error_estimate
    assert swept.info.method == alone.info.method


# Both paths pass the componentwise balance test (fast path: steady_state.ACCEPT_TOL on the bulk;
# GTH: rounding), so their 64² densities, and with them the extrapolated 128² density, agree to
# about that tolerance relative to the peak.
BOTTOM_PATHS_AGREE = 1e-8


def _counting_solvers(monkeypatch):
    """Record the shapes that GTH eliminates and that PinnedLU factors, in call order."""
    from fpsolve.solve import steady_state

    gth_shapes, pinned = [], []
    gth = steady_state.gth_log_density
    monkeypatch.setattr(steady_state, "gth_log_density", lambda g, shape: gth_shapes.append(shape) or gth(g, shape))
    factor = direct.PinnedLU.__init__

    def counting_factor(self, L, shape, pin):
        pinned.append(tuple(shape))
        factor(self, L, shape, pin)

    monkeypatch.setattr(direct.PinnedLU, "__init__", counting_factor)
    return gth_shapes, pinned


def test_bottom_level_of_a_hierarchy_is_factored_once_and_agrees_with_gth(monkeypatch):
    from fpsolve.solve import steady_state

    gth_shapes, pinned = _counting_solvers(monkeypatch)
    state = fp.stationary(_ness_ou(128), check_boundary=False)
    assert state.info.order == 4 and "2 levels" in state.info.method
    # the 64² bottom: one pinned factorisation, no GTH; the 32² level (its pin, and the
    # convergence check's third level) one factorisation too, pinned at its cell of least outflow
    assert gth_shapes == [] and pinned == [(32, 32), (64, 64)]

    once = steady_state._solve_discrete_once
    monkeypatch.setattr(steady_state, "_solve_discrete_once",
                        lambda problem, bottom=False, own=False: once(problem, own=True))
    gth_shapes.clear(), pinned.clear()
    before = fp.stationary(_ness_ou(128), check_boundary=False)  # 64² and 32² by GTH, 64² then factored
    assert sorted(gth_shapes) == [(32, 32), (64, 64)] and pinned == [(64, 64)]
    assert before.info.order == 4
    peak = before.density.max()
    assert np.abs(state.density - before.density).max() <= BOTTOM_PATHS_AGREE * peak
    assert abs(state.info.error_estimate - before.info.error_estimate) <= BOTTOM_PATHS_AGREE


def _two_wells(n: int) -> fp.FokkerPlanck:
    """A double well in x (attractors at (±1, 0), barrier 2.5 D) sheared by y: not a gradient, so
    no level is in detailed balance."""
    grid = fp.Grid((-2.5, -2.5), (2.5, 2.5), (n, n))
    return fp.FokkerPlanck(grid, lambda x: np.stack((-4 * x[0] * (x[0] ** 2 - 1) + 0.5 * x[1], -x[1])), 0.4)


def test_small_levels_are_factored_unless_they_are_the_users_grid_or_hold_several_basins(monkeypatch):
    from fpsolve.solve import steady_state

    gth_shapes, pinned = _counting_solvers(monkeypatch)
    own = fp.stationary(_ness_ou(64), check_boundary=False)  # the user's small grid: GTH
    assert own.info.path == "gth" and own.info.method.startswith("GTH elimination (small grid)")
    # its 32² Richardson level and 16² check level: pinned at the cell of least outflow
    assert gth_shapes == [(64, 64)] and sorted(pinned) == [(16, 16), (32, 32)]
    level = steady_state._solve_discrete(_ness_ou(32))  # a coarser level alone (not the user's grid)
    assert level.path == "fast" and "least outflow" in level.method
    exact = steady_state._solve_discrete(_ness_ou(32), own=True)
    assert exact.path == "gth"
    assert np.abs(level.p - exact.p).max() <= BOTTOM_PATHS_AGREE * exact.p.max()
    gth_shapes.clear(), pinned.clear()
    wells = fp.stationary(_two_wells(64), check_boundary=False, check_resolution=False)
    assert wells.info.basins == 2
    assert sorted(gth_shapes) == [(16, 16), (32, 32), (64, 64)] and pinned == []  # every level: GTH
