"""Metastable landscapes: basin masses and per-cell accuracy independent of the barrier height."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import quad
from scipy.special import logsumexp

import fpsolve as fp
from fpsolve.solve import steady_state as stationary_module
from fpsolve.solve.operator import assemble

EXACT_RTOL = 1e-8  # the bar for every cell above P_FLOOR; measured ~1e-13 (rounding of log sums)
P_FLOOR = 1e-200  # cells compared per cell
GTH_RTOL = 1e-10  # sparse GTH against the dense reference; both are subtraction-free (measured ~4e-14)
SYMMETRY_RTOL = 1e-10  # mirror-symmetric problems give mirror-symmetric densities (measured ~1e-13)
BARRIERS = (10, 40, 100, 300, 600)


def double_well(shape, barrier, tilt=0.0, gamma=0.0, D=None, box=None):
    """U = b (x² − 1)² + t x + |y|² / 2 with b = barrier · D; drift −(I − γR)∇U (R a rotation in
    the first two axes).  Its exact density is exp(−U / D) for every γ."""
    ndim = len(shape)
    D = 1.0 / barrier if D is None else D
    b = barrier * D
    if box is None:
        half = 6 * np.sqrt(D)
        box = ((-1.6,) + (-half,) * (ndim - 1), (1.6,) + (half,) * (ndim - 1))
    grid = fp.Grid(*box, shape)

    def grad(x):
        return np.stack([4 * b * x[0] * (x[0] ** 2 - 1) + tilt * D] + [x[i] for i in range(1, ndim)])

    def drift(x):
        g = grad(x)
        if gamma and ndim > 1:
            g = g.copy()
            g0 = g[0].copy()
            g[0] = g0 + gamma * g[1]
            g[1] = g[1] - gamma * g0
        return -g

    def potential(x):
        return b * (x[0] ** 2 - 1) ** 2 + tilt * D * x[0] + 0.5 * sum(x[i] ** 2 for i in range(1, ndim))

    return fp.FokkerPlanck(grid, drift, D), potential, D


def exact_log_density(problem, potential, D):
    grid = problem.grid
    log_p = -potential(grid.mesh()) / D
    return log_p - logsumexp(log_p) - np.log(grid.cell_volume)


def left_mass(state):
    return float(state.density[state.grid.mesh()[0] < 0].sum() * state.grid.cell_volume)


def dense_gth(L):
    """Stationary vector of a dense column generator by right-looking GTH elimination in the
    natural order: an independent reference (no sparsity, no ordering, no log space)."""
    A = np.array(L, dtype=float)
    n = A.shape[0]
    np.fill_diagonal(A, 0.0)
    d = np.zeros(n)
    for k in range(n - 1):
        d[k] = A[k + 1:, k].sum()
        A[k + 1:, k] /= d[k]
        A[k + 1:, k + 1:] += np.outer(A[k + 1:, k], A[k, k + 1:])
    p = np.zeros(n)
    p[-1] = 1.0
    for k in range(n - 2, -1, -1):
        p[k] = A[k, k + 1:] @ p[k + 1:] / d[k]
    return p / p.sum()


@pytest.mark.parametrize("tilt", [0.0, 3.0])
@pytest.mark.parametrize("barrier", BARRIERS)
@pytest.mark.parametrize("shape", [(2048,), (256, 16), (96, 8, 8)], ids=["1d", "2d", "3d"])
def test_exact_discrete_boltzmann_at_any_barrier(shape, barrier, tilt):
    problem, potential, D = double_well(shape, barrier, tilt)
    # the 3-D grid is coarse on purpose (a modest size): its cell values are still exact
    state = fp.stationary(problem, check_resolution=len(shape) < 3)
    assert state.status == "exact" and state.info.order == "exact (detailed balance)"
    assert state.info.componentwise_residual < 1e-12
    log_exact = exact_log_density(problem, potential, D)
    exact = np.exp(log_exact)
    sel = exact > P_FLOOR
    np.testing.assert_allclose(state.density[sel], exact[sel], rtol=EXACT_RTOL, atol=0)
    np.testing.assert_allclose(state.log_density[sel], log_exact[sel], rtol=0, atol=EXACT_RTOL)
    basins = state.basins()
    assert len(basins) == 2
    exact_masses = np.bincount(basins.labels.ravel(), weights=exact.ravel() * problem.grid.cell_volume)
    np.testing.assert_allclose(basins.masses, exact_masses, rtol=EXACT_RTOL)
    for b in range(2):  # the most probable cell of each basin
        in_b = np.where(basins.labels.ravel() == b, log_exact.ravel(), -np.inf)
        assert log_exact.ravel()[basins.cells[b]] == pytest.approx(in_b.max(), abs=EXACT_RTOL)  # ties
    assert sorted(np.sign(basins.points[:, 0])) == [-1, 1]
    if tilt == 0:
        assert left_mass(state) == pytest.approx(0.5, rel=EXACT_RTOL)


@pytest.mark.parametrize("barrier", [40, 100, 300])
def test_rotational_nonequilibrium_double_well_splits_exactly_in_half(barrier):
    problem, _, _ = double_well((160, 24), barrier, gamma=1.0, D=0.1, box=((-1.6, -1.2), (1.6, 1.2)))
    # the split, not the shape; the rotation pushes ~1e-3 of the mass onto the y walls
    state = fp.stationary(problem, order=2, check_resolution=False, check_boundary=False)
    assert state.info.path == "gth" and state.status == "verified" and state.info.basins == 2
    assert state.info.componentwise_residual < 1e-12
    assert left_mass(state) == pytest.approx(0.5, rel=SYMMETRY_RTOL)
    # the drift is odd under x -> -x: the discrete density is point-symmetric, cell by cell
    p = state.density
    sel = p > P_FLOOR
    np.testing.assert_allclose(p[sel], p[::-1, ::-1][sel], rtol=SYMMETRY_RTOL)
    assert state.entropy_production > 0


def test_fast_path_is_refused_where_it_loses_the_split():
    """What the fast path returns at barrier 100 (a wrong split or negative values) is never used."""
    problem, _, _ = double_well((160, 24), 100, gamma=1.0, D=0.1, box=((-1.6, -1.2), (1.6, 1.2)))
    raw, *_, failure = stationary_module._fast_solve(problem, assemble(problem))
    x = problem.grid.mesh()[0].ravel()
    wrong = failure is not None or abs(raw[x < 0].sum() / raw.sum() - 0.5) > 0.01
    assert wrong  # today's fast path cannot resolve this split
    state = fp.stationary(problem, order=2, check_resolution=False)
    assert state.info.path == "gth"


def test_fast_path_is_kept_at_low_barriers_where_the_boundary_flows_balance(monkeypatch):
    """Two basins but a low barrier: the fast solve resolves the split, its basins' inflows and
    outflows balance, and it is accepted; forcing GTH on the same problem gives the same density."""
    problem, _, _ = double_well((160, 48), 3, gamma=1.0, D=0.1, box=((-1.6, -1.2), (1.6, 1.2)))
    state = fp.stationary(problem, order=2, check_resolution=False, check_boundary=False)
    assert state.info.basins == 2 and state.info.path == "fast" and state.status == "converged"
    assert "boundary flows balanced" in state.info.method
    assert left_mass(state) == pytest.approx(0.5, rel=SYMMETRY_RTOL)
    monkeypatch.setattr(stationary_module, "_basin_flow_imbalance", lambda *args: float("inf"))
    robust = fp.stationary(problem, order=2, check_resolution=False, check_boundary=False)
    assert robust.info.path == "gth" and "boundary flows balance only to inf" in robust.info.method
    bulk = robust.density > 1e-6 * robust.density.max()
    np.testing.assert_allclose(state.density[bulk], robust.density[bulk], rtol=stationary_module.ACCEPT_TOL)


def test_high_barrier_skips_the_fast_path_on_a_small_estimate():
    """Above SMALL_SYSTEM cells, a small robust estimate whose basin boundary lies far below the
    peak sends the solve straight to GTH (the fast solve could not pass the flow balance); a low
    barrier still tries the fast path."""
    high, _, _ = double_well((160, 48), 100, gamma=1.0, D=0.1, box=((-1.6, -1.2), (1.6, 1.2)))
    assert "basin's boundary is at" in stationary_module._fast_path_hopeless(high)
    state = fp.stationary(high, order=2, check_resolution=False, check_boundary=False)
    assert state.info.path == "gth" and "fast path skipped" in state.info.method
    assert left_mass(state) == pytest.approx(0.5, rel=SYMMETRY_RTOL)
    low, _, _ = double_well((160, 48), 3, gamma=1.0, D=0.1, box=((-1.6, -1.2), (1.6, 1.2)))
    assert stationary_module._fast_path_hopeless(low) is None


def _split_quadrature(barrier, tilt):
    def f(x):
        return np.exp(-(barrier * (x * x - 1) ** 2 + tilt * x))

    left = quad(f, -1.6, 0, epsabs=0, epsrel=1e-13, points=[-1])[0]
    right = quad(f, 0, 1.6, epsabs=0, epsrel=1e-13, points=[1])[0]
    return left / (left + right)


# measured split errors (gamma = 0.5) at k = 1, 2, 4: barrier 20: 1.0e-3, 2.9e-4, 7.6e-5;
# barrier 40: 8.7e-4, 2.8e-4, 7.9e-5 (order ~1.9)
TILTED_SPLIT_FINEST = 1.5e-4


@pytest.mark.parametrize("barrier", [20, 40])
def test_tilted_rotational_split_converges_to_the_quadrature(barrier):
    exact = _split_quadrature(barrier, 2.0)
    errors = []
    for k in (1, 2, 4):
        problem, _, _ = double_well((80 * k, 16 * k), barrier, tilt=2.0, gamma=0.5, D=0.1,
                                    box=((-1.6, -1.6), (1.6, 1.6)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fp.UnderResolvedWarning)  # the coarsest level is coarse
            state = fp.stationary(problem, order=2)
        errors.append(abs(left_mass(state) / exact - 1))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < TILTED_SPLIT_FINEST


@pytest.mark.parametrize("case", ["rotational double well", "wide stencil, periodic", "1-D periodic"])
def test_sparse_gth_equals_dense_gth_per_cell(case):
    if case == "rotational double well":
        problem, _, _ = double_well((24, 12), 40, gamma=1.0, D=0.1, box=((-1.6, -1.2), (1.6, 1.2)))
    elif case == "wide stencil, periodic":
        grid = fp.Grid((-3, -3), (3, 3), (18, 14), ("periodic", "reflecting"))
        problem = fp.FokkerPlanck(
            grid, lambda x: np.stack((np.sin(x[0] * np.pi / 3) * 4 - x[1], -x[1] * 2 + np.cos(x[0]))),
            np.array([[0.2, 0.38], [0.38, 0.8]]))  # Selling offsets (1, 1), (1, 2), (2, 3)
        assert np.abs(assemble(problem).offsets).max() >= 3
    else:
        grid = fp.Grid(0.0, 1.0, 200, "periodic")
        problem = fp.FokkerPlanck(grid, lambda x: 3 + 20 * np.sin(2 * np.pi * x[0])[None] ** 3, 0.02)
    op = assemble(problem)
    reference = dense_gth(op.matrix.toarray())
    from fpsolve.solve.robust import JumpGraph, gth_log_density

    log_p = gth_log_density(JumpGraph(op.matrix), problem.grid.shape)
    p = np.exp(log_p - logsumexp(log_p))
    np.testing.assert_allclose(p, reference, rtol=GTH_RTOL, atol=0)
    # and the production path, whichever it takes, agrees cell by cell
    state = fp.stationary(problem, order=2, check_boundary=False, check_resolution=False)
    got = state.discrete_density.ravel() * problem.grid.cell_volume
    np.testing.assert_allclose(got, reference, rtol=GTH_RTOL, atol=0)


def _left_looking_log_density(L, shape):
    """The column-by-column sparse GTH (the kernel mean first-passage times use): a second,
    independent elimination to compare the supernodal one with on grids too big for dense GTH."""
    from fpsolve._kernels import gth
    from fpsolve.solve.direct import grid_ordering
    from fpsolve.solve.robust import JumpGraph, gth_factors

    order = grid_ordering(tuple(shape))
    W = JumpGraph(L).W[order][:, order].tocsc()
    W.sort_indices()
    n = W.shape[0]
    _, _, _, Up, Ui, Ux, d = gth_factors(W, n)
    log_q = np.empty(n)
    bad = gth.gth_log_null(n, Up, Ui, Ux, d, log_q)
    if bad >= 0:
        log_q[:] = -np.inf
        gth.gth_log_null(bad + 1, Up, Ui, Ux, d, log_q[: bad + 1])
    log_p = np.empty(n)
    log_p[order] = log_q
    return log_p - log_p.max()


@pytest.mark.parametrize("case", ["rotational 2-D", "random 3-D", "one-way state"])
def test_supernodal_gth_equals_left_looking_gth_per_cell(case):
    from fpsolve.solve.robust import JumpGraph, gth_log_density

    if case == "rotational 2-D":
        problem, _, _ = double_well((96, 80), 100, gamma=1.0, D=0.1, box=((-1.6, -1.2), (1.6, 1.2)))
        L, shape = assemble(problem).matrix, problem.grid.shape
    else:
        shape = (12, 10, 8)
        L = assemble(fp.FokkerPlanck(fp.Grid((0, 0, 0), (1, 1, 1), shape), np.zeros((3,) + shape), 0.1)).matrix
        L = L.tocoo()
        rng = np.random.default_rng(3)
        off = L.row != L.col
        rows, cols = L.row[off], L.col[off]
        rates = np.exp(rng.uniform(-300, 300, size=rows.size))  # rates over 260 decades
        if case == "one-way state":  # states 500, 501 can be entered, not left: the chain is reducible
            rates[((cols == 500) & (rows != 501)) | ((cols == 501) & (rows != 500))] = 0.0
        W = sp.csc_matrix((rates, (rows, cols)), shape=L.shape)
        L = W - sp.diags(np.asarray(W.sum(axis=0)).ravel())
    got = gth_log_density(JumpGraph(L), shape)
    ref = _left_looking_log_density(L, shape)
    assert np.array_equal(np.isneginf(got), np.isneginf(ref))
    live = np.isfinite(ref) & (ref > np.log(P_FLOOR))
    np.testing.assert_allclose(got[live], ref[live], rtol=0, atol=GTH_RTOL)  # log p: relative accuracy of p
    if case == "one-way state":  # all the mass in the closed pair, in the ratio of its two rates
        assert np.isfinite(got).sum() == 2
        ratio = L[500, 501] / L[501, 500]
        assert got[500] - got[501] == pytest.approx(np.log(ratio), rel=0, abs=GTH_RTOL)


def _reference_log_null(sn, Ux, d, last, safe):
    """The back substitution of :func:`fpsolve._kernels.gth.supernodal_log_null` term by term in
    log space (``logsumexp``), in plain NumPy: ``(log q, pivots whose scaled row sum falls below
    ``safe`` of its scale)``, the second counted as the kernel holds its rows (``e_b = q_b / e^top``)."""
    n = len(d)
    out = np.full(n, -np.inf)
    out[last] = 0.0
    redone = 0
    for s in range(len(sn.first) - 2, -1, -1):
        f, k = sn.first[s], sn.first[s + 1] - sn.first[s]
        if f > last:
            continue
        rows = np.concatenate((np.arange(f, f + k), sn.update_rows[sn.update_ptr[s]:sn.update_ptr[s + 1]]))
        m, base = len(rows), sn.u_ptr[s]
        top = out[rows].max()
        for t in range(k - 1, -1, -1):
            i = f + t
            if i >= last or d[i] <= 0:
                continue
            u, v = Ux[base + t * m + t + 1: base + (t + 1) * m], out[rows[t + 1:]]
            with np.errstate(divide="ignore", under="ignore", over="ignore"):
                scaled = float(np.sum(u * np.exp(v - top))) if np.isfinite(top) else 0.0
            redone += bool(scaled < safe * (u.sum() + m))
            live = (u > 0) & np.isfinite(v)
            if not live.any():
                continue
            out[i] = logsumexp(np.log(u[live]) + v[live]) - np.log(d[i])
            top = max(top, out[i])
    return out, redone


def test_supernodal_log_null_matches_log_space_reference_where_scaled_sums_underflow():
    """A detailed-balance chain on a 40 x 36 grid, ``p ∝ e^-U`` with ``U`` tilted over 2400 (rates
    ``c_ab e^{-(U_b - U_a)/2}``, symmetric ``c_ab`` over 4 decades), in fill-reducing order: the
    separators' fronts hold rows whose densities differ by more than the double range, so many of
    the kernel's scaled row sums underflow and are redone in log space (``gth.SCALED_SAFE``).  The
    kernel's ``log q`` equals the term-by-term log-space reference on the same factors in every
    cell (``-inf`` pattern included) to ``GTH_RTOL`` of the log range.  Without the log-space
    redo, 10 more cells came out ``-inf`` (measured)."""
    from fpsolve._kernels import gth
    from fpsolve.solve import robust
    from fpsolve.solve.direct import fill_ordering

    shape = (40, 36)
    x, y = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    U = (900.0 * x + 300.0 * np.sin(3 * y) * x).ravel()
    L = assemble(fp.FokkerPlanck(fp.Grid((-1, -1), (1, 1), shape), np.zeros((2,) + shape), 0.1)).matrix.tocoo()
    off = L.row != L.col
    rows, cols = L.row[off], L.col[off]  # the jump cols -> rows
    c = np.exp(np.random.default_rng(5).uniform(-5.0, 5.0, size=L.shape[0] * 8))
    c = c[(np.minimum(rows, cols) * 7919 + np.maximum(rows, cols)) % c.size]  # one c per edge
    W = sp.csc_matrix((c * np.exp(-(U[rows] - U[cols]) / 2), (rows, cols)), shape=L.shape)
    order = fill_ordering(W, shape)
    W = sp.csc_matrix(W[order][:, order])
    W.sort_indices()
    n = W.shape[0]
    sn = gth.Supernodes(*gth.supernodal_symbolic(n, *robust._symmetric_pattern(W, n)))
    T = W.T.tocsc()
    T.sort_indices()
    Ux, stack = np.empty(sn.u_ptr[-1]), np.empty(max(sn.stack_size, 1))
    d = gth.supernodal_gth_factor(n, robust._csc(W), robust._csc(T), sn, Ux, stack)
    got = np.empty(n)
    gth.supernodal_log_null(n, sn, Ux, d, n - 1, got)
    ref, redone = _reference_log_null(sn, Ux, d, n - 1, gth.SCALED_SAFE)
    assert redone > 0  # the case exercises the log-space redo
    assert np.array_equal(np.isneginf(got), np.isneginf(ref))
    live = np.isfinite(ref)
    np.testing.assert_allclose(got[live], ref[live], rtol=0, atol=GTH_RTOL * np.abs(ref[live]).max())


def test_parallel_subtree_gth_factor_is_the_serial_factor_bit_for_bit(monkeypatch):
    """The two-thread elimination of independent subtrees (``gth.subtree_split``,
    ``supernodal_gth_factor_parallel``) on a 96 x 80 chain with rates over 10 decades in
    fill-reducing order: every supernode is eliminated once (by a group or by the remainder, the
    groups' subtree roots flagged in the remainder), the work is shared to ``SPLIT_BALANCE``, and
    the pivots and every written entry of U equal the serial kernel's bit for bit."""
    from fpsolve._kernels import gth
    from fpsolve.solve import robust
    from fpsolve.solve.direct import fill_ordering

    shape = (96, 80)
    L = assemble(fp.FokkerPlanck(fp.Grid((-1, -1), (1, 1), shape), np.zeros((2,) + shape),
                                 np.array([[0.1, 0.06], [0.06, 0.1]]))).matrix.tocoo()
    off = L.row != L.col
    rate = L.data[off] * np.exp(np.random.default_rng(7).uniform(-11.5, 11.5, off.sum()))
    W = sp.csc_matrix((rate, (L.row[off], L.col[off])), shape=L.shape)
    order = fill_ordering(W, shape)
    W = sp.csc_matrix(W[order][:, order])
    W.sort_indices()
    n = W.shape[0]
    sn = gth.Supernodes(*gth.supernodal_symbolic(n, *robust._symmetric_pattern(W, n)))
    split = gth.subtree_split(sn, 2)
    assert split is not None
    ns = sn.first.shape[0] - 1
    seen = np.concatenate([split.group_order, split.rest[split.roots == 0]])
    assert np.array_equal(np.sort(seen), np.arange(ns))  # each supernode once
    assert set(split.rest[split.roots == 1]) <= set(split.group_order)
    work, _, _ = gth.subtree_work(sn)
    loads = [work[split.rest[(split.roots == 1)][np.isin(split.rest[split.roots == 1],
                                                          split.group_order[a:b])]].sum()
             for a, b in zip(split.group_ptr[:-1], split.group_ptr[1:])]
    assert min(loads) >= gth.SPLIT_BALANCE * max(loads)
    T = W.T.tocsc()
    T.sort_indices()
    stack = np.empty(max(sn.stack_size, 1))
    serial, parallel = np.full(sn.u_ptr[-1], np.nan), np.full(sn.u_ptr[-1], np.nan)
    d_serial = gth.supernodal_gth_factor(n, robust._csc(W), robust._csc(T), sn, serial, stack)
    d_parallel = gth.supernodal_gth_factor_parallel(n, robust._csc(W), robust._csc(T), sn, parallel, stack,
                                                    split, np.empty(max(split.group_base[-1], 1)))
    assert np.array_equal(d_serial, d_parallel)
    assert np.array_equal(serial, parallel, equal_nan=True)
    # the solver's path: serial below PARALLEL_GTH_STATES, split above (with two threads)
    # (a fresh pattern cache for each: the split is decided when the pattern is first seen)
    from fpsolve.solve.direct import PatternCache

    monkeypatch.setattr(robust, "PARALLEL_GTH_STATES", n + 1)
    monkeypatch.setattr(robust, "_SYMBOLIC", PatternCache())
    log_serial, bad_serial = robust._gth_ordered(W)
    monkeypatch.setattr(robust, "PARALLEL_GTH_STATES", n)
    monkeypatch.setattr(robust, "_SYMBOLIC", PatternCache())
    calls = []
    kernel = gth.supernodal_gth_factor_parallel
    monkeypatch.setattr(gth, "supernodal_gth_factor_parallel", lambda *a: calls.append(1) or kernel(*a))
    log_parallel, bad_parallel = robust._gth_ordered(W)
    import numba

    assert len(calls) == (1 if numba.get_num_threads() > 1 else 0)
    assert bad_serial == bad_parallel
    assert np.array_equal(log_serial, log_parallel)


def test_reducible_chain_transient_states_get_zero_and_the_closed_class_is_exact():
    """Jumps with no reverse jump can leave states that are never re-entered (wide stencils near a
    wall).  The last three states of the elimination order are made such states (rooting the back
    substitution at the highest zero pivot, a transient state, got this wrong): they are transient,
    their probability is exactly 0, and the closed class matches dense GTH on that class alone."""
    from fpsolve.solve.direct import grid_ordering
    from fpsolve.solve.robust import JumpGraph, closed_class, gth_log_density

    shape = (16, 12)
    L = assemble(fp.FokkerPlanck(fp.Grid((0, 0), (1, 1), shape), np.zeros((2,) + shape), 0.1)).matrix.tocoo()
    off = L.row != L.col
    rows, cols = L.row[off], L.col[off]
    rates = np.exp(np.random.default_rng(5).uniform(-20, 20, size=rows.size))
    last = grid_ordering(shape)[-3:]
    rates[np.isin(rows, last)] = 0.0  # nothing jumps into the last three: left, never re-entered
    W = sp.csc_matrix((rates, (rows, cols)), shape=L.shape)
    L = W - sp.diags(np.asarray(W.sum(axis=0)).ravel())
    graph = JumpGraph(L)
    recurrent = closed_class(graph)
    assert recurrent is not None and len(recurrent) == graph.n - 3 and not np.isin(last, recurrent).any()
    log_p = gth_log_density(graph, shape)
    assert np.isneginf(log_p[last]).all() and np.isfinite(np.delete(log_p, last)).all()
    reference = dense_gth(L.toarray()[np.ix_(recurrent, recurrent)])
    p = np.exp(log_p[recurrent] - logsumexp(log_p[recurrent]))
    np.testing.assert_allclose(p, reference, rtol=GTH_RTOL, atol=0)
    assert np.nanmax(graph.residual(log_p)) < 1e-12
    assert closed_class(JumpGraph(assemble(fp.FokkerPlanck(fp.Grid((0, 0), (1, 1), shape),
                                                           np.zeros((2,) + shape), 0.1)).matrix)) is None


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["with_replacement", "without_replacement"])
def test_tanh_unit_sgd_64_is_verified_with_its_transient_wall_cells(scheme):
    """The wide anisotropic stencils of the SGD noise have jumps without a reverse jump; at 64² on
    (−0.3, 0.3)² some cells are never re-entered.  This came back "under-resolved" (the zero pivot
    of such a cell was taken as the chain's recurrent state); it is exact for the discrete chain."""
    x, y, _ = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhUnit(), x, y, noise_std=0.1, weight_decay=1e-3)
    sgd = fp.SGD(learning_rate=3e-4, batch_size=10, temperature=1e-2, scheme=scheme,
                 epoch_noise="leading_order")  # Monte Carlo epoch noise on a grid takes hours
    problem = sgd.fokker_planck(land, fp.Grid((-0.3, -0.3), (0.3, 0.3), (64, 64)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = fp.stationary(problem, order=2)
    assert state.status == "verified" and state.info.componentwise_residual < 1e-12
    assert "transient in the discrete chain" in state.info.method


def test_fast_path_on_a_single_basin_passes_the_componentwise_test(ou_problem, monkeypatch):
    monkeypatch.setattr(stationary_module, "DIRECT_MAX_CELLS", 96 * 96)  # the pinned direct solve
    state = fp.stationary(ou_problem(96), order=2)
    assert state.info.path == "fast" and state.status == "converged" and state.info.basins == 1
    assert state.info.componentwise_residual < stationary_module.ACCEPT_TOL
    assert state.info.checked_cells > 0
    from fpsolve.solve.robust import JumpGraph, gth_log_density

    log_ref = gth_log_density(JumpGraph(state.operator.matrix), state.grid.shape)
    reference = np.exp(log_ref - logsumexp(log_ref))
    got = state.discrete_density.ravel() * state.grid.cell_volume
    sel = reference > stationary_module.BULK_FLOOR * reference.max()  # where it is accepted
    np.testing.assert_allclose(got[sel], reference[sel], rtol=1e-10)
    basins = state.basins()
    assert len(basins) == 1 and basins.masses[0] == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(basins.points[0], 0.0, atol=state.grid.spacing[0])


def test_small_grids_take_gth_and_are_exact_in_every_cell(ou_problem):
    state = fp.stationary(ou_problem(24), order=2, check_resolution=False)
    assert state.info.path == "gth" and state.status == "verified"
    reference = dense_gth(state.operator.matrix.toarray())
    got = state.discrete_density.ravel() * state.grid.cell_volume
    np.testing.assert_allclose(got, reference, rtol=GTH_RTOL, atol=0)  # far tails included


def test_basins_label_the_wells_and_sum_to_one():
    problem, _, _ = double_well((64, 16), 10, tilt=1.0, gamma=0.5, D=0.1, box=((-1.6, -1.2), (1.6, 1.2)))
    state = fp.stationary(problem, order=2)
    basins = state.basins()
    assert basins.labels.shape == problem.grid.shape and len(basins) == 2
    assert basins.masses.sum() == pytest.approx(1.0, abs=1e-13)
    x = problem.grid.mesh()[0]
    left = basins.labels[0, 0]
    assert np.all(basins.labels[x < -0.3] == left) and np.all(basins.labels[x > 0.3] != left)
    assert basins.masses[left] == pytest.approx(left_mass(state), abs=1e-2)  # boundary ~ x = 0


def _mfpt_quadrature(barrier, x0, x1, lower=-2.0):
    """τ(x0 → x1) = D⁻¹ ∫_{x0}^{x1} dy ∫_{lower}^{y} exp((U(y) − U(z)) / D) dz, U / D = barrier (x² − 1)²,
    reflecting at ``lower``: the exact continuous mean first-passage time in 1-D."""
    def u(x):
        return barrier * (x * x - 1) ** 2

    def inner(y):
        return quad(lambda z: np.exp(u(y) - u(z)), lower, y, epsabs=0, epsrel=1e-12, limit=200)[0]

    return barrier * quad(inner, x0, x1, epsabs=0, epsrel=1e-10, limit=200, points=[0])[0]


def _kramers(barrier):
    """Kramers: τ = 2π / sqrt(U''(min) |U''(saddle)|) · exp(ΔU / D) with U = b (x² − 1)², D = b / barrier."""
    b = 1.0
    return 2 * np.pi / np.sqrt(8 * b * 4 * b) * np.exp(barrier)


MFPT_QUADRATURE_RTOL = 1e-3  # 1600 cells; measured 1.9e-5 .. 6.2e-4 (h², the wells narrow as the barrier grows)


@pytest.mark.parametrize("barrier", [10, 40, 100, 300])
def test_mean_first_passage_time_between_basins_kramers_and_quadrature(barrier):
    grid = fp.Grid(-2.0, 2.0, 1600)
    problem = fp.FokkerPlanck(grid, lambda x: -4 * x * (x ** 2 - 1), 1.0 / barrier)
    target = grid.axes[0] >= 1.0
    tau = fp.mean_first_passage_time(problem, start=[-1.0], target=target)
    x0 = grid.axes[0][int(1.0 / grid.spacing[0])]
    x1 = grid.axes[0][target][0]
    # Kramers' first correction is O(D / ΔU): measured 4.3e-2, 9.6e-3, 3.6e-3, 6e-4
    assert tau == pytest.approx(_mfpt_quadrature(barrier, x0, x1), rel=MFPT_QUADRATURE_RTOL)
    assert abs(tau / _kramers(barrier) - 1) < 1.0 / barrier
    taus = fp.mean_first_passage_time(problem, target=target)
    t = taus[~target]
    assert np.all(taus[target] == 0) and np.all(np.diff(t) <= 1e-14 * t[:-1])  # nearer start, shorter


def test_mean_first_passage_time_2d_equals_the_separable_1d_time():
    barrier = 100
    problem, _, D = double_well((400, 16), barrier, box=((-2.0, -6 * 0.1), (2.0, 6 * 0.1)))
    grid = problem.grid
    target = grid.mesh()[0] >= 1.0
    tau2 = fp.mean_first_passage_time(problem, start=[-1.0, 0.0], target=target)
    line = fp.Grid(-2.0, 2.0, 400)
    tau1 = fp.mean_first_passage_time(fp.FokkerPlanck(line, lambda x: -4 * x * (x ** 2 - 1), D),
                                      start=[-1.0], target=line.axes[0] >= 1.0)
    assert tau2 == pytest.approx(tau1, rel=1e-10)  # the y motion is independent of x
    assert abs(tau2 / _kramers(barrier) - 1) < 1.0 / barrier


def test_mean_first_passage_time_rejects_bad_targets():
    grid = fp.Grid(-2.0, 2.0, 50)
    problem = fp.FokkerPlanck(grid, lambda x: -x, 1.0)
    with pytest.raises(ValueError, match=r"needs an absorbing wall or a non-empty target"):
        fp.mean_first_passage_time(problem)
    with pytest.raises(ValueError, match=r"target must be a boolean array of the grid's shape \(50,\); got shape \(49,\)"):
        fp.mean_first_passage_time(problem, target=np.ones(49, dtype=bool))
    with pytest.raises(ValueError, match=r"got dtype float64"):
        fp.mean_first_passage_time(problem, target=np.ones(50))
    with pytest.raises(ValueError, match=r"target covers every cell"):
        fp.mean_first_passage_time(problem, target=np.ones(50, dtype=bool))


def _periodic_jump(n):
    grid = fp.Grid(0.0, 3.3, n, "periodic")  # 3.3 periods of sin(2πx): the drift jumps at the wrap
    return fp.FokkerPlanck(grid, lambda x: 2 * np.sin(2 * np.pi * x) + 0.5, 0.3)


def _periodic_exact(grid, a=lambda x: 2 * np.sin(2 * np.pi * x) + 0.5, D=0.3, m=400001):
    """Constant-current stationary density of a 1-D periodic problem at the cell centres:
    p = e^φ (p(0) − I), φ = ∫A/D, I = ∫e^{−φ}, with p(0) fixed by periodicity (fine trapezoid)."""
    x = np.linspace(grid.lower[0], grid.upper[0], m)
    f = a(x) / D
    phi = np.concatenate(([0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(x))))
    g = np.exp(-phi)
    I = np.concatenate(([0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * np.diff(x))))
    p0 = I[-1] / (1 - np.exp(-phi[-1]))
    p = np.interp(grid.axes[0], x, np.exp(phi) * (p0 - I))
    return p / (p.sum() * grid.spacing[0])


def test_periodic_jump_returns_order_2_and_says_why():
    for n in (300, 1200):
        problem = _periodic_jump(n)
        exact = _periodic_exact(problem.grid)
        with pytest.warns(fp.PeriodicMismatchWarning, match=r"periodic wrap of axis 0: it jumps by up to [0-9.]+"):
            auto = fp.stationary(problem)
        assert auto.info.order == 2 and "below 3" in auto.info.extrapolation
        with pytest.warns(fp.ExtrapolationWarning, match=r"order=4 not applied: order 2: observed"):
            asked = fp.stationary(problem, order=4)
        assert asked.info.order == 2
        second = fp.stationary(problem, order=2)
        tv = [0.5 * np.abs(s.density - exact).sum() * problem.grid.spacing[0] for s in (auto, second)]
        assert tv[0] <= tv[1]  # never worse than second order


def test_kink_extrapolates_only_where_it_helps():
    """A ReLU kink in a non-equilibrium drift: whatever order is chosen, it is not worse than 2."""
    def problem(n):
        grid = fp.Grid((-4, -4), (4, 4), (n, n))
        return fp.FokkerPlanck(grid, lambda x: np.stack((-(x[0] + 3 * np.maximum(x[0], 0)) + x[1],
                                                         -x[1] - 0.8 * x[0])), 0.5)
    from fpsolve.solve.interpolate import resample

    ref = fp.stationary(problem(512), order=2)
    for n in (64, 128):
        auto, second = fp.stationary(problem(n)), fp.stationary(problem(n), order=2)
        exact = resample(ref.density, ref.grid, auto.grid)
        tv = [0.5 * np.abs(s.density - exact).sum() * auto.grid.cell_volume for s in (auto, second)]
        assert auto.info.extrapolation.startswith(f"order {auto.info.order}")
        assert tv[0] <= tv[1]


def test_narrow_density_warns_naming_width_spacing_and_grid():
    """64² non-equilibrium OU scaled so that the standard deviation is 0.026 cell widths."""
    K = np.array([[1.0, 1.5], [-0.5, 1.0]])
    grid = fp.Grid((-6, -6), (6, 6), (64, 64))
    scale = 0.026 * grid.spacing[0] / np.sqrt(0.5)  # exact marginal sd ~ 0.026 cells
    with pytest.warns(fp.UnderResolvedWarning, match=r"width along axis [01] is [0-9.e-]+ \([0-9.e-]+ cells of "
                                                     r"spacing 0.188\).* shape \(1024, 1024\)"):
        fp.stationary(fp.FokkerPlanck(grid, lambda x: -np.einsum("ij,j...->i...", K, x),
                                      np.diag([0.5, 0.25]) * scale ** 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", fp.UnderResolvedWarning)
        fp.stationary(fp.FokkerPlanck(grid, lambda x: -np.einsum("ij,j...->i...", K, x), np.diag([0.5, 0.25])))


def test_half_resolution_level_in_a_second_thread_changes_no_bit(monkeypatch):
    """While GTH eliminates the fine level, the half- and quarter-resolution levels (Richardson's
    and the convergence check's) are solved in a second thread (``OVERLAP_CELLS``, lowered here to
    reach a 160 x 48 grid): the state is bit for bit the one solved level after level, and the
    thread did run (each level was solved once, so its results were the ones used)."""
    import numba

    @numba.njit(parallel=True)
    def first_parallel_launch(n):  # chooses Numba's threading layer, as a large assembly does
        total = 0.0
        for i in numba.prange(n):
            total += i
        return total

    first_parallel_launch(4)
    problem, _, _ = double_well((160, 48), 100, gamma=1.0, D=0.1, box=((-1.6, -1.2), (1.6, 1.2)))
    serial = fp.stationary(problem, check_boundary=False, check_resolution=False)
    assert serial.info.path == "gth" and "ratio" in serial.info.extrapolation  # the half level was solved
    started = []
    original = stationary_module._start_half_resolution

    def spy(p):
        helper = original(p)
        started.append(helper)
        return helper

    solved = []
    once = stationary_module._solve_discrete_once

    def counting(p, *rest, **options):
        solved.append(p.grid.shape)
        return once(p, *rest, **options)

    monkeypatch.setattr(stationary_module, "OVERLAP_CELLS", 1024)
    monkeypatch.setattr(stationary_module, "_start_half_resolution", spy)
    monkeypatch.setattr(stationary_module, "_solve_discrete_once", counting)
    problem, _, _ = double_well((160, 48), 100, gamma=1.0, D=0.1, box=((-1.6, -1.2), (1.6, 1.2)))
    overlapped = fp.stationary(problem, check_boundary=False, check_resolution=False)
    assert solved.count((80, 24)) == solved.count((40, 12)) == 1  # once each: the thread's results were used
    if numba.threading_layer() in ("omp", "tbb"):
        assert any(h is not None for h in started)
    else:  # workqueue: one process must not launch parallel kernels from two threads
        assert all(h is None for h in started)
    for name in ("density", "current", "log_density"):
        np.testing.assert_array_equal(getattr(overlapped, name), getattr(serial, name))
    assert overlapped.info.method == serial.info.method
    assert overlapped.info.error_estimate == serial.info.error_estimate
