"""The assembly kernels against a slow, independent transcription of the scheme (one Python loop
per jump, straight from the module docstring of ``fpsolve.solve.operator``), and the eigenvalue
screens and the stencil reach against their definitions."""

import numpy as np
import pytest
import scipy.sparse as sp

import fpsolve as fp
from fpsolve._kernels import fv
from fpsolve._kernels.smooth import PARALLEL_ROWS, stencil_reach
from fpsolve.solve import operator as opm

REFERENCE_RTOL = 1e-13  # relative, per rate and per β: the same sums in another order (rounding only)
# A rate w B(−β) inherits the absolute rounding of β as a relative error (d log B / dβ → −1 for
# large β): per rate the bound is REFERENCE_RTOL (1 + |β|) (2-D wide case: β up to 3e4, rates
# near 1e-197 agree to 1.7e-13 relative, 1e-13 |β| allows 4.5e-11 there)
RULES = {7: fv.EDGE_RULES[0], 5: fv.EDGE_RULES[1, 1:6], 3: fv.EDGE_RULES[2, 2:5]}


def _beta(c0, v, G, lat, periodic, h, refine):
    """``∫ D⁻¹A · dx`` from cell ``c0`` along ``v``: by the trapezoid rule on the cell centres
    (array fields), or by the widest rule whose nodes lie in the lattice of half cell steps."""
    if refine == 1:
        ends = [np.ravel_multi_index(tuple((np.array(c0) + k * np.array(v)) % lat), lat) for k in (0, 1)]
        return float(np.dot(0.5 * (G[ends[0]] + G[ends[1]]), np.array(v) * h))
    for width in (7, 5, 3):
        ks = range(-(width // 2) + 1, width // 2 + 2)  # nodes c0 + (k / 2) v
        nodes = [np.array(c0) * 2 + k * np.array(v) for k in ks]
        if width == 3 or all(all(p or 0 <= j < m for j, m, p in zip(x, lat, periodic)) for x in nodes):
            break
    total = 0.0
    for wq, x in zip(RULES[width], nodes):
        flat = np.ravel_multi_index(tuple(j % m for j, m in zip(x, lat)), lat)
        total += wq * float(np.dot(G[flat], np.array(v) * h))
    return total


def _reference(problem):
    """Jump list and generator of ``problem`` by one Python loop per jump."""
    grid = problem.grid
    shape, n, h = grid.shape, grid.size, np.asarray(grid.spacing)
    vec, w, _, _ = opm._decompose(problem)
    G, refine = opm.edge_field(problem)
    G = np.ascontiguousarray(G.T)  # (points, ndim): G[node] is the vector at a node
    lat = opm.lattice_shape(grid) if refine == 2 else shape
    jumps = []
    for a in range(n):
        c = np.array(np.unravel_index(a, shape))
        at = np.ravel_multi_index(tuple(refine * c), lat)
        row = a if len(vec) > 1 else 0
        for v, weight in zip(vec[row], w[row]):
            if weight <= 0:
                continue
            for s in (1, -1):
                target, disp, mirrored, exit_, t = c + s * v, s * v, False, None, 1.0
                for d in range(grid.ndim):
                    if 0 <= target[d] < shape[d]:
                        continue
                    if grid.boundary[d] == "periodic":
                        target[d] %= shape[d]
                    elif grid.boundary[d] == "absorbing":
                        side = int(target[d] >= shape[d])
                        inside = (c[d] + 0.5 if side == 0 else shape[d] - 0.5 - c[d]) / abs(v[d])
                        if inside < t:
                            t, exit_ = inside, 2 * d + side
                        target[d] = c[d]
                    else:  # mirrored at the wall
                        mirrored = True
                        m = -1 - target[d] if target[d] < 0 else 2 * shape[d] - 1 - target[d]
                        target[d] = min(max(m, 0), shape[d] - 1)
                        disp[d] = target[d] - c[d]
                if exit_ is not None:
                    beta = float(np.dot(G[at], disp * h))
                    jumps.append((a, -1 - exit_, weight / t * fv.bernoulli(-beta * t), beta, disp))
                    continue
                b = int(np.ravel_multi_index(tuple(target), shape))
                if b == a:
                    continue
                if mirrored:
                    gb = np.ravel_multi_index(tuple(refine * target), lat)
                    beta = float(np.dot(0.5 * (G[at] + G[gb]), disp * h))
                elif s > 0:
                    beta = _beta(c, v, G, lat, grid.periodic, h, refine)
                else:  # from the far end, so both directions get opposite values
                    start = [(j - u) % m for j, u, m in zip(c, v, shape)]
                    beta = -_beta(start, v, G, lat, grid.periodic, h, refine)
                jumps.append((a, b, weight * fv.bernoulli(-beta), beta, disp))
    src, dst, rate, beta, disp = (np.array(x) for x in zip(*jumps))
    inside = dst >= 0
    out = np.bincount(src, weights=rate, minlength=n)
    L = sp.coo_matrix((np.concatenate([rate[inside], -out]),
                       (np.concatenate([dst[inside], np.arange(n)]), np.concatenate([src[inside], np.arange(n)]))),
                      shape=(n, n)).tocsr()
    return src, dst, rate, beta, disp, L


def _aniso(x):
    th = 0.7 * x[0] + 0.3 * x[1]
    c, s = np.cos(th), np.sin(th)
    small = 1e-4 + 0.02 * x[0] ** 2
    return np.stack([np.stack([c * c + small * s * s, (1 - small) * c * s]),
                     np.stack([(1 - small) * c * s, s * s + small * c * c])])


def _ou(K):
    return lambda x: -np.einsum("ij,j...->i...", K, x)


K2 = np.array([[1.0, 1.5], [-0.5, 1.0]])
K3 = np.array([[1.0, 0.8, 0.0], [-0.8, 1.0, 0.3], [0.0, -0.3, 1.0]])
D3 = np.array([[0.5, 0.3, 0.1], [0.3, 0.6, -0.2], [0.1, -0.2, 0.4]])
CASES = {
    "1d-absorbing": lambda: fp.FokkerPlanck(fp.Grid(-3.0, 3.0, 17, boundary="absorbing"), lambda x: -x + 0.3, 0.5),
    "1d-periodic-arrays": lambda: fp.FokkerPlanck(
        fp.Grid(0.0, 6.0, 15, boundary="periodic"), 1.0 + 0.5 * np.sin(np.linspace(0.2, 5.8, 15)),
        0.4 + 0.1 * np.cos(np.linspace(0.2, 5.8, 15))),
    "2d-correlated": lambda: fp.FokkerPlanck(fp.Grid((-5.0, -5.0), (5.0, 5.0), (13, 11)), _ou(K2),
                                             np.array([[0.5, 0.3], [0.3, 0.4]])),
    "2d-absorbing-periodic": lambda: fp.FokkerPlanck(
        fp.Grid((-5.0, -np.pi), (5.0, np.pi), (10, 9), boundary=("absorbing", "periodic")),
        lambda x: np.stack([-x[0] + 0.3 * np.cos(x[1]), 1.0 + 0.2 * np.sin(x[1])]), np.array([[0.5, 0.3], [0.3, 0.4]])),
    "2d-wide-regularised": lambda: fp.FokkerPlanck(fp.Grid((-3.0, -3.0), (3.0, 3.0), (16, 14), boundary=("periodic", "reflecting")),
                                                   _ou(K2), _aniso),
    "3d-mixed-walls": lambda: fp.FokkerPlanck(
        fp.Grid((-5.0,) * 3, (5.0,) * 3, (5, 6, 7), boundary=("periodic", "reflecting", "absorbing")), _ou(K3), D3),
    # reflecting walls and callable fields: the kernels compiled without the periodic and
    # centre-field branches (fv.count_jumps_box_serial, fv.fill_jumps_box_serial)
    "2d-wide-reflecting": lambda: fp.FokkerPlanck(fp.Grid((-3.0, -3.0), (3.0, 3.0), (16, 14)), _ou(K2), _aniso),
    "3d-reflecting": lambda: fp.FokkerPlanck(fp.Grid((-5.0,) * 3, (5.0,) * 3, (5, 6, 7)), _ou(K3), D3),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_assembly_matches_a_jump_by_jump_reference(name):
    problem = CASES[name]()
    op = opm.assemble(problem)
    src, dst, rate, beta, disp, L = _reference(problem)
    assert np.array_equal(op.src, src) and np.array_equal(op.dst, dst)
    assert np.array_equal(op.disp, disp.reshape(op.disp.shape))
    bound = REFERENCE_RTOL * (1.0 + np.abs(beta)) * np.abs(rate)
    worst = np.max(np.abs(op.rate - rate) - bound)
    assert worst <= 0.0, f"a rate differs from the reference by {worst:.3g} beyond its rounding bound"
    np.testing.assert_allclose(op.beta, beta, rtol=REFERENCE_RTOL, atol=REFERENCE_RTOL * np.abs(beta).max())
    diff = abs(sp.csr_matrix(op.matrix) - L)
    assert diff.max() <= REFERENCE_RTOL * abs(L).max()
    if name == "2d-wide-regularised":
        assert op.regularized.any() and len(op.offsets) > 3  # the case exercises what it is named for


@pytest.mark.parametrize("name", ["2d-correlated", "2d-wide-reflecting", "3d-reflecting"])
def test_box_kernels_build_the_operator_of_the_general_ones_bit_for_bit(name, monkeypatch):
    problem = CASES[name]()
    calls = []
    box = fv.count_jumps_box_serial
    monkeypatch.setattr(fv, "count_jumps_box_serial", lambda *args: calls.append(1) or box(*args))
    fast = opm.assemble(problem)
    assert calls  # reflecting walls, callable fields: the box kernels ran
    monkeypatch.setattr(fv, "count_jumps_box_serial", fv.count_jumps_serial)
    monkeypatch.setattr(fv, "fill_jumps_box_serial", fv.fill_jumps_serial)
    general = opm.assemble(problem)
    for name in ("src", "dst", "rate", "disp", "beta"):
        assert np.array_equal(getattr(fast, name), getattr(general, name)), name
    assert np.array_equal(fast.matrix.data, general.matrix.data)
    assert np.array_equal(fast.matrix.indices, general.matrix.indices)


def _eig_ratio(M):
    lam = np.linalg.eigvalsh(M)
    return lam[:, 0] / lam[:, -1]


@pytest.mark.parametrize("ndim", [2, 3])
def test_ratio_floor_bounds_the_eigenvalue_ratio_and_rejects_indefinite_tensors(ndim):
    rng = np.random.default_rng(ndim)
    Q = np.linalg.qr(rng.normal(size=(4000, ndim, ndim)))[0]
    lam = np.exp(rng.uniform(np.log(1e-14), 0, size=(4000, ndim)))
    lam[:, 0] = 1.0
    lam[:500, 1:] *= -1  # indefinite or negative definite
    lam[500:1000, -1] = 0.0  # singular
    M = np.einsum("cik,ck,cjk->cij", Q, lam, Q)
    bound = opm._ratio_floor(M)
    definite = np.all(lam > 0, axis=1)
    assert not np.any(bound[~definite] > 0)
    ratio = _eig_ratio(M[definite])
    assert np.all(bound[definite] <= ratio * (1 + REFERENCE_RTOL) + opm.SCREEN_SLACK)
    if ndim == 2:  # exact there: the screen passes every tensor well inside the threshold
        well = ratio > 2 / opm.STENCIL_ANISOTROPY
        assert np.all(bound[definite][well] >= 1 / opm.STENCIL_ANISOTROPY + opm.SCREEN_SLACK)


def test_stencil_reach_matches_its_definition_on_the_parallel_path():
    shape = np.array([64, 37, 60], dtype=np.int64)
    n = int(np.prod(shape))
    assert n >= PARALLEL_ROWS
    rng = np.random.default_rng(3)
    rows = np.repeat(np.arange(n), 3)
    cols = (rows + rng.integers(-2000, 2000, size=len(rows))) % n
    A = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    a, b = np.array(np.unravel_index(rows, shape)), np.array(np.unravel_index(cols, shape))
    for periodic in ([False] * 3, [True, False, True]):
        dist = np.abs(a - b)
        per = np.array(periodic)[:, None]
        dist = np.where(per, np.minimum(dist, shape[:, None] - dist), dist)
        assert stencil_reach(A.indptr, A.indices, shape, np.array(periodic)) == dist.max()
        small = sp.csr_matrix(A[:1000])  # the serial path
        assert stencil_reach(small.indptr, small.indices, shape, np.array(periodic)) == dist[:, :3000].max()
