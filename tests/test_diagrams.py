"""Built-in phase-diagram functions against their closed forms.

Gaussian mean: the SGLD and full-batch variances are the exact discrete formulas of
docs/theory.md §2; the SGWORLD one is checked against a direct sum over the epoch's noise
covariance matrix (the form that tests/test_sgd.py verifies by simulation) and against the
leading-order expansion.  TanhNet slice: the linearised with-replacement σ does not depend on
η or b; the grid σ tends to it with an O(η) nonlinear correction; the density's departure from
the Gaussian grows as the width, O(η^½).
"""

from __future__ import annotations

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.diagrams import GAUSSIAN_MEAN_TRUE, gaussian_mean, sgworld_variance, tanhnet_slice

ROUNDOFF = 1e-10  # closed forms evaluated two ways: agree to round-off
LEADING_ORDER_REL = (
    0.1  # SGWORLD expansion at ηH = 0.01: next order ~ ηH relative to the leading terms
)
SLOPE_TOL = (
    0.05  # log-log slopes from two η a decade apart; 32² grid error ~ 2e-4 in σ vs 5e-3 signal
)


def matrix_sgworld_variance(eta, H, sigma_B, M, T):
    """The step-averaged variance as a direct quadratic form over one epoch's noise covariance."""
    a = 1.0 - eta * H
    Ce = sigma_B * M / (M - 1) * (np.eye(M) - np.ones((M, M)) / M)

    def added(j):
        u = np.zeros(M)
        u[:j] = a ** (j - 1 - np.arange(j))
        return eta**2 * u @ Ce @ u + 2 * eta * T * np.sum(a ** (2 * np.arange(j)))

    v0 = added(M) / (1 - a ** (2 * M))
    return np.mean([a ** (2 * j) * v0 + added(j) for j in range(1, M + 1)])


def data_constants(n=100, s=1.0, s0=10.0, seed=0, b=10):
    """H, Σ_B from the data directly (L = Σ (y − θ)² / 2s² + θ² / 2s0²)."""
    y = np.random.default_rng(seed).normal(GAUSSIAN_MEAN_TRUE, s, n)
    H = n / s**2 + 1 / s0**2
    sigma1 = (n / s**2) ** 2 * np.var(y)
    return H, (n - b) / (b * (n - 1)) * sigma1


@pytest.mark.parametrize("eta_h, M, T", [(0.01, 10, 1.0), (0.3, 5, 0.5), (1.5, 20, 2.0)])
def test_sgworld_variance_equals_the_direct_quadratic_form(eta_h, M, T):
    H, sigma_B = 100.0, 3e4
    assert sgworld_variance(eta_h / H, H, sigma_B, M, T) == pytest.approx(
        matrix_sgworld_variance(eta_h / H, H, sigma_B, M, T), rel=ROUNDOFF
    )


@pytest.mark.parametrize("eta, T", [(1e-4, 1.0), (3e-3, 0.5), (1.5e-2, 2.0)])
def test_gaussian_mean_reproduces_the_exact_discrete_variances(eta, T):
    out = gaussian_mean(learning_rate=eta, temperature=T)
    H, sigma_B = data_constants()
    denom = 2 * eta * H - (eta * H) ** 2
    sgld = (2 * eta * T + eta**2 * sigma_B) / denom
    assert out["sgld_variance_error"] == pytest.approx(sgld * H / T - 1, rel=ROUNDOFF)
    assert out["full_batch_variance_error"] == pytest.approx(eta * H / (2 - eta * H), rel=ROUNDOFF)
    sgworld = matrix_sgworld_variance(eta, H, sigma_B, 10, T)
    assert out["sgworld_variance_error"] == pytest.approx(sgworld * H / T - 1, rel=1e-8)
    r = sgld * H / T
    assert out["sgld_kl"] == pytest.approx(0.5 * (r - 1 - np.log(r)), rel=1e-8)
    assert out["eta_hessian"] == pytest.approx(eta * H, rel=ROUNDOFF)


def test_gaussian_mean_sgworld_matches_the_leading_order_expansion():
    eta_h, T = 0.01, 1.0
    H, sigma_B = data_constants()
    eta = eta_h / H
    out = gaussian_mean(learning_rate=eta, temperature=T)
    leading = eta_h / 2 + eta**2 * sigma_B * H * 11 / 6  # ηH/2 + η² Σ_B H (M + 1)/6, M = 10
    assert out["sgworld_variance_error"] == pytest.approx(leading, rel=LEADING_ORDER_REL)
    # and the minibatch noise cancels per epoch: far below SGLD's η Σ_B / 2
    assert out["sgworld_variance_error"] < 0.2 * out["sgld_variance_error"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"learning_rate": 0.03}, r"ηH = 3.*stable only for 0 < ηH < 2"),
        ({"learning_rate": -1.0}, "learning_rate must be a positive finite number; got -1.0"),
        (
            {"learning_rate": 1e-3, "temperature": 0.0},
            "temperature must be a positive finite number; got 0.0",
        ),
        ({"learning_rate": 1e-3, "batch_size": 7}, "batch_size=7 must divide n_samples=100"),
        (
            {"learning_rate": 1e-3, "batch_size": 0},
            r"batch_size must be an integer in 1..n_samples=100; got 0",
        ),
    ],
)
def test_gaussian_mean_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gaussian_mean(**kwargs)


SIM_Z = 4.0  # simulated and exact variance errors agree within 4 standard errors (8 chains)


def test_gaussian_mean_simulated_chains_match_the_exact_variance_errors():
    """Real SGLD and SGWORLD chains (fp.simulate.sgd) reproduce the exact discrete formulas."""
    out = gaussian_mean(5e-3, 1.0, simulate=10000)
    for name in ("sgld", "sgworld"):
        se = out[f"{name}_variance_error_sim_se"]
        assert 0 < se < 0.05
        assert abs(out[f"{name}_variance_error_sim"] - out[f"{name}_variance_error"]) < SIM_Z * se
    # the two schemes differ by far more than the chains' error: the check can tell them apart
    assert out["sgld_variance_error"] - out["sgworld_variance_error"] > 5 * SIM_Z * se
    assert "sgld_variance_error_sim" not in gaussian_mean(5e-3, 1.0)
    with pytest.raises(ValueError, match="simulate must be a non-negative integer"):
        gaussian_mean(5e-3, 1.0, simulate=-1)


def test_tanhnet_linearised_sigma_does_not_depend_on_learning_rate_or_batch_size():
    points = [(1e-8, 10), (1e-7, 10), (3e-6, 4), (1e-6, 40)]
    outs = [tanhnet_slice(eta, b, grid=False) for eta, b in points]
    sigmas = [o["sigma_linearized"] for o in outs]
    assert sigmas[0] > 0
    np.testing.assert_allclose(sigmas, sigmas[0], rtol=1e-9)
    # while the width scales as sqrt(η k), k = (N − b) / (b (N − 1))
    k = [(200 - b) / (b * 199) for _, b in points]
    widths = [
        o["std_linearized"] / np.sqrt(eta * kk)
        for o, (eta, _), kk in zip(outs, points, k, strict=True)
    ]
    np.testing.assert_allclose(widths, widths[0], rtol=1e-9)
    assert np.isnan(outs[0]["sigma_grid"])


def test_tanhnet_grid_sigma_tends_to_the_linearised_one_at_order_eta():
    lo, hi = (tanhnet_slice(eta, 10, cells=32, without_replacement=False) for eta in (1e-8, 1e-7))
    excess = [o["sigma_grid"] - o["sigma_linearized"] for o in (lo, hi)]
    assert np.log10(excess[1] / excess[0]) == pytest.approx(1.0, abs=SLOPE_TOL)
    gauss = np.log10(hi["non_gaussianity"] / lo["non_gaussianity"])
    assert gauss == pytest.approx(0.5, abs=SLOPE_TOL)
    assert lo["non_gaussianity"] < 1e-3


def test_tanhnet_without_replacement_quantities():
    out = tanhnet_slice(1e-6, 10, cells=32)
    # the without-replacement state is O(η^1.5) wide against O(η^0.5): little overlap
    assert 0.5 < out["tv_schemes"] < 1.0
    assert 0 < out["mean_shift_grid"] < out["std_linearized"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cells": 15}, "cells must be an even integer >= 16; got 15"),
        ({"axes": (1, 2, 3)}, r"axes must name two parameters; got \(1, 2, 3\)"),
        ({"learning_rate": 0.0}, "learning_rate must be a positive finite number"),
    ],
)
def test_tanhnet_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tanhnet_slice(**{"learning_rate": 1e-7, "batch_size": 10, **kwargs})


def test_diagram_functions_run_under_sweep_with_their_units():
    pytest.importorskip("xarray")
    ds = fp.sweep(
        gaussian_mean,
        {"learning_rate": [1e-3, 3e-2], "temperature": [1.0]},
        executor="serial",
        errors="record",
        progress=False,
    )
    assert ds.attrs["n_failed"] == 1  # ηH = 3 is unstable: recorded, not raised
    assert ds.sgld_kl.attrs["units"] == "nat"
