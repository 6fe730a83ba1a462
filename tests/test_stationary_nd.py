"""Two- and three-dimensional stationary states against Ornstein-Uhlenbeck closed forms."""

import numpy as np
import pytest

import fpsolve as fp
from conftest import (OU_D, OU_K, gaussian_density, linear_drift, lyapunov_covariance,
                      ou_current, ou_entropy_production, total_variation)

# Fourth-order extrapolated solution of the non-equilibrium OU problem on 128^2 cells
# over [-6, 6]^2; measured: TV 5.8e-6, current 6.9e-5, sigma 1.1e-4, covariance 6.1e-6.
OU128_TV = 2e-5
OU128_CURRENT = 2e-4
OU128_SIGMA = 3e-4
OU128_COVARIANCE = 2e-5
EXACT_RTOL = 1e-10  # equilibrium states are exact up to quadrature and round-off


def test_nonequilibrium_ou_density_current_and_entropy(ou_problem):
    problem = ou_problem(128)
    grid = problem.grid
    C = lyapunov_covariance(OU_K, OU_D)
    state = fp.stationary(problem)
    assert state.info.order == 4 and state.status == "converged"
    assert state.density.min() >= 0
    assert state.density.sum() * grid.cell_volume == pytest.approx(1.0, abs=1e-13)
    assert total_variation(state.density, gaussian_density(grid, C), grid) < OU128_TV
    J = ou_current(grid, OU_K, OU_D, C)
    assert np.abs(state.current - J).max() < OU128_CURRENT * np.abs(J).max()
    sigma = ou_entropy_production(OU_K, OU_D, C)
    assert sigma == pytest.approx(1.5625)  # hand check of the reference: 25/16
    assert state.entropy_production == pytest.approx(sigma, rel=OU128_SIGMA)
    np.testing.assert_allclose(state.covariance(), C, atol=OU128_COVARIANCE)
    np.testing.assert_allclose(state.mean(), 0.0, atol=OU128_COVARIANCE)
    assert state.residual < 1e-12


def test_current_rotates_and_marginals_integrate_to_one(ou_problem):
    state = fp.stationary(ou_problem(64))
    grid = state.grid
    # circulation: the angular component of v = (D C^-1 - K) x has one sign everywhere
    x = grid.mesh()
    angular = x[0] * state.current[1] - x[1] * state.current[0]
    core = state.density > 1e-3 * state.density.max()
    assert np.all(np.sign(angular[core]) == np.sign(angular[core][0]))
    for axis in (0, 1):
        m = state.marginal(axis)
        assert m.shape == (64,)
        assert m.sum() * grid.spacing[axis] == pytest.approx(1.0, abs=1e-13)
    second = state.expectation(lambda x: np.stack((x[0] ** 2, x[1] ** 2)))
    np.testing.assert_allclose(second, np.diag(state.covariance()) + state.mean() ** 2, rtol=1e-12)


@pytest.mark.parametrize("diffusion", [np.array([[0.5, 0.3], [0.3, 0.4]]),
                                       np.array([[0.25, 0.3], [0.3, 0.5]])],
                         ids=["diagonal-stencil", "wide-stencil"])
def test_off_diagonal_diffusion_converges_at_fourth_order(diffusion):
    C = lyapunov_covariance(OU_K, diffusion)
    box = 7 * np.sqrt(np.diag(C).max())
    errors = []
    for n in (64, 128):
        grid = fp.Grid((-box, -box), (box, box), (n, n))
        state = fp.stationary(fp.FokkerPlanck(grid, linear_drift(OU_K), diffusion))
        errors.append(total_variation(state.density, gaussian_density(grid, C), grid))
    # measured slopes 3.8 and 3.6 at this pair of grids; second order would give 2
    assert np.log2(errors[0] / errors[1]) > 3.0


def test_gradient_system_is_exactly_boltzmann_in_2d():
    """Equilibrium: symmetric K with D ∝ I is a gradient flow; the state is exact."""
    K = np.array([[1.0, 0.3], [0.3, 0.7]])
    D = 0.4 * np.eye(2)
    grid = fp.Grid((-6, -6), (6, 6), (48, 48))
    state = fp.stationary(fp.FokkerPlanck(grid, linear_drift(K), D))
    x = grid.mesh()
    exact = np.exp(-0.5 * np.einsum("i...,ij,j...->...", x, K / 0.4, x))
    exact /= exact.sum() * grid.cell_volume
    np.testing.assert_allclose(state.density, exact, atol=EXACT_RTOL * exact.max())
    assert state.info.order == "exact (detailed balance)"
    assert state.entropy_production < 1e-12


def test_state_dependent_isotropic_diffusion_equilibrium_is_exact():
    """D = d(x) I with A = -d ∇U + ∇d: p ∝ exp(-U) exactly (docs/theory.md §1 force is a gradient)."""
    grid = fp.Grid((-5, -5), (5, 5), (40, 40))

    def d(x):
        return 0.5 + 0.2 * np.tanh(x[0] - 0.5 * x[1])

    def grad_d(x):
        s = 0.2 / np.cosh(x[0] - 0.5 * x[1]) ** 2
        return np.stack((s, -0.5 * s))

    def drift(x):  # U = |x|^2 / 2, so p_eq ∝ exp(-|x|^2/2) and J = 0
        return -d(x) * x + grad_d(x)

    problem = fp.FokkerPlanck(grid, drift, lambda x: np.einsum("ij,...->ij...", np.eye(2), d(x)))
    state = fp.stationary(problem)
    x = grid.mesh()
    # exact up to the Gauss-Legendre quadrature of D⁻¹A along edges: measured TV 6e-9
    exact = np.exp(-0.5 * (x**2).sum(axis=0))
    exact /= exact.sum() * grid.cell_volume
    assert total_variation(state.density, exact, grid) < 1e-7
    assert state.entropy_production < 1e-12


def test_3d_ou_lyapunov_covariance():
    K = np.array([[1.0, 0.5, 0.0], [-0.5, 1.0, 0.3], [0.0, -0.3, 0.8]])
    D = np.diag([0.5, 0.3, 0.4])
    C = lyapunov_covariance(K, D)
    grid = fp.Grid((-5,) * 3, (5,) * 3, (24,) * 3)
    state = fp.stationary(fp.FokkerPlanck(grid, linear_drift(K), D))
    # 24^3 cells, fourth order: measured covariance error 6.2e-4, TV 6.3e-4, sigma 3.0e-2
    # (16^3 gives 1.8e-3, 2.4e-3, 1.3e-1: the tolerances sit between the two grids)
    np.testing.assert_allclose(state.covariance(), C, atol=1.5e-3)
    assert total_variation(state.density, gaussian_density(grid, C), grid) < 1.5e-3
    sigma = ou_entropy_production(K, D, C)
    assert state.entropy_production == pytest.approx(sigma, rel=6e-2)
    assert state.current.shape == (3, 24, 24, 24)
