"""Issue 9: every input that is wrong or unstable gets a clear answer (one test per item).

The bad-input table over every public entry point is tests/test_bad_input.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.errors import StabilityError, StabilityWarning


def gaussian_mean(n=20, s=1.0, s0=2.0, seed=0):
    y = np.random.default_rng(seed).normal(1.0, s, size=n)
    return fp.Landscape(fp.models.GaussianMean(s, s0), None, y)


@pytest.fixture(scope="module")
def tanh_unit():
    x, y, _ = fp.datasets.load_adhikari2023()
    return fp.Landscape(fp.models.TanhUnit(), x, y, noise_std=0.1, weight_decay=1e-3)


# -- item 2: unstable learning rates are not stationary states -----------------------------------

def test_item2_linearised_sgd_beyond_the_stability_limit_raises():
    land = gaussian_mean()
    w = land.minimize([0.0])
    H = float(land.hessian(w)[0, 0])
    with pytest.raises(StabilityError, match=r"η λmax = 10 >= 2 with λmax = 20\.25.*η < 2/λmax = 0\.0987"):
        fp.SGD(learning_rate=10 / H, batch_size=5).linearized(land, w)
    # L_WOR = L + (η/4)|∇L|²: its Hessian H + (η/2) H² = 121.5 at η = 10/H
    with pytest.raises(StabilityError, match=r"η λmax = 60 >= 2 with λmax = 121\.5 \(the largest Hessian eigenvalue of L_WOR at the start w"):
        fp.SGD(learning_rate=10 / H, batch_size=5, scheme="without_replacement",
               n_permutations=100).linearized(land, w, rng=0)
    fp.SGD(learning_rate=1.9 / H, batch_size=5).linearized(land, w)  # below the limit: a state


def test_item2_continuous_time_linearisation_only_warns():
    with pytest.warns(StabilityWarning, match=r"η λmax = 3 >= 2 with λmax = 1 .*describes no SGD run"):
        g = fp.linearized(np.eye(2), np.eye(2), learning_rate=3.0)
    assert np.allclose(g.covariance, np.eye(2))


# -- item 4: Langevin steps beyond stability ------------------------------------------------------

def test_item4_langevin_step_beyond_the_drift_stability_limit_warns():
    problem = fp.FokkerPlanck(fp.Grid(-4.0, 4.0, 64), drift=lambda x: -x, diffusion=0.5)
    with pytest.warns(StabilityWarning, match=r"dt · max\|∂A/∂x\| = 50 >= 2 .*Use dt < 2"):
        fp.simulate.langevin(problem, 0.0, dt=50.0, n_steps=10, n_walkers=4, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StabilityWarning)
        fp.simulate.langevin(problem, 0.0, dt=0.5, n_steps=10, n_walkers=4, rng=0)


# -- items 6, 7: complex values and bad learning rates / means ------------------------------------

def test_item6_complex_values_are_rejected_naming_the_argument():
    grid = fp.Grid(-1.0, 1.0, 16)
    with pytest.raises(fp.FieldError, match="drift must be real; got complex"):
        fp.FokkerPlanck(grid, drift=lambda x: -x + 0j, diffusion=1.0)
    with pytest.raises(fp.FieldError, match="diffusion must be real; got complex"):
        fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=lambda x: 1.0 + 0 * x[0] + 1j)
    with pytest.raises(fp.FieldError, match="hessian must be real; got complex"):
        fp.linearized(np.eye(2) + 1j * np.eye(2), np.eye(2))


@pytest.mark.parametrize("eta", [-0.1, np.nan, np.inf, 0.0, "0.1", True])
def test_item7_linearized_learning_rate_is_validated(eta):
    with pytest.raises(fp.FPSolveError, match="learning_rate must be a positive finite number or None"):
        fp.linearized(np.eye(2), np.eye(2), learning_rate=eta)


def test_item7_linearized_mean_must_be_finite():
    with pytest.raises(fp.FieldError, match=r"mean must be finite; got \[nan, 0.0\]"):
        fp.linearized(np.eye(2), np.eye(2), mean=[np.nan, 0.0])


# -- items 8, 9: grids and names -------------------------------------------------------------------

def test_item8_grid_lengths_and_spacings_must_be_representable():
    with pytest.raises(fp.GridError, match="upper - lower must be a finite length"):
        fp.Grid(-1e308, 1e308, 16)
    with pytest.raises(fp.GridError, match="the cells of axis 0 cannot be represented"):
        fp.Grid(0.0, 1e-320, 16)
    with pytest.raises(fp.GridError, match="the cells of axis 0 cannot be represented"):
        fp.Grid(1e6, 1e6 + 1e-9, 16)  # spacing below 64 ulps of the coordinates


@pytest.mark.parametrize("boundary", [None, 5, ("reflecting", 3)])
def test_item9_boundary_of_the_wrong_type_is_named(boundary):
    with pytest.raises(fp.GridError, match="boundary"):
        fp.Grid((0.0, 0.0), (1.0, 1.0), (8, 8), boundary=boundary)


def test_item9_field_values_that_are_not_numbers_are_named():
    grid = fp.Grid(-1.0, 1.0, 16)
    with pytest.raises(fp.FieldError, match="drift must hold real numbers"):
        fp.FokkerPlanck(grid, drift=lambda x: np.full(x.shape, "a"), diffusion=1.0)
    with pytest.raises(fp.FieldError, match="diffusion must be real"):
        fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5 + 0.5j)


# -- item 13: the without-replacement linearisation ----------------------------------------------

def test_item13_wor_linearisation_converges_at_larger_learning_rates(tanh_unit):
    w_star = tanh_unit.minimize([1.0, 1.0])
    scheme = fp.SGD(learning_rate=3e-4, batch_size=10, scheme="without_replacement", temperature=1e-2,
                    n_permutations=2000)
    g = scheme.linearized(tanh_unit, w_star, rng=0)
    assert np.all(np.isfinite(g.covariance)) and np.all(np.linalg.eigvalsh(g.covariance) > 0)
    # from the origin (a saddle of L, a minimum of L_WOR at this η): the same state, said so
    g0 = scheme.linearized(tanh_unit, [0.0, 0.0], rng=0)
    assert "L_WOR Hessian" in g0.method
    assert np.allclose(g0.mean, g.mean, atol=1e-8)
    with pytest.raises(fp.FPSolveError, match="max_iter must be an integer >= 1"):
        scheme.linearized(tanh_unit, w_star, max_iter=0)


# -- item 14: pure SGD noise that vanishes on a line ---------------------------------------------

def test_item14_singular_sgd_noise_says_where_and_what_to_do(tanh_unit):
    grid = fp.Grid((-1.0, -1.0), (1.0, 1.0), (9, 9))  # odd: a row of centres on w2 = 0
    problem = fp.SGD(learning_rate=1e-4, batch_size=10).fokker_planck(tanh_unit, grid)
    with pytest.raises(fp.FieldError, match=r"singular .* in \d+ of 81 cells.*add a small temperature"
                                            r".*grid whose cell centres avoid that set"):
        fp.stationary(problem)


# -- items 5, 10, 12: evolve and spectral_gap -------------------------------------------------------

MASS_INVARIANT_TOL = 1e-12  # the requirement for long horizons: mass is projected every step
GAP_RTOL = (12.0 / 128) ** 2  # the discrete gap converges to the OU rate 1 at O(h²)


@pytest.fixture(scope="module")
def ou_1d():
    return fp.FokkerPlanck(fp.Grid(-6.0, 6.0, 128), drift=lambda x: -x, diffusion=0.5)


def bump(x):
    return np.exp(-(x[0] - 2.0) ** 2 / 0.5)


@pytest.mark.parametrize("dt0", [0.0, -0.1, np.nan, np.inf, "1e-3", 1j])
def test_item5_dt0_is_validated(ou_1d, dt0):
    with pytest.raises(fp.FPSolveError, match="dt0 must be a positive finite number"):
        fp.evolve(ou_1d, bump, [0.0, 1.0], dt0=dt0)


@pytest.mark.parametrize("horizon", [1e6, 1e12, 1e300])
def test_item5_long_horizons_jump_to_the_stationary_state_and_keep_mass(ou_1d, horizon):
    with pytest.warns(UserWarning, match="normalised"):
        run = fp.evolve(ou_1d, bump, [0.0, 1.0, horizon])
    assert np.abs(run.mass - 1.0).max() < MASS_INVARIANT_TOL
    assert run.stationary_from == pytest.approx(1.0)
    assert run.spectral_gap == pytest.approx(1.0, rel=GAP_RTOL)
    assert any("integration stopped at t=1" in note for note in run.notes)
    assert run.status == "stationary" and run.notes[0] in run.message
    state = fp.stationary(ou_1d, order=2)
    assert np.allclose(run.densities[-1], state.discrete_density, rtol=0, atol=1e-12)
    # the integrated part is untouched by the jump
    with pytest.warns(UserWarning, match="normalised"):
        short = fp.evolve(ou_1d, bump, [0.0, 1.0])
    assert np.array_equal(short.densities[1], run.densities[1])


def test_item5_mass_projection_is_reported(ou_1d):
    with pytest.warns(UserWarning, match="normalised"):
        run = fp.evolve(ou_1d, bump, [0.0, 5.0])
    assert 0 <= run.mass_correction < 1e-10 and run.stationary_from is None
    assert run.status == "completed"


@pytest.mark.parametrize("k", [1, 0, -3, 2.5, True])
def test_item10_spectral_gap_n_eigenvalues_is_validated(ou_1d, k):
    with pytest.raises(fp.FPSolveError, match=r"n_eigenvalues must be an integer >= 2"):
        fp.spectral_gap(ou_1d, n_eigenvalues=k)


def test_item10_spectral_gap_too_many_eigenvalues(ou_1d):
    small = fp.FokkerPlanck(fp.Grid(-1.0, 1.0, 8), drift=lambda x: -x, diffusion=0.5)
    with pytest.raises(fp.FPSolveError, match="n_eigenvalues=6 is too many for a grid of 8 cells"):
        fp.spectral_gap(small, n_eigenvalues=6)


ORDER4_DELTA_GRID = 128


def test_item12_order4_from_a_delta_uses_order2_until_resolved_and_is_never_worse():
    from scipy.special import ndtr

    D = 0.5
    grid = fp.Grid(-6.0, 6.0, ORDER4_DELTA_GRID)
    problem = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=D)
    h = grid.spacing[0]
    k = 2 * ORDER4_DELTA_GRID // 3
    a = grid.lower[0] + k * h
    p0 = np.zeros(grid.shape)
    p0[k] = 1.0 / h
    times = [0.0, 0.01, 0.1, 1.0, 3.0]
    order2 = fp.evolve(problem, p0, times, tolerance=1e-8)
    with pytest.warns(UserWarning, match=r"order 2 before t=0.1: the density is not resolved"):
        order4 = fp.evolve(problem, p0, times, order=4, tolerance=1e-8)
    assert any("order 2 before t=0.1" in note for note in order4.notes)
    x = grid.axes[0]
    for i, t in enumerate(times[1:], 1):  # exact OU transition from the uniform density on the cell
        v, e = D * (1 - np.exp(-2 * t)), np.exp(-t)
        exact = (ndtr((x - a * e) / np.sqrt(v)) - ndtr((x - (a + h) * e) / np.sqrt(v))) / (h * e)
        tv2 = 0.5 * np.abs(order2.densities[i] - exact).sum() * h
        tv4 = 0.5 * np.abs(order4.densities[i] - exact).sum() * h
        assert tv4 <= tv2 * (1 + 1e-9)
        if t == 3.0:
            assert tv4 < 0.1 * tv2  # resolved and extrapolated: the h² term is gone


# -- item 11: requests that cannot fit in memory ----------------------------------------------------

def test_item11_impossible_memory_requests_are_refused_with_the_estimate():
    grid = fp.Grid(0.0, 1.0, 10**12)
    with pytest.raises(fp.errors.MemoryEstimateError, match=r"a problem on 1e\+12 cells .* needs at least .* GiB, "
                                                            r"more than the .* GiB available"):
        fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=1.0)
    problem = fp.FokkerPlanck(fp.Grid(-4.0, 4.0, 32), drift=lambda x: -x, diffusion=0.5)
    with pytest.raises(MemoryError, match=r"10000000000 walkers in 1 dimensions \(n_walkers\) needs at least"):
        fp.simulate.langevin(problem, 0.0, dt=0.01, n_steps=10, n_walkers=10**10)
    land = gaussian_mean()
    with pytest.raises(MemoryError, match=r"chains in 1 dimensions \(n_chains\) needs at least"):
        fp.simulate.sgd(land, fp.SGD(1e-3, 5), [0.0], n_steps=10, n_chains=10**10)


def test_item13_a_converged_newton_step_is_accepted_at_the_gradient_round_off_floor(tanh_unit):
    """With gtol far below round-off the gradient cannot meet the bound; the position is still
    converged (the next Newton step would not move it), so the minimiser is returned."""
    w = tanh_unit.minimize([1.0, 1.0])
    w_tight = tanh_unit.minimize([1.0, 1.0], gtol=1e-30)
    assert np.allclose(w_tight, w, rtol=0, atol=1e-9)
