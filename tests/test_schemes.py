"""Minibatch schemes: diffusion against sampled SGD steps, docs/theory.md §2 formulas, grids, bad input."""

import numpy as np
import pytest
from findiff import Diff

import fpsolve as fp

N_STEPS = 40_000  # sampled one-step displacements; covariance error ~ sqrt(2 / N_STEPS) ~ 0.7 %
SAMPLED_RTOL = 0.04  # five-odd standard errors of the sampled covariance (Frobenius, heavy tails)
LYAPUNOV_RTOL = 1e-9  # closed-form Lyapunov solutions of 1-D and 2-D problems: round-off
ONE_MODE_RTOL = 1e-7  # grid solver with callable fields on 400 cells (docs/theory.md §5 closed form)
N_PERMUTATIONS = 20_000  # Monte Carlo epochs: relative error of a variance ~ sqrt(2/n) = 1 %
EPOCH_RTOL = 0.05  # MC epoch variance against the leading-order formula, exact for a linear model
GRID_COV_RTOL = 0.02  # 2-D stationary covariance on 32² cells (4th order) vs linearised: O(std) anharmonicity


@pytest.fixture(scope="module")
def paper():
    x, y, w_min = fp.datasets.load_adhikari2023()
    return fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1, weight_decay=1e-3), w_min


@pytest.mark.parametrize("scheme", ["with_replacement", "iid"])
def test_diffusion_is_half_the_covariance_of_sampled_steps(paper, scheme):
    land, w_min = paper
    w = w_min + 0.05  # away from the minimum: the mean step is not zero
    eta, b, n = 1e-4, 10, land.n_samples
    rng = np.random.default_rng(42)
    if scheme == "iid":
        idx = rng.integers(n, size=(N_STEPS, b))
    else:
        idx = rng.permuted(np.broadcast_to(np.arange(n), (N_STEPS, n)), axis=1)[:, :b]
    G = land.per_sample_gradients(w)
    steps = -eta * G[idx].mean(axis=1)
    sampled = np.cov(steps, rowvar=False) / (2 * eta)  # SDE time: dt = η
    D = fp.SGD(eta, b, scheme).fields(land, w).diffusion[0]
    assert np.linalg.norm(sampled - D) <= SAMPLED_RTOL * np.linalg.norm(D)
    np.testing.assert_allclose(steps.mean(0) / eta, -land.gradient(w), rtol=0.05, atol=0.05 * np.abs(land.gradient(w)).max())


def test_sgld_adds_temperature_and_drift_correction(paper):
    land, w_min = paper
    w = w_min + 0.01
    plain = fp.SGD(1e-6, 10).fields(land, w)
    hot = fp.SGD(1e-6, 10, temperature=0.5, drift_correction=True).fields(land, w)
    np.testing.assert_allclose(hot.diffusion[0] - plain.diffusion[0], 0.5 * np.eye(7), rtol=1e-12, atol=1e-12)
    correction = -0.5e-6 * land.hessian(w) @ land.gradient(w)
    np.testing.assert_allclose(hot.drift[0] - plain.drift[0], correction, rtol=1e-8)
    assert fp.SGD(1e-6, 10, temperature=0.5).name == "SGLD"
    assert fp.SGD(1e-6, 10, "without_replacement", temperature=0.5).name == "SGWORLD"
    assert fp.SGD(1e-6, 10).name == "SGD"


def gaussian_mean(n=20, s=1.0, s0=2.0, seed=0):
    y = np.random.default_rng(seed).normal(1.0, s, size=n)
    return fp.Landscape(fp.models.GaussianMean(s, s0), None, y), y


def test_gaussian_mean_sgld_matches_theory_formula():
    """docs/theory.md §2: exact SGLD variance (2η + η²Σ_B)/(2ηH − η²H²); SDE time gives it times (1 − ηH/2)."""
    land, y = gaussian_mean()
    n, b, eta, s, s0 = 20, 4, 1e-3, 1.0, 2.0
    H = n / s**2 + 1 / s0**2
    k = (n - b) / (b * (n - 1))
    sigma_b = k * n**2 * np.var(y) / s**4  # Σ₁ = N² var(y) / s⁴ for every θ
    g = fp.SGD(eta, b, temperature=1.0).linearized(land, land.minimize([0.0]))
    exact = (2 * eta + eta**2 * sigma_b) / (2 * eta * H - eta**2 * H**2)
    assert g.covariance[0, 0] == pytest.approx(exact * (1 - eta * H / 2), rel=LYAPUNOV_RTOL)
    assert g.is_equilibrium and g.entropy_production == pytest.approx(0.0, abs=1e-12)


def test_gaussian_mean_sgworld_langevin_part_is_full_batch_exact():
    """With Σ₁ = 0 the WOR epoch Lyapunov equation reproduces full-batch Langevin 2η/(2ηH − η²H²)."""
    y = np.full(20, 0.7)
    land = fp.Landscape(fp.models.GaussianMean(1.0, 2.0), None, y)
    eta, H = 1e-3, 20 + 0.25
    g = fp.SGD(eta, 5, "without_replacement", temperature=1.0, n_permutations=100).linearized(land, [0.0], rng=0)
    assert g.covariance[0, 0] == pytest.approx(2 * eta / (2 * eta * H - eta**2 * H**2), rel=LYAPUNOV_RTOL)
    assert g.mean[0] == pytest.approx(land.minimize([0.0])[0], rel=1e-9)  # Newton stop: |∇L_WOR| ~ 1e-8 H


def test_epoch_noise_monte_carlo_matches_leading_order_for_a_linear_model():
    land, _ = gaussian_mean(n=40)
    w = land.minimize([0.0])
    common = dict(learning_rate=1e-4, batch_size=4, scheme="without_replacement", n_permutations=N_PERMUTATIONS)
    mc = fp.SGD(**common).fields(land, w, rng=7).diffusion[0, 0, 0]
    lo = fp.SGD(**common, epoch_noise="leading_order").fields(land, w).diffusion[0, 0, 0]
    assert mc == pytest.approx(lo, rel=EPOCH_RTOL)
    again = fp.SGD(**common).fields(land, w, rng=7).diffusion[0, 0, 0]
    assert again == mc  # equal seeds, equal results


N_CHAINS = 4000  # simulated WOR chains: relative error of their variance ~ sqrt(2/4000) = 2 %
SIMULATED_RTOL = 0.1  # five standard errors


def test_without_replacement_covariance_matches_simulated_epochs():
    """Random-reshuffling SGD on the Gaussian mean, sampled at epoch ends, against the epoch Lyapunov state."""
    land, y = gaussian_mean(n=20)
    eta, b, n_epochs = 0.01, 4, 150  # ηH = 0.2: relaxation within ~1 epoch of 5 steps
    sgd = fp.SGD(eta, b, "without_replacement", n_permutations=N_PERMUTATIONS)
    g = sgd.linearized(land, [0.0], rng=3)
    rng = np.random.default_rng(11)
    G0 = land.per_sample_gradients(g.mean)  # per-sample gradients are affine in θ with slope H_i
    H_i = land.per_sample(g.mean)[2][:, 0, 0]
    theta = np.full(N_CHAINS, g.mean[0])
    for _ in range(n_epochs):
        order = rng.permuted(np.broadcast_to(np.arange(20), (N_CHAINS, 20)), axis=1)
        for m in range(5):
            batch = order[:, m * b:(m + 1) * b]
            grads = G0[batch, 0] + H_i[batch] * (theta[:, None] - g.mean[0])
            theta = theta - eta * grads.mean(axis=1)
    assert np.var(theta) == pytest.approx(g.covariance[0, 0], rel=SIMULATED_RTOL)


def test_without_replacement_drift_is_minus_grad_of_effective_loss(paper):
    land, w_min = paper
    eta, b = 1e-4, 10
    k = (200 - b) / (b * 199)
    w = w_min + 0.03

    def l_wor(v):
        return land.loss(v) + eta / 4 * land.gradient(v) @ land.gradient(v) + eta / 4 * k * np.trace(
            land.gradient_covariance(v))

    step = 1e-5
    fd = [Diff(0, step, acc=6)(np.array([l_wor(w + o * step * np.eye(7)[j]) for o in range(-4, 5)]))[4]
          for j in range(7)]
    drift = fp.SGD(eta, b, "without_replacement", epoch_noise="leading_order").fields(land, w).drift[0]
    np.testing.assert_allclose(-drift, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


def test_without_replacement_linearized_sits_at_the_effective_minimum(paper):
    land, w_min = paper
    sgd = fp.SGD(1e-7, 10, "without_replacement", n_permutations=N_PERMUTATIONS)
    g = sgd.linearized(land, w_min, rng=1)
    drift = sgd.fields(land, g.mean, epoch_noise="leading_order").drift[0]
    assert np.linalg.norm(drift) <= 1e-9 * np.linalg.norm(land.hessian(w_min), 2)
    assert 0 < np.linalg.norm(g.mean - w_min) < 1e-3
    wr = fp.SGD(1e-7, 10).linearized(land, w_min)
    assert np.all(np.diag(g.covariance) < 1e-3 * np.diag(wr.covariance))  # O(η³) against O(η)


def test_entropy_production_independent_of_learning_rate_and_batch(paper):
    land, w_min = paper
    ref = fp.SGD(1e-7, 10).linearized(land, w_min)
    assert not ref.is_equilibrium and ref.entropy_production > 0
    for eta, b in [(1e-6, 10), (1e-7, 40), (3e-8, 1)]:
        g = fp.SGD(eta, b).linearized(land, w_min)
        assert g.entropy_production == pytest.approx(ref.entropy_production, rel=LYAPUNOV_RTOL)
        assert g.entropy_production_per_step == pytest.approx(ref.entropy_production * eta, rel=LYAPUNOV_RTOL)


def test_commuting_hessian_and_noise_is_detected_as_equilibrium():
    # inputs on the coordinate axes: H and Σ₁ are both diagonal, so they commute
    x = np.array([[1.0, 0], [-1.0, 0], [2.0, 0], [-2.0, 0], [0, 1.0], [0, -1.0], [0, 3.0], [0, -3.0]])
    y = np.array([0.5, -0.2, 1.3, -0.7, 0.4, 0.1, 0.9, -1.1])
    land = fp.Landscape(fp.models.LinearRegression(2, intercept=False), x, y, noise_std=0.5)
    g = fp.SGD(1e-3, 2).linearized(land, land.minimize(np.zeros(2)))
    assert g.is_equilibrium
    assert g.entropy_production == pytest.approx(0.0, abs=1e-12)


def test_one_mode_deep_linear_closed_form_through_the_grid_solver():
    """docs/theory.md §5, L = 1: A = −u, D = (η/2B)(2u² + σ²), p ∝ (σ² + 2u²)^−(1 + B/(2η))."""
    sigma, m, eta, batch = 1.0, 1.0, 0.1, 2
    # a 12-sample data set with the Gaussian moments the closed form needs:
    # mean x² = 1, mean x⁴ = 3, mean εx = mean εx³ = 0, mean ε²x² = σ²
    x1 = np.array([0.0, 0.0, 0.0, 0.0, np.sqrt(3.0), -np.sqrt(3.0)])
    x = np.concatenate([x1, x1])
    eps = np.concatenate([np.full(6, sigma), np.full(6, -sigma)])
    land = fp.Landscape(fp.models.DeepLinearMode(depth=1), x, m * x + eps, noise_std=np.sqrt(12.0))
    grid = fp.Grid(m - 12.0, m + 12.0, 400)
    problem = fp.SGD(eta, batch, "iid").fokker_planck(land, grid)
    state = fp.stationary(problem)
    u = grid.axes[0] - m
    exact = (sigma**2 + 2 * u**2) ** (-(1 + batch / (2 * eta)))
    exact /= exact.sum() * grid.spacing[0]
    np.testing.assert_allclose(state.density, exact, rtol=0, atol=ONE_MODE_RTOL * exact.max())


@pytest.fixture(scope="module")
def tanh_unit():
    x, y, _ = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhUnit(bias=True), x, y, noise_std=0.1, weight_decay=1e-3)
    return land, land.minimize(np.array([1.0, 1.0, 0.0]))


def test_grid_fokker_planck_matches_linearised_state(tanh_unit):
    land, w = tanh_unit
    sgd = fp.SGD(1e-6, 10)  # std ~ 0.01: the landscape is quadratic across the grid
    grid = sgd.grid_around(land, w, axes=(0, 1), n_std=6.0, shape=32)
    state = fp.stationary(sgd.fokker_planck(land, grid, axes=(0, 1), reference=w))
    full = sgd.linearized(land, w)
    sub = fp.linearized(full.hessian[:2, :2], full.diffusion[:2, :2], mean=w[:2])
    np.testing.assert_allclose(state.covariance(), sub.covariance, rtol=GRID_COV_RTOL,
                               atol=GRID_COV_RTOL * np.abs(sub.covariance).max())
    assert state.entropy_production == pytest.approx(sub.entropy_production, rel=0.1)


# without_replacement (and the drift correction) on a slice are not the restriction of the
# full fields: tests/test_scheme_slices.py checks them against the slice model built directly
@pytest.mark.parametrize("scheme", ["with_replacement", "iid"])
def test_grid_fields_are_the_pointwise_fields_on_the_chosen_axis(tanh_unit, scheme):
    land, w = tanh_unit
    sgd = fp.SGD(1e-4, 10, scheme, temperature=1e-6)
    grid = fp.Grid(w[1] - 0.01, w[1] + 0.01, 8)
    problem = sgd.fokker_planck(land, grid, axes=(1,), reference=w)
    W = np.tile(w, (8, 1))
    W[:, 1] = grid.axes[0]
    f = sgd.fields(land, W, epoch_noise="leading_order")
    np.testing.assert_allclose(problem.drift_field[0], f.drift[:, 1], rtol=1e-12)
    np.testing.assert_allclose(problem.diffusion_field[0, 0], f.diffusion[:, 1, 1], rtol=1e-12)


def test_bad_scheme_input_is_rejected(tanh_unit, paper):
    land, w = tanh_unit
    with pytest.raises(ValueError, match="learning_rate must be a positive finite number; got 0"):
        fp.SGD(0.0, 10)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        fp.SGD(1e-3, 0)
    with pytest.raises(ValueError, match="unknown scheme 'shuffle'; expected one of with_replacement, iid, "
                                         "without_replacement"):
        fp.SGD(1e-3, 10, "shuffle")
    with pytest.raises(ValueError, match="temperature must be a non-negative finite number; got -1"):
        fp.SGD(1e-3, 10, temperature=-1.0)
    with pytest.raises(ValueError, match="unknown epoch_noise 'exact'"):
        fp.SGD(1e-3, 10, epoch_noise="exact")
    with pytest.raises(ValueError, match="batch_size must be at most the number of samples N=200; got 201"):
        fp.SGD(1e-3, 201).fields(land, w)
    with pytest.raises(ValueError, match="batch_size=7 must divide the number of samples N=200"):
        fp.SGD(1e-3, 7, "without_replacement").linearized(land, w)
    grid = fp.Grid((0.0, 0.0), (2.0, 2.0), (8, 8))
    sgd = fp.SGD(1e-3, 10)
    with pytest.raises(ValueError, match=r"axes must hold parameter indices 0..2; got 3 in axes=\(0, 3\)"):
        sgd.fokker_planck(land, grid, axes=(0, 3), reference=w)
    with pytest.raises(ValueError, match=r"axes must not repeat a parameter; got axes=\(1, 1\)"):
        sgd.fokker_planck(land, grid, axes=(1, 1), reference=w)
    with pytest.raises(ValueError, match="axes must be given: the grid has 2 axes and the model 3 parameters"):
        sgd.fokker_planck(land, grid, reference=w)
    with pytest.raises(ValueError, match=r"reference must be given: axes=\(0, 1\) leave 1 of 3"):
        sgd.fokker_planck(land, grid, axes=(0, 1))
    far = w + np.array([5.0, 0.0, 0.0])
    with pytest.raises(fp.GridError, match=r"grid must contain the reference point: reference\[0\] = "):
        sgd.fokker_planck(land, grid, axes=(0, 1), reference=far)
    with pytest.raises(ValueError, match=r"reference must have shape \(3,\)"):
        sgd.fokker_planck(land, grid, axes=(0, 1), reference=w[:2])


def test_monte_carlo_epoch_noise_on_a_grid_is_refused_with_its_cost():
    """The object's epoch_noise governs fokker_planck; Monte Carlo on a grid that would take
    hours raises with the estimate and the cheaper settings instead of running for hours."""
    x, y, _ = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhUnit(), x, y, noise_std=0.1, weight_decay=1e-3)
    grid = fp.Grid((-0.3, -0.3), (0.3, 0.3), (8, 8))
    wor = fp.SGD(3e-4, 10, temperature=1e-2, scheme="without_replacement")
    with pytest.raises(fp.InputError, match=r"monte_carlo.*\(8, 8\).*n_permutations=100000.*leading_order"):
        wor.fokker_planck(land, grid)
    assert isinstance(wor.fokker_planck(land, grid, epoch_noise="leading_order"), fp.FokkerPlanck)
    small = fp.SGD(3e-4, 10, temperature=1e-2, scheme="without_replacement", n_permutations=50)
    assert isinstance(small.fokker_planck(land, grid), fp.FokkerPlanck)


SANDWICH_RTOL = 1e-14  # a few roundings of sums of d² products, relative to the largest entry


@pytest.mark.parametrize("d", [1, 2, 3, 7])
def test_symmetric_sandwich_kernel_is_the_symmetrised_product(d):
    """The compiled epoch covariance ``c (H S H + (H S H)ᵀ) / 2`` against NumPy's stacked products,
    for non-symmetric ``H`` and ``S`` (so an index slip in either product or in the mirror shows)."""
    from fpsolve._kernels.models import symmetric_sandwich

    rng = np.random.default_rng(d)
    H, S = rng.normal(size=(2, 50, d, d))
    out = np.empty_like(H)
    symmetric_sandwich(H, S, 0.37, out)
    M = H @ S @ H
    ref = 0.37 * 0.5 * (M + np.swapaxes(M, 1, 2))
    assert np.all(np.abs(out - ref) <= SANDWICH_RTOL * np.abs(ref).max())
    assert np.array_equal(out, np.swapaxes(out, 1, 2))
