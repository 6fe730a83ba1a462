"""Time evolution against closed forms: free diffusion, OU transients, escape times, spectral gaps."""

import numpy as np
import pytest
import scipy.linalg as sla
from scipy import integrate

import fpsolve as fp
from conftest import OU_D, OU_K, linear_drift, lyapunov_covariance, total_variation

MASS_CONSERVATION = 1e-12  # reflecting/periodic walls: columns of L sum to zero
FREE_DIFFUSION_TV = 2e-4  # 1-D, 800 cells, TR-BDF2 at tolerance 1e-8: measured 3e-5 (space-limited)
OU_TRANSIENT = 7e-3  # 2-D, 128^2, sigma0 = 0.55 (6 cells): measured TV 3.4e-3, moments 3.7e-3;
#                      second order in space (256^2 gives 8.5e-4), the time error is far below
ESCAPE_RTOL = 5e-5  # 1-D MFPT at 1000 cells: second order, measured 7.6e-6
GAP_RTOL = 2e-3  # 1-D OU spectral gap on 400 cells, second order in h


def gaussian_1d(x, m, v):
    return np.exp(-((x - m) ** 2) / (2 * v)) / np.sqrt(2 * np.pi * v)


def test_free_diffusion_spreads_as_closed_form():
    D, v0 = 0.5, 0.05
    grid = fp.Grid(-8.0, 8.0, 800)
    problem = fp.FokkerPlanck(grid, drift=lambda x: 0.0 * x, diffusion=D)
    x = grid.axes[0]
    times = [0.0, 0.1, 0.5, 1.0, 2.0]
    run = fp.evolve(problem, gaussian_1d(x, 0.3, v0), times, tolerance=1e-8)
    for k, t in enumerate(times):
        exact = gaussian_1d(x, 0.3, v0 + 2 * D * t)
        assert total_variation(run.densities[k], exact, grid) < FREE_DIFFUSION_TV
    np.testing.assert_allclose(run.mass, 1.0, atol=MASS_CONSERVATION)
    assert run.densities.min() >= 0


def test_ou_transient_matches_lyapunov_ode():
    """Gaussian with mean e^{-Kt} m0 and C(t) solving dC/dt = -KC - CK^T + 2D."""
    grid = fp.Grid((-6, -6), (6, 6), (128, 128))
    problem = fp.FokkerPlanck(grid, linear_drift(OU_K), OU_D)
    m0, C0 = np.array([1.5, -1.0]), 0.3 * np.eye(2)
    Cinf = lyapunov_covariance(OU_K, OU_D)

    def gauss(m, C):
        x = grid.mesh().reshape(2, -1) - m[:, None]
        q = np.einsum("in,ij,jn->n", x, np.linalg.inv(C), x)
        return (np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(C)))).reshape(grid.shape)

    times = [0.0, 0.3, 1.0, 3.0]
    run = fp.evolve(problem, gauss(m0, C0), times, tolerance=1e-6)
    for k, t in enumerate(times):
        E = sla.expm(-OU_K * t)
        m, C = E @ m0, E @ C0 @ E.T + Cinf - E @ Cinf @ E.T
        assert total_variation(run.densities[k], gauss(m, C), grid) < OU_TRANSIENT
        np.testing.assert_allclose(run.mean()[k], m, atol=OU_TRANSIENT)
        np.testing.assert_allclose(run.covariance()[k], C, atol=OU_TRANSIENT)
    np.testing.assert_allclose(run.mass, 1.0, atol=MASS_CONSERVATION)
    assert run.n_factorizations <= 12  # step sizes come from a ladder and factors are reused


def test_exact_exponential_cross_check_and_relaxation_diagnostics():
    grid = fp.Grid((-5, -5), (5, 5), (40, 40), ("periodic", "reflecting"))
    problem = fp.FokkerPlanck(grid, lambda x: np.stack((1.0 + np.sin(x[0]), -x[1])), 0.4)
    p0 = lambda x: np.exp(-((x[0] - 1) ** 2 + x[1] ** 2) / 0.5)  # noqa: E731
    times = [0.0, 0.5, 2.0, 6.0]
    with pytest.warns(UserWarning, match="normalised"):
        stepped = fp.evolve(problem, p0, times, tolerance=1e-9)
    with pytest.warns(UserWarning, match="normalised"):
        exact = fp.evolve(problem, p0, times, method="expm")
    # TR-BDF2 is second order in time with local error 1e-9 per step
    assert np.abs(stepped.densities - exact.densities).max() < 1e-5 * exact.densities.max()
    state = fp.stationary(problem)
    tv = stepped.total_variation(state)
    kl = stepped.kl_divergence(state)
    assert np.all(np.diff(tv) < 0) and np.all(np.diff(kl) < 0)  # relaxation is monotone here
    gap = fp.spectral_gap(problem).gap
    # late-time decay of the distance follows the slowest rate
    assert tv[-1] / tv[-2] == pytest.approx(np.exp(-gap * 4.0), rel=0.3)


def test_double_well_escape_time_against_quadrature():
    D = 0.3

    def U(x):
        return (x**2 - 1) ** 2

    grid = fp.Grid(-2.5, 0.5, 1000, "absorbing")  # the left wall is 27 units of U up: never reached
    problem = fp.FokkerPlanck(grid, drift=lambda x: -4 * x * (x**2 - 1), diffusion=D)
    tau = fp.mean_first_passage_time(problem, [-1.0])
    i = int((-1.0 + 2.5) / grid.spacing[0])
    x0 = grid.axes[0][i]

    def inner(y):
        return integrate.quad(lambda z: np.exp(-U(z) / D), -2.5, y, epsabs=0, epsrel=1e-12)[0]

    exact = integrate.quad(lambda y: np.exp(U(y) / D) / D * inner(y), x0, 0.5, epsabs=0, epsrel=1e-10)[0]
    assert tau == pytest.approx(exact, rel=ESCAPE_RTOL)


def test_escape_time_agrees_with_survival_curve():
    grid = fp.Grid(-2.0, 2.0, 200, "absorbing")
    problem = fp.FokkerPlanck(grid, drift=lambda x: -0.5 * x, diffusion=0.4)
    reflecting = fp.FokkerPlanck(fp.Grid(-2.0, 2.0, 200), lambda x: -0.5 * x, 0.4)
    p0 = fp.stationary(reflecting, check_boundary=False).density  # start from the walled state
    tau = fp.mean_first_passage_time(problem, p0)
    times = np.linspace(0, 12 * tau, 400)
    run = fp.evolve(problem, p0, times, tolerance=1e-8)
    assert np.all(np.diff(run.survival) <= 1e-15)
    absorbed = sum(v for v in run.absorbed.values())
    np.testing.assert_allclose(absorbed + run.survival, 1.0, atol=1e-6)
    assert set(run.absorbed) == {"axis0-lower", "axis0-upper"}
    # symmetric problem: equal outflow through both walls
    assert run.absorbed["axis0-lower"][-1] == pytest.approx(run.absorbed["axis0-upper"][-1], rel=1e-6)
    # E[T] = ∫ S(t) dt; the tail beyond 12 tau is below 1e-5 of the total
    area = integrate.trapezoid(run.survival, times)
    assert area == pytest.approx(tau, rel=1e-3)


def test_ou_spectral_gap_is_smallest_real_part_of_drift_eigenvalues():
    grid = fp.Grid(-7.0, 7.0, 400)
    result = fp.spectral_gap(fp.FokkerPlanck(grid, lambda x: -1.3 * x, 0.7))
    gap, eigenvalues = result.gap, result.eigenvalues
    assert result.status == "converged" and result.seconds > 0
    assert gap == pytest.approx(1.3, rel=GAP_RTOL)
    np.testing.assert_allclose(np.sort(-eigenvalues.real)[:4], 1.3 * np.arange(4), atol=0.01)
    grid2 = fp.Grid((-6, -6), (6, 6), (96, 96))
    gap2 = fp.spectral_gap(fp.FokkerPlanck(grid2, linear_drift(OU_K), OU_D)).gap
    assert gap2 == pytest.approx(np.linalg.eigvals(OU_K).real.min(), rel=2e-2)


def test_results_carry_status_message_and_seconds():
    """Evolution, StationaryState and SpectralGap: a status, a message in words, ``seconds``."""
    problem = fp.FokkerPlanck(fp.Grid(-6.0, 6.0, 64), drift=lambda x: -x, diffusion=0.5)
    p0 = gaussian_1d(problem.grid.axes[0], 1.0, 0.2)
    stepped = fp.evolve(problem, p0, [0.0, 0.5, 1.0])
    exact = fp.evolve(problem, p0, [0.0, 0.5, 1.0], method="expm")
    state = fp.stationary(problem)
    gap = fp.spectral_gap(problem)
    assert stepped.status == exact.status == "completed"
    assert stepped.message == (f"tr-bdf2: {stepped.n_steps} steps ({stepped.n_rejected} rejected), "
                               f"{stepped.n_factorizations} LU factorisations") and stepped.n_steps > 0
    assert exact.message == "expm: expm_multiply between the output times"
    assert state.status == "exact" and state.message == f"{state.info.method}; exact (detailed balance)"
    assert gap.status == "converged" and "Arnoldi" in gap.message
    ness = fp.stationary(fp.FokkerPlanck(fp.Grid((-6, -6), (6, 6), (32, 32)), linear_drift(OU_K), OU_D))
    assert ness.message == f"{ness.info.method}; {ness.info.extrapolation}"
    assert ness.info.extrapolation.startswith(f"order {ness.info.order}: observed")
    for result in (stepped, exact, state, gap):
        assert result.seconds > 0


def test_time_dependent_fields_follow_a_schedule():
    """Diffusion annealed linearly: variance obeys dv/dt = -2 v + 2 D(t) exactly (1-D OU)."""
    grid = fp.Grid(-6.0, 6.0, 600)
    x = grid.axes[0]

    def problem(t):
        return fp.FokkerPlanck(grid, drift=lambda y: -y, diffusion=0.5 + 0.25 * t)

    times = [0.0, 0.5, 1.0]
    run = fp.evolve(problem, gaussian_1d(x, 0.0, 0.2), times, tolerance=1e-8)
    v = integrate.solve_ivp(lambda t, v: -2 * v + 2 * (0.5 + 0.25 * t), (0, 1), [0.2], t_eval=times,
                            rtol=1e-12, atol=1e-12).y[0]
    np.testing.assert_allclose(run.covariance()[:, 0, 0], v, rtol=2e-4)


@pytest.mark.parametrize(
    "p0, times, match",
    [
        (np.ones(10), [0, 1], r"p0 must have the grid's shape \(50,\); got \(10,\)"),
        (-np.ones(50), [0, 1], r"p0 must be non-negative; got -1"),
        (np.full(50, np.nan), [0, 1], r"p0 is not finite at cell \(0,\)"),
        (np.ones(50), [0, 1, 1], r"strictly increasing; got times\[1\]=1.0 >= times\[2\]=1.0"),
        (np.ones(50), [1, 0.5], r"strictly increasing"),
        (np.ones(50), [-1, 0], r"start at 0 or later"),
    ],
)
def test_bad_input(p0, times, match):
    problem = fp.FokkerPlanck(fp.Grid(-3, 3, 50), lambda x: -x, 1.0)
    with pytest.raises(ValueError, match=match):
        fp.evolve(problem, p0, times)


def test_bad_options_and_mfpt_without_absorbing_wall():
    problem = fp.FokkerPlanck(fp.Grid(-3, 3, 50), lambda x: -x, 1.0)
    p0 = np.ones(50) / 6.0
    with pytest.raises(ValueError, match="method must be 'tr-bdf2' or 'expm'; got 'euler'"):
        fp.evolve(problem, p0, [0, 1], method="euler")
    with pytest.raises(ValueError, match="tolerance must be a positive number"):
        fp.evolve(problem, p0, [0, 1], tolerance=0.0)
    with pytest.raises(ValueError, match="needs an absorbing wall"):
        fp.mean_first_passage_time(problem)
    with pytest.raises(TypeError, match="problem must be a FokkerPlanck or a callable"):
        fp.evolve("ou", p0, [0, 1])


def test_fourth_order_in_space_by_extrapolation():
    m0, C0 = np.array([1.5, -1.0]), 0.3 * np.eye(2)
    Cinf = lyapunov_covariance(OU_K, OU_D)
    t = 1.0
    E = sla.expm(-OU_K * t)
    m, C = E @ m0, E @ C0 @ E.T + Cinf - E @ Cinf @ E.T
    errors = {}
    for n in (64, 128):
        grid = fp.Grid((-6, -6), (6, 6), (n, n))
        x = grid.mesh().reshape(2, -1)

        def gauss(mean, cov, x=x, grid=grid):
            d = x - mean[:, None]
            q = np.einsum("in,ij,jn->n", d, np.linalg.inv(cov), d)
            return (np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))).reshape(grid.shape)

        problem = fp.FokkerPlanck(grid, linear_drift(OU_K), OU_D)
        for order in (2, 4):
            run = fp.evolve(problem, gauss(m0, C0), [0.0, t], tolerance=1e-7, order=order)
            errors[n, order] = total_variation(run.densities[-1], gauss(m, C), grid)
            np.testing.assert_allclose(run.mass, 1.0, atol=MASS_CONSERVATION)
    assert errors[128, 4] < errors[128, 2] / 10
    assert np.log2(errors[64, 4] / errors[128, 4]) > 3.3  # fourth order, measured 3.6 (second: 2)
    with pytest.raises(ValueError, match="order must be 2 or 4; got 3"):
        fp.evolve(problem, gauss(m0, C0), [0.0, t], order=3)
