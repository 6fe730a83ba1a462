"""Softmax regression (analytic derivatives, Numba SGD) and the quick digits fluctuation-theorem run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fpsolve.landscape.models import SoftmaxRegression

SEED = 20261201
FD_STEP = 1e-6  # central differences: truncation O(h²) ~ 1e-12, round-off ~ 1e-16 / h ~ 1e-10
FD_ATOL = 1e-8  # so derivatives agree to well within this
STAT_Z = 4.0  # statistical checks of the digits run


@pytest.fixture(scope="module")
def toy():
    gen = np.random.default_rng(SEED)
    x = gen.standard_normal((60, 3))
    y = gen.integers(0, 4, 60)
    return SoftmaxRegression(3, 4, weight_decay=0.05), x, y, gen.standard_normal(16) * 0.5


def test_gradient_and_hessian_against_differences(toy):
    model, x, y, w = toy
    g = model.gradient(w, x, y)
    H = model.hessian(w, x, y)
    eye = np.eye(model.n_params)
    fd_g = np.array([(model.loss(w + FD_STEP * e, x, y) - model.loss(w - FD_STEP * e, x, y)) / (2 * FD_STEP)
                     for e in eye])
    fd_H = np.array([(model.gradient(w + FD_STEP * e, x, y) - model.gradient(w - FD_STEP * e, x, y))
                     / (2 * FD_STEP) for e in eye])
    assert np.abs(g - fd_g).max() < FD_ATOL
    assert np.abs(H - fd_H).max() < FD_ATOL
    assert np.allclose(model.per_sample_gradients(w, x, y).mean(axis=0), g, rtol=0, atol=1e-15)
    S = model.gradient_covariance(w, x, y)
    assert np.allclose(S, S.T) and np.linalg.eigvalsh(S)[0] > -1e-14


def test_minimum_and_full_batch_step(toy):
    model, x, y, w = toy
    w_min = model.minimize(x, y)
    assert np.abs(model.gradient(w_min, x, y)).max() < 1e-10
    assert np.linalg.eigvalsh(model.hessian(w_min, x, y))[0] >= model.weight_decay * (1 - 1e-12)
    # b = N: every batch is the whole data set, so one step is w − η ∇L(w) (summation order aside)
    rec = model.sgd(x, y, w, 0.1, batch_size=60, n_steps=1)
    assert np.allclose(rec[0, 1], w - 0.1 * model.gradient(w, x, y), rtol=0, atol=1e-14)


def test_sgd_projection_and_seeds(toy):
    model, x, y, w = toy
    full = model.sgd(x, y, w, 0.05, 8, 200, n_chains=3, record_every=5, burn_in=50, rng=3)
    assert full.shape == (3, 31, 16)
    basis = np.random.default_rng(1).standard_normal((2, 16))
    proj = model.sgd(x, y, w, 0.05, 8, 200, n_chains=3, record_every=5, burn_in=50, rng=3,
                     center=w, basis=basis)
    assert np.allclose(proj, (full - w) @ basis.T, rtol=0, atol=1e-13)
    again = model.sgd(x, y, w, 0.05, 8, 200, n_chains=3, record_every=5, burn_in=50, rng=3)
    assert np.array_equal(full, again)
    assert not np.array_equal(full[0], full[1])  # chains draw from their own streams


def test_softmax_bad_inputs(toy):
    model, x, y, w = toy
    with pytest.raises(ValueError, match="y must lie in 0..3"):
        model.loss(w, x, np.full(60, 7))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\)"):
        model.loss(w, x[:, :2], y)
    with pytest.raises(ValueError, match=r"w must have shape \(16,\)"):
        model.loss(w[:3], x, y)
    with pytest.raises(ValueError, match="weight_decay must be finite and >= 0"):
        SoftmaxRegression(3, 4, weight_decay=-1.0)
    with pytest.raises(ValueError, match="batch_size must be at most N=60"):
        model.sgd(x, y, w, 0.1, 61, 10)
    with pytest.raises(ValueError, match=r"basis must have shape \(m, 16\)"):
        model.sgd(x, y, w, 0.1, 5, 10, basis=np.ones((2, 3)))
    with pytest.raises(ValueError, match="burn_in must be an integer"):
        model.sgd(x, y, w, 0.1, 5, 10, burn_in=11)


@pytest.mark.slow
@pytest.mark.validation
def test_digits_quick_run():
    pytest.importorskip("sklearn")
    here = Path(__file__).resolve().parents[1] / "validation" / "digits_ft"
    sys.path.insert(0, str(here))
    try:
        from run import run
        from settings import QUICK
    finally:
        sys.path.remove(str(here))
    results, _ = run(QUICK)
    assert results["n_params"] == 650
    row = results["per_k"]["10"]
    assert row["chain_ift_exact_1"] == pytest.approx(1.0, abs=1e-12)
    for window, entry in row["windows"].items():
        disc = entry["discrete"]
        per_step = disc["mean"] / int(window)
        assert abs(per_step - row["chain_per_step"]) < STAT_Z * disc["error"] / int(window)
        assert disc["ift_converged"]
        assert abs(disc["ift"] - 1.0) < STAT_Z * disc["ift_error"]
        assert abs(disc["dft_slope"] - 1.0) < STAT_Z * disc["dft_slope_error"]
    # the chain fitted to the first half of the records, on the second half (k = 2: enough data to fit)
    fit_row = results["per_k"]["2"]
    for window, entry in fit_row["windows"].items():
        fit = entry["fitted"]
        assert abs(fit["mean"] / int(window) - fit_row["fitted_per_step"]) < STAT_Z * fit["error"] / int(window)
        assert abs(fit["ift"] - 1.0) < STAT_Z * fit["ift_error"]
        # a Gaussian process with the measured moments: the IFT within the same error
        assert abs(fit["gauss_pred"] - fit["ift"]) < STAT_Z * fit["ift_error"]
    cov = results["covariance_top"]
    # SGD's variance along the stiffest directions: the per-step discrete Lyapunov state, not the
    # continuous one (η λ_max ≈ 0.24 makes them differ by ~12%); sampling error ≈ 3% at this size
    assert np.allclose(cov["sgd"][:5], cov["discrete"][:5], rtol=0.08)
    assert not np.allclose(cov["sgd"][:1], cov["continuous"][:1], rtol=0.08)
