"""Linearised Gaussian states (docs/theory.md §3) against closed forms."""

import numpy as np
import pytest
from conftest import OU_D, OU_K, lyapunov_covariance, ou_entropy_production

import fpsolve as fp
from fpsolve.landscape.linearized import linearized_epoch

EXACT_RTOL = 1e-10  # dense Lyapunov solves of 2x2 / 3x3 systems: round-off only


def test_ou_reference_problem():
    g = fp.linearized(OU_K, OU_D, learning_rate=0.1)
    C = lyapunov_covariance(OU_K, OU_D)
    np.testing.assert_allclose(g.covariance, C, rtol=EXACT_RTOL)
    np.testing.assert_allclose(g.circulation, -g.circulation.T, atol=1e-15)
    assert g.entropy_production == pytest.approx(ou_entropy_production(OU_K, OU_D, C), rel=EXACT_RTOL)
    assert g.entropy_production == pytest.approx(1.5625, rel=EXACT_RTOL)
    assert g.entropy_production_per_step == pytest.approx(0.15625, rel=EXACT_RTOL)
    assert not g.is_equilibrium


def test_commuting_hessian_and_diffusion_is_equilibrium():
    rng = np.random.default_rng(0)
    V, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    H = V @ np.diag([1.0, 2.0, 5.0]) @ V.T
    D = V @ np.diag([0.3, 0.1, 0.7]) @ V.T
    g = fp.linearized(H, D, mean=[1.0, 2.0, 3.0])
    assert g.is_equilibrium
    assert g.entropy_production == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(g.covariance, V @ np.diag([0.3, 0.05, 0.14]) @ V.T, rtol=EXACT_RTOL, atol=1e-15)
    assert g.entropy_production_per_step is None


def test_epoch_lyapunov_matches_the_per_step_discrete_process():
    """Epoch map of M Euler steps with per-step noise 2ηD: same C as C = A C A + 2ηD."""
    from scipy.linalg import solve_discrete_lyapunov

    H = np.array([[2.0, 0.5], [0.5, 1.0]])
    D = np.array([[0.2, 0.05], [0.05, 0.1]])
    eta, M = 0.05, 7
    A = np.eye(2) - eta * H
    cov = sum(np.linalg.matrix_power(A, m) @ (2 * eta * D) @ np.linalg.matrix_power(A, m) for m in range(M))
    g = linearized_epoch(H, cov, eta, M)
    np.testing.assert_allclose(g.covariance, solve_discrete_lyapunov(A, 2 * eta * D), rtol=EXACT_RTOL)
    assert g.method == "epoch_lyapunov"


def test_status_message_seconds():
    """GaussianState has the result fields every fpsolve result has; the message is never empty."""
    g = fp.linearized(OU_K, OU_D)
    assert g.status == "solved" and 0.0 < g.seconds < 60.0
    assert g.message.startswith("continuous_lyapunov: H C + C Hᵀ = 2 D solved directly (d = 2); out of "
                                "equilibrium, σ = 1.56")
    e = linearized_epoch(np.diag([2.0, 1.0]), 0.01 * np.eye(2), 0.05, 7)
    assert e.status == "solved" and e.seconds > 0.0
    assert e.message == ("epoch_lyapunov: C = J C Jᵀ + Cov_epoch, J = (I − η H)^M solved directly (d = 2); "
                         "in equilibrium")


def test_singular_diffusion_warns_and_reports_nan():
    with pytest.warns(RuntimeWarning, match="diffusion is singular"):
        g = fp.linearized(np.eye(2), np.diag([1.0, 0.0]))
    assert np.isnan(g.entropy_production)


def test_grid_covers_n_std():
    g = fp.linearized(np.diag([1.0, 4.0]), np.diag([1.0, 1.0]), mean=[0.5, -1.0])
    grid = g.grid(n_std=5.0, shape=(16, 20))
    np.testing.assert_allclose(grid.lower, [0.5 - 5.0, -1.0 - 2.5])
    np.testing.assert_allclose(grid.upper, [0.5 + 5.0, -1.0 + 2.5])
    assert grid.shape == (16, 20)


def test_bad_input_is_rejected():
    with pytest.raises(fp.FieldError, match=r"hessian must be a square \(d, d\) matrix; got shape \(2, 3\)"):
        fp.linearized(np.ones((2, 3)), np.eye(2))
    with pytest.raises(fp.FieldError, match=r"diffusion must be a \(2, 2\) matrix; got shape \(3, 3\)"):
        fp.linearized(np.eye(2), np.eye(3))
    with pytest.raises(fp.FieldError, match="hessian must have eigenvalues with positive real part.*got -1"):
        fp.linearized(np.diag([1.0, -1.0]), np.eye(2))
    with pytest.raises(fp.FieldError, match="diffusion must be symmetric"):
        fp.linearized(np.eye(2), np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(fp.FieldError, match="diffusion must be positive semidefinite; got eigenvalue -1"):
        fp.linearized(np.eye(2), np.diag([1.0, -1.0]))
    with pytest.raises(fp.FieldError, match=r"mean must have shape \(2,\); got \(3,\)"):
        fp.linearized(np.eye(2), np.eye(2), mean=[1.0, 2.0, 3.0])
    with pytest.raises(fp.FieldError, match=r"hessian eigenvalues must lie in \(0, 1/learning_rate\)"):
        linearized_epoch(np.eye(2) * 30.0, np.eye(2), 0.1, 5)
    with pytest.raises(ValueError, match="n_std must be positive; got 0"):
        fp.linearized(np.eye(2), np.eye(2)).grid(n_std=0)
