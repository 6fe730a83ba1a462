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
