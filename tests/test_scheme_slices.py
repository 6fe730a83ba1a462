"""Slices: ``SGD.fokker_planck(axes=)`` and ``SGD.grid_around(axes=)`` against the slice model built directly.

A slice holds the parameters outside ``axes`` at a reference point; it is a landscape of its own
in the remaining coordinates, so every scheme's fields on it (the drift correction ``H ∇L``,
``L_WOR``, the epoch noise) must be those of the model that has only those parameters.
"""

import numba
import numpy as np
import pytest

import fpsolve as fp
from fpsolve.errors import StabilityError

SLICE_RTOL = 1e-10  # slice against the directly built model: the same sums in another order, and
# the kernels' tanh against NumPy's (a few ulp), through Hessians and epoch maps
MC_RTOL = 1e-8  # Monte Carlo epoch noise: the same permutations, displacements summed in another order


@numba.njit(cache=True)
def slice_kernel(w, x, params, grad, hess, order):
    """``f = u1 tanh(u0 x + r)``: ``TanhUnit(bias=True)`` with its bias held at ``r = params[0]``."""
    t = np.tanh(w[0] * x[0] + params[0])
    s = 1.0 - t * t
    if order >= 1:
        grad[0] = w[1] * s * x[0]
        grad[1] = t
    if order >= 2:
        hess[0, 0] = -2.0 * w[1] * t * s * x[0] * x[0]
        hess[0, 1] = s * x[0]
        hess[1, 0] = s * x[0]
        hess[1, 1] = 0.0
    return w[1] * t


@pytest.fixture(scope="module")
def lands():
    x, y, _ = fp.datasets.load_adhikari2023()
    full = fp.Landscape(fp.models.TanhUnit(bias=True), x, y, noise_std=0.1, weight_decay=1e-3)
    ref = full.minimize(np.array([1.0, 1.0, 0.0]))  # the bias is held at its value at the minimum
    direct = fp.Landscape(fp.models.CustomModel(slice_kernel, n_params=2, constants=[ref[2]]), x, y,
                          noise_std=0.1, weight_decay=1e-3)
    return full, direct, ref


SCHEMES = [
    fp.SGD(3e-3, 10, drift_correction=True),
    fp.SGD(3e-3, 10, temperature=1e-4),
    fp.SGD(3e-3, 10, "without_replacement", epoch_noise="leading_order"),
    fp.SGD(3e-3, 10, "without_replacement", temperature=1e-4, epoch_noise="leading_order"),
]


@pytest.mark.parametrize("sgd", SCHEMES, ids=["drift-corrected", "SGLD", "WOR", "SGWORLD"])
def test_slice_fields_are_the_fields_of_the_slice_model(lands, sgd):
    full, direct, ref = lands
    grid = fp.Grid((ref[0] - 0.2, ref[1] - 0.2), (ref[0] + 0.2, ref[1] + 0.2), (6, 5))
    problem = sgd.fokker_planck(full, grid, axes=(0, 1), reference=ref)
    U = np.moveaxis(grid.mesh(), 0, -1).reshape(-1, 2)
    f = sgd.fields(direct, U, epoch_noise=sgd.epoch_noise)
    A = np.moveaxis(problem.drift_field, 0, -1).reshape(-1, 2)
    D = np.moveaxis(problem.diffusion_field, (0, 1), (-2, -1)).reshape(-1, 2, 2)
    np.testing.assert_allclose(A, f.drift, rtol=SLICE_RTOL, atol=SLICE_RTOL * np.abs(f.drift).max())
    np.testing.assert_allclose(D, f.diffusion, rtol=SLICE_RTOL, atol=SLICE_RTOL * np.abs(f.diffusion).max())
    # and not the restriction of the full model's fields (what the slice used to be)
    if sgd.drift_correction or sgd.scheme == "without_replacement":
        W = np.tile(ref, (U.shape[0], 1))
        W[:, :2] = U
        g = sgd.fields(full, W, epoch_noise=sgd.epoch_noise)
        assert np.abs(g.drift[:, :2] - f.drift).max() > 1e3 * SLICE_RTOL * np.abs(f.drift).max()


def test_slice_monte_carlo_epoch_noise_is_the_slice_models(lands):
    full, direct, ref = lands
    sgd = fp.SGD(3e-3, 10, "without_replacement", n_permutations=2_000)
    grid = fp.Grid((ref[0] - 0.1, ref[1] - 0.1), (ref[0] + 0.1, ref[1] + 0.1), (3, 3))
    problem = sgd.fokker_planck(full, grid, axes=(0, 1), reference=ref, rng=5, epoch_noise="monte_carlo")
    U = np.moveaxis(grid.mesh(), 0, -1).reshape(-1, 2)
    f = sgd.fields(direct, U, rng=5, epoch_noise="monte_carlo")
    D = np.moveaxis(problem.diffusion_field, (0, 1), (-2, -1)).reshape(-1, 2, 2)
    np.testing.assert_allclose(D, f.diffusion, rtol=MC_RTOL)


def test_slice_over_every_axis_in_another_order_is_the_full_problem_permuted(lands):
    full, _, ref = lands
    sgd = fp.SGD(3e-3, 10, "without_replacement", epoch_noise="leading_order")
    axes = (2, 0, 1)
    lo, hi = ref[list(axes)] - 0.1, ref[list(axes)] + 0.1
    problem = sgd.fokker_planck(full, fp.Grid(tuple(lo), tuple(hi), (3, 3, 3)), axes=axes, reference=ref)
    U = np.moveaxis(fp.Grid(tuple(lo), tuple(hi), (3, 3, 3)).mesh(), 0, -1).reshape(-1, 3)
    W = np.empty_like(U)
    W[:, list(axes)] = U
    f = sgd.fields(full, W)
    A = np.moveaxis(problem.drift_field, 0, -1).reshape(-1, 3)
    np.testing.assert_allclose(A, f.drift[:, list(axes)], rtol=SLICE_RTOL, atol=SLICE_RTOL * np.abs(f.drift).max())


@pytest.mark.parametrize("scheme", ["with_replacement", "without_replacement"])
def test_grid_around_a_slice_is_the_slice_models_grid(lands, scheme):
    full, direct, ref = lands
    sgd = fp.SGD(5e-5, 10, scheme, epoch_noise="leading_order")  # η λmax ≈ 0.65
    got = sgd.grid_around(full, ref, axes=(0, 1), shape=16)
    want = sgd.grid_around(direct, ref[:2], shape=16)
    np.testing.assert_allclose(got.lower, want.lower, rtol=SLICE_RTOL)
    np.testing.assert_allclose(got.upper, want.upper, rtol=SLICE_RTOL)


def test_grid_around_needs_only_the_slice_to_be_stable():
    x, y, w_min = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1, weight_decay=1e-3)
    H = land.hessian(w_min)
    lam_full = np.linalg.eigvalsh(H)[-1]
    # the pair of parameters with the smallest curvature block
    pairs = [(i, j) for i in range(7) for j in range(i + 1, 7)]
    axes = min(pairs, key=lambda a: np.linalg.eigvalsh(H[np.ix_(a, a)])[-1])
    lam_slice = np.linalg.eigvalsh(H[np.ix_(axes, axes)])[-1]
    eta = 1.0 / lam_slice  # η λ = 1 on the slice, η λmax > 2 on the full model
    assert eta * lam_full > 2.0
    sgd = fp.SGD(eta, 10)
    with pytest.raises(StabilityError, match="beyond SGD's stability limit"):
        sgd.linearized(land, w_min)
    grid = sgd.grid_around(land, w_min, axes=axes, shape=8)
    sub = fp.linearized(H[np.ix_(axes, axes)], sgd.fields(land, w_min).diffusion[0][np.ix_(axes, axes)],
                        mean=w_min[list(axes)])
    want = sub.grid(shape=8)
    np.testing.assert_allclose(grid.lower, want.lower, rtol=SLICE_RTOL)
    np.testing.assert_allclose(grid.upper, want.upper, rtol=SLICE_RTOL)


def test_fokker_planck_follows_the_objects_epoch_noise(lands):
    _, direct, ref = lands
    grid = fp.Grid((ref[0] - 0.05, ref[1] - 0.05), (ref[0] + 0.05, ref[1] + 0.05), (3, 3))
    W = np.moveaxis(grid.mesh(), 0, -1).reshape(-1, 2)
    got = {}
    for noise in ("leading_order", "monte_carlo"):
        sgd = fp.SGD(3e-3, 10, "without_replacement", epoch_noise=noise, n_permutations=500)
        problem = sgd.fokker_planck(direct, grid, rng=1)  # no epoch_noise here: the object's
        got[noise] = np.moveaxis(problem.diffusion_field, (0, 1), (-2, -1)).reshape(-1, 2, 2)
        np.testing.assert_allclose(got[noise], sgd.fields(direct, W, rng=1).diffusion, rtol=MC_RTOL)
    assert np.abs(got["monte_carlo"] - got["leading_order"]).max() > 1e-3 * np.abs(got["leading_order"]).max()


# -- Landscape.fields_over: the slice's fields, computed from the slice's columns only --------
HGRAD_RTOL = 1e-12  # mean_i H_i ∇ℓ_i: the same products summed over j in another order than the
# einsum of the restrict-after path (|terms| up to ~1e2 × the result near the minimum)
FD_STEP = 1e-5  # central differences: truncation h² ~ 1e-10 against round-off eps |L| / h ~ 1e-8
FD_RTOL = 1e-6  # of the largest entry: the truncation and round-off above, with margin


def _landscape(kind):
    x, y, w_min = fp.datasets.load_adhikari2023()
    if kind == "builtin":
        return fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1, weight_decay=1e-3), w_min
    # the built-in point kernel as a user's kernel: the generic path of the field kernels
    builtin = fp.models.TanhUnit(bias=True)
    model = fp.models.CustomModel(builtin.kernel, n_params=3, constants=list(builtin.params))
    land = fp.Landscape(model, x, y, noise_std=0.1, weight_decay=1e-3)
    return land, land.minimize(np.array([1.0, 1.0, 0.0]))


def _restrict_after(land, W, axes):
    """What ``_Slice.fields`` computed before: the whole fields, then their ``axes`` blocks, and
    ``mean_i H_i ∇ℓ_i`` from the restricted per-sample terms."""
    f = land.fields(W, hessian=True)
    ix = np.ix_(range(W.shape[0]), axes, axes)
    hg = []
    for w in W:
        _, G, Hs = land.per_sample(w)
        hg.append(np.einsum("nij,nj->i", Hs[:, axes][:, :, axes], G[:, axes]) / land.n_samples)
    return f.loss, f.gradient[:, axes], f.gradient_covariance[ix], f.hessian[ix], np.array(hg)


@pytest.mark.parametrize("kind, axes", [("builtin", [4, 5]), ("builtin", [5, 0, 2]), ("generic", [2, 0])])
def test_fields_over_are_the_blocks_of_the_whole_fields(kind, axes):
    land, w_min = _landscape(kind)
    W = w_min + np.random.default_rng(3).normal(0.0, 0.05, (6, land.n_params))
    f = land.fields_over(W, axes)
    loss, grad, sigma, hess, hgrad = _restrict_after(land, W, axes)
    # the same per-sample arithmetic on the same columns: bit for bit
    np.testing.assert_array_equal(f.loss, loss)
    np.testing.assert_array_equal(f.gradient, grad)
    np.testing.assert_array_equal(f.gradient_covariance, sigma)
    np.testing.assert_array_equal(f.hessian, hess)
    np.testing.assert_allclose(f.hessian_gradient, hgrad, rtol=HGRAD_RTOL,
                               atol=HGRAD_RTOL * np.abs(hgrad).max())
    g = land.fields_over(W, axes, hessian=False)
    assert g.hessian is None and g.hessian_gradient is None
    np.testing.assert_array_equal(g.gradient_covariance, sigma)


def test_slice_fields_match_finite_differences_of_the_two_parameter_function():
    land, w_min = _landscape("builtin")
    axes = [4, 5]

    def sliced(u, what):
        w = w_min.copy()
        w[axes] = u
        f = land.fields_over(w, axes)
        return {"loss": f.loss[0], "gradient": f.gradient[0],
                "trace": np.trace(f.gradient_covariance[0])}[what]

    u0 = w_min[axes] + np.array([0.03, -0.02])
    f = land.fields_over(np.r_[w_min[:4], u0, w_min[6:]], axes)
    h = FD_STEP * np.eye(2)
    grad_fd = np.array([(sliced(u0 + e, "loss") - sliced(u0 - e, "loss")) / (2 * FD_STEP) for e in h])
    hess_fd = np.array([(sliced(u0 + e, "gradient") - sliced(u0 - e, "gradient")) / (2 * FD_STEP) for e in h])
    trace_fd = np.array([(sliced(u0 + e, "trace") - sliced(u0 - e, "trace")) / (2 * FD_STEP) for e in h])
    np.testing.assert_allclose(f.gradient[0], grad_fd, atol=FD_RTOL * np.abs(grad_fd).max())
    np.testing.assert_allclose(f.hessian[0], hess_fd.T, atol=FD_RTOL * np.abs(hess_fd).max())
    # ∇ tr Σ₁ = 2 (mean_i H_i ∇ℓ_i − H ∇L) on the slice
    trace_grad = 2 * (f.hessian_gradient[0] - f.hessian[0] @ f.gradient[0])
    np.testing.assert_allclose(trace_grad, trace_fd, atol=FD_RTOL * np.abs(trace_fd).max())


@pytest.mark.parametrize("params", [[], [0, 0], [7], [-1], [0.5], [[0, 1]], [True]])
def test_fields_over_refuses_bad_parameter_indices(params):
    land, w_min = _landscape("builtin")
    with pytest.raises(fp.InputError, match="params must be distinct parameter indices in 0..6"):
        land.fields_over(w_min, params)
