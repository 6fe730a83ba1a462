"""One-dimensional stationary states against closed forms (docs/theory.md §1, §5)."""

import numpy as np
import pytest
from scipy import integrate

import fpsolve as fp

QUADRATURE_RTOL = 1e-11  # edge integrals by 3-point Gauss-Legendre on a 200-cell double well
MULTIPLICATIVE_RTOL = 1e-8  # same quadrature, rational integrand with O(1/h^6) sixth derivative
PERIODIC_RTOL = 1e-5  # fourth-order extrapolated NESS on 128 cells (measured error 1.5e-6)
CURRENT_RTOL = 1e-5  # same, for the constant current


def double_well(n=200, D=0.3):
    grid = fp.Grid(-2.5, 2.5, n)
    return fp.FokkerPlanck(grid, drift=lambda x: -4 * x * (x**2 - 1), diffusion=D), D


def test_double_well_is_exactly_boltzmann():
    problem, D = double_well()
    x = problem.grid.axes[0]
    exact = np.exp(-((x**2 - 1) ** 2) / D)
    exact /= exact.sum() * problem.grid.spacing[0]
    state = fp.stationary(problem)
    np.testing.assert_allclose(state.density, exact, rtol=0, atol=QUADRATURE_RTOL * exact.max())
    assert state.info.method.startswith("closed-form")
    assert state.density.sum() * problem.grid.cell_volume == pytest.approx(1.0, abs=1e-14)
    assert np.abs(state.current).max() < 1e-12 * state.density.max()
    assert state.entropy_production == pytest.approx(0.0, abs=1e-18)


def test_closed_form_cross_check_matches_solver():
    problem, _ = double_well()
    np.testing.assert_allclose(fp.closed_form_1d(problem), fp.stationary(problem).density,
                               rtol=QUADRATURE_RTOL * 10)


@pytest.mark.parametrize("eta, batch", [(0.1, 1.0), (0.05, 2.0)])
def test_multiplicative_noise_closed_form(eta, batch):
    """Deep linear network, one mode, L = 1 (docs/theory.md §5): A = -u, D = (η/2B)(2u² + σ²)."""
    sigma = 1.0
    grid = fp.Grid(-12.0, 12.0, 400)
    problem = fp.FokkerPlanck(grid, drift=lambda u: -u,
                              diffusion=lambda u: (eta / (2 * batch)) * (2 * u[0] ** 2 + sigma**2))
    u = grid.axes[0]
    exact = (sigma**2 + 2 * u**2) ** (-(1 + batch / (2 * eta)))
    exact /= exact.sum() * grid.spacing[0]
    state = fp.stationary(problem)
    np.testing.assert_allclose(state.density, exact, rtol=0, atol=MULTIPLICATIVE_RTOL * exact.max())


def test_array_fields_1d_converge_at_fourth_order():
    errors = []
    for n in (100, 200):
        grid = fp.Grid(-2.5, 2.5, n)
        x = grid.axes[0]
        problem = fp.FokkerPlanck(grid, drift=-4 * x * (x**2 - 1), diffusion=np.full(n, 0.3))
        exact = np.exp(-((x**2 - 1) ** 2) / 0.3)
        exact /= exact.sum() * grid.spacing[0]
        state = fp.stationary(problem)
        assert state.info.order == 4
        errors.append(np.abs(state.density - exact).max())
    assert np.log2(errors[0] / errors[1]) > 3.5


def tilted_periodic(n=128, force=1.0, D=0.5):
    grid = fp.Grid(0.0, 2 * np.pi, n, "periodic")
    # U(x) = cos x, drift = F - U'(x) = F + sin x
    return fp.FokkerPlanck(grid, drift=lambda x: force + np.sin(x), diffusion=D)


def test_periodic_tilted_potential_current_by_quadrature():
    force, D, L = 1.0, 0.5, 2 * np.pi
    problem = tilted_periodic(force=force, D=D)
    x = problem.grid.axes[0]
    h = problem.grid.spacing[0]

    def phi(y):
        return np.cos(y) - force * y

    inner = np.array([integrate.quad(lambda y: np.exp((phi(y) - phi(s)) / D), s, s + L,
                                     epsabs=0, epsrel=1e-13)[0] for s in x])
    exact = inner / (inner.sum() * h)
    current = D * (1 - np.exp(-force * L / D)) / (inner.sum() * h)
    state = fp.stationary(problem)
    np.testing.assert_allclose(state.density, exact, rtol=PERIODIC_RTOL)
    np.testing.assert_allclose(state.current[0], current, rtol=CURRENT_RTOL)
    # sigma = J^2 / D * ∫ 1/p  for constant D in 1-D
    sigma = current**2 / D * np.sum(1 / exact) * h
    assert state.entropy_production == pytest.approx(sigma, rel=PERIODIC_RTOL)
    assert state.entropy_production > 0


def test_boundary_mass_warning_suggests_larger_domain():
    grid = fp.Grid(-1.5, 1.5, 64)
    problem = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=1.0)
    with pytest.warns(fp.BoundaryMassWarning, match=r"axis 0.*\[-1.5, 1.5\] truncates the distribution, enlarge it"):
        fp.stationary(problem)


def test_no_warning_when_tails_are_resolved(recwarn):
    grid = fp.Grid(-8.0, 8.0, 64)
    fp.stationary(fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=1.0))
    assert not [w for w in recwarn if issubclass(w.category, fp.BoundaryMassWarning)]


def test_absorbing_walls_have_no_stationary_state():
    grid = fp.Grid(-3.0, 3.0, 32, "absorbing")
    with pytest.raises(ValueError, match="absorbing wall.*no stationary state"):
        fp.stationary(fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=1.0))


def test_bad_order_and_problem_type():
    problem, _ = double_well(n=31)
    with pytest.raises(ValueError, match="order must be None, 2 or 4; got 3"):
        fp.stationary(problem, order=3)
    with pytest.raises(ValueError, match=r"order=4 needs an even number.*got shape \(31,\)"):
        fp.stationary(problem, order=4)
    with pytest.raises(TypeError, match="problem must be an fpsolve.FokkerPlanck; got Grid"):
        fp.stationary(problem.grid)


def test_state_helpers():
    grid = fp.Grid(-12.0, 12.0, 256)  # wide enough that truncated mass is below 1e-15
    state = fp.stationary(fp.FokkerPlanck(grid, drift=lambda x: 0.5 - x, diffusion=2.0))
    assert state.mean() == pytest.approx([0.5], abs=1e-10)
    assert state.covariance()[0, 0] == pytest.approx(2.0, rel=1e-9)
    assert state.expectation(lambda x: x[0] ** 2) == pytest.approx(2.25, rel=1e-9)
    np.testing.assert_allclose(state.marginal(0), state.density)
    with pytest.raises(ValueError, match="axis must be between 0 and 0; got 1"):
        state.marginal(1)
