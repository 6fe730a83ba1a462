import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fpsolve as fp
from fpsolve._kernels import fv
from fpsolve.solve import operator as opm
from fpsolve.solve.operator import assemble

ROUNDOFF = 1e-12  # relative: sums of O(1) rates in double precision
DECOMPOSITION_RTOL = 1e-9  # Selling's formula is exact in integer arithmetic; products of O(κ) terms


def _selling(D: np.ndarray):
    ndim = D.shape[0]
    K = 3 if ndim == 2 else 6
    vec = np.empty((1, K, ndim), dtype=np.int64)
    w = np.empty((1, K))
    failed = fv.selling(D[None].copy(), vec, w)
    return failed, vec[0], w[0]


def _random_spd(ndim, seed, anisotropy):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(ndim, ndim)))
    eig = np.geomspace(1.0, anisotropy, ndim)
    return Q @ np.diag(eig) @ Q.T


@settings(max_examples=60, deadline=None)
@given(ndim=st.sampled_from([2, 3]), seed=st.integers(0, 2**31), anisotropy=st.floats(1.0, 1e4))
def test_selling_reconstructs_tensor_with_nonnegative_weights(ndim, seed, anisotropy):
    D = _random_spd(ndim, seed, anisotropy)
    failed, vec, w = _selling(D)
    assert failed == 0
    assert np.all(w >= 0)
    rebuilt = np.einsum("k,ki,kj->ij", w, vec, vec)
    np.testing.assert_allclose(rebuilt, D, atol=DECOMPOSITION_RTOL * np.abs(D).max())


def test_selling_diagonal_tensor_gives_axis_stencil():
    failed, vec, w = _selling(np.diag([2.0, 3.0]))
    used = {tuple(v) for v, wk in zip(vec, w) if wk > 0}
    assert failed == 0 and used == {(1, 0), (0, 1)}


def test_selling_strong_correlation_uses_wide_offsets():
    # D_xx < |D_xy|: no non-negative split on axes and diagonals, needs offsets like (1, 2)
    D = np.array([[1.0, 1.5], [1.5, 2.5]])
    failed, vec, w = _selling(D)
    assert failed == 0 and np.abs(vec[w > 0]).max() > 1


def _problem(boundary="reflecting", diffusion=None, n=12):
    grid = fp.Grid((-2, -2), (2, 2), (n, n), boundary)
    rot = np.array([[0.3, 1.0], [-1.0, 0.3]])
    D = diffusion if diffusion is not None else np.array([[0.5, 0.2], [0.2, 0.3]])
    return fp.FokkerPlanck(grid, drift=lambda x: -np.einsum("ij,j...->i...", rot, x) + np.sin(x), diffusion=D)


@pytest.mark.parametrize("boundary", ["reflecting", "periodic", ("periodic", "reflecting")])
def test_generator_conserves_mass_and_is_m_matrix(boundary):
    L = assemble(_problem(boundary)).matrix
    column_sums = np.asarray(L.sum(axis=0)).ravel()
    assert np.abs(column_sums).max() <= ROUNDOFF * np.abs(L.diagonal()).max()
    off = L - __import__("scipy.sparse", fromlist=["diags"]).diags(L.diagonal())
    assert off.min() >= 0.0
    assert np.all(L.diagonal() < 0)


def test_state_dependent_anisotropic_diffusion_stays_m_matrix():
    def diffusion(x):
        c, s = np.cos(x[0]), np.sin(x[0])
        lam1, lam2 = 1.0 + x[1] ** 2, 0.05
        return np.stack(
            (np.stack((lam1 * c * c + lam2 * s * s, (lam1 - lam2) * c * s)),
             np.stack(((lam1 - lam2) * c * s, lam1 * s * s + lam2 * c * c)))
        )

    op = assemble(_problem(diffusion=diffusion, n=24))
    L = op.matrix
    assert np.abs(np.asarray(L.sum(axis=0))).max() <= ROUNDOFF * np.abs(L.diagonal()).max()
    assert op.rate.min() >= 0.0
    assert len(op.offsets) > 2  # the rotating tensor needs more than the axis offsets


def test_edge_fluxes_are_divergence_free_at_stationarity():
    state = fp.stationary(_problem(n=32), order=2, check_boundary=False)
    divergence = np.zeros(state.grid.shape)
    for offset, flow in state.edge_flux.items():
        divergence += flow
        divergence -= np.roll(flow, shift=offset, axis=(0, 1))
    scale = max(np.abs(f).max() for f in state.edge_flux.values())
    assert np.abs(divergence).max() <= 1e-10 * scale


def test_singular_diffusion_rejected_by_solver():
    grid = fp.Grid((-1, -1), (1, 1), (8, 8))
    problem = fp.FokkerPlanck(grid, lambda x: -x, np.diag([1.0, 0.0]))
    with pytest.raises(fp.FieldError, match="positive definite on the grid.*smallest eigenvalue 0"):
        fp.stationary(problem)


def _rotated(theta: float, ratio: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    Q = np.array([[c, -s], [s, c]])
    return Q @ np.diag([1.0, 1.0 / ratio]) @ Q.T


def test_extreme_anisotropy_gives_a_bounded_stencil_and_keeps_the_equilibrium():
    """Eigenvalue ratio 1e5 (offsets of ~150 cells unbounded): regularised to a short stencil,
    and the gradient system A = -D ∇U keeps its exact Boltzmann state (D⁻¹A = -∇U unchanged).

    Jumps mirrored at a wall have no reverse jump, so the potential is steep enough that every
    cell within a stencil width (16 cells) of a wall holds less than e^-50 of the peak."""
    from fpsolve.solve import operator

    D = 0.4 * _rotated(0.3, 1e5)
    M = 5.0 * np.array([[1.0, 0.2], [0.2, 0.8]])  # U = x·M x / 2

    def drift(x):
        return -np.einsum("ij,jk,k...->i...", D, M, x)

    grid = fp.Grid((-9, -9), (9, 9), (90, 90))
    problem = fp.FokkerPlanck(grid, drift, D)
    op = assemble(problem)
    assert op.regularized.all()
    # sqrt(κ)/2 cells for κ = STENCIL_ANISOTROPY, measured over all orientations (module comment)
    assert np.abs(op.offsets).max() <= 0.5 * np.sqrt(operator.STENCIL_ANISOTROPY)
    state = fp.stationary(problem, check_boundary=False)
    x = grid.mesh()
    exact = np.exp(-0.5 * np.einsum("i...,ij,j...->...", x, M, x))
    exact /= exact.sum() * grid.cell_volume
    np.testing.assert_allclose(state.density, exact, atol=1e-10 * exact.max())
    assert state.operator.regularized_mass(state.density) == pytest.approx(1.0)
    assert state.info.regularized_cells == grid.size
    assert state.info.regularized_mass == pytest.approx(1.0)
    # the small eigenvalue, 1e-5 of the large one, raised to 1e-3 of it (index units: h is equal)
    assert state.info.regularized_factor == pytest.approx(1e5 / operator.STENCIL_ANISOTROPY, rel=1e-6)


def test_moderate_anisotropy_is_not_regularised():
    op = assemble(fp.FokkerPlanck(fp.Grid((-3, -3), (3, 3), (16, 16)), lambda x: -x, _rotated(0.4, 50.0)))
    assert not op.regularized.any()
    assert op.regularized_mass(np.ones(op.grid.shape)) == 0.0
    assert op.regularized_factor == 1.0


def test_fields_are_evaluated_once_per_lattice_point_for_all_levels():
    """The solve calls the fields on the cell centres of each level and once on the fine
    lattice of half cell steps off the fine centres (which it has already), which every
    coarsened level slices (no per-offset calls)."""
    calls = []

    def drift(x):
        calls.append(int(np.prod(x.shape[1:])))
        return -x

    n = 256
    grid = fp.Grid((-6, -6), (6, 6), (n, n))
    state = fp.stationary(fp.FokkerPlanck(grid, drift, _rotated(0.5, 4.0)))
    assert state.info.method.startswith("multigrid")
    centres = sum((n // 2**k) ** 2 for k in range(6))  # every level's own cells, generously
    lattice = (2 * n - 1) ** 2 - n**2  # the fine centres are not evaluated again
    assert sum(calls) <= centres + lattice


@pytest.mark.parametrize("periodic", [False, True])
def test_lattice_reuses_the_cell_centre_fields_bit_for_bit(periodic):
    """The lattice's centre points (even indices) come from the grid fields, the others from the
    callables: the same values, to the bit, as evaluating the callables on the whole lattice."""
    boundary = "periodic" if periodic else "reflecting"
    grid = fp.Grid((-2.0, -1.5), (2.0, 1.5), (12, 10), boundary=boundary)

    def drift(x):
        return np.stack([-x[0] + np.sin(3 * x[1]), -x[1] ** 3 + 0.3 * x[0]])

    def diffusion(x):
        return np.stack([np.stack([1 + 0.2 * np.cos(x[0]), 0.1 + 0 * x[0]]),
                         np.stack([0.1 + 0 * x[0], 0.7 + 0.1 * x[1] ** 2])])

    problem = fp.FokkerPlanck(grid, drift, diffusion)
    G, refine = opm.edge_field(problem)
    shape = opm.lattice_shape(grid)
    axes = np.meshgrid(*[lo + 0.5 * (np.arange(m) + 1) * h
                         for lo, h, m in zip(grid.lower, grid.spacing, shape)], indexing="ij")
    x = np.stack(axes)
    expected = opm.solve_small(diffusion(x), drift(x))
    assert refine == 2
    np.testing.assert_array_equal(G.reshape(2, *shape), expected)


# the closed form's λ_min = det / λ_max has an absolute error of a few ulps of λ_max, as an
# eigensolver's; the raised tensors agree with eigh's reconstruction to that relative level
CLOSED_FORM_RTOL = 1e-14


def test_closed_form_2d_anisotropy_bound_matches_eigh():
    """2-D ``_bound_anisotropy`` (closed form) against the eigen-decomposition it replaces, on
    200 000 tensors of every orientation with eigenvalue ratios down to 1e-8 and scales over six
    decades: the same cells are raised, the raised tensors agree with ``V max(λ, floor) Vᵀ`` to
    ``CLOSED_FORM_RTOL`` of their size, and their eigenvalue ratio is the bound."""
    rng = np.random.default_rng(0)
    P = 200_000
    th = rng.uniform(0, np.pi, P)
    l1 = 10 ** rng.uniform(-3, 3, P)
    l2 = l1 * 10 ** rng.uniform(-8, 0, P)
    R = np.stack([np.stack([np.cos(th), -np.sin(th)], -1), np.stack([np.sin(th), np.cos(th)], -1)], -1)
    Dh = np.einsum("pik,pk,pjk->pij", R, np.stack([l1, l2], -1), R)
    Dh = np.ascontiguousarray(0.5 * (Dh + np.swapaxes(Dh, 1, 2)))
    new, changed, factor = opm._bound_anisotropy(Dh)
    lam, V = np.linalg.eigh(Dh)
    floor = lam[:, -1:] / opm.STENCIL_ANISOTROPY
    hit = (lam < floor).any(axis=1)
    assert 0.3 * P < hit.sum() < P
    assert np.array_equal(changed, hit)
    ref = np.einsum("cik,ck,cjk->cij", V[hit], np.maximum(lam[hit], floor[hit]), V[hit])
    scale = np.abs(ref).max(axis=(1, 2))
    assert np.all(np.abs(new[hit] - ref).max(axis=(1, 2)) <= CLOSED_FORM_RTOL * scale)
    assert np.array_equal(new[~hit], Dh[~hit])
    eig = np.linalg.eigvalsh(new[hit])
    np.testing.assert_allclose(eig[:, 0] / eig[:, 1], 1 / opm.STENCIL_ANISOTROPY, rtol=1e-9)
    assert factor == pytest.approx(np.max(floor[hit, 0] / lam[hit, 0]), rel=1e-9)
