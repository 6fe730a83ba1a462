"""Langevin engine: discrete-time OU statistics, measured orders, walls, reproducibility, errors.

Most tests use FokkerPlanck problems (the grid kernel is cached on disk); linear fields are
interpolated exactly, so these are tests of the stepping, not of the interpolation.  Tests of
jitted callables compile the callable kernel (about 10 s) and are marked slow.
"""

from __future__ import annotations

import sys

import numba
import numpy as np
import pytest

import fpsolve as fp
from fpsolve.simulate import Fields, langevin, standard_normals

SEED = 20240611
STAT_RTOL = 0.01  # variance from ~1e6 effective samples: relative sd ~0.15%, so 1% is > 5 sd
ORDER_ATOL_WEAK = 0.2  # slope fitted over a factor 8 in dt at ~0.1% noise per point
ORDER_ATOL_STRONG = 0.12  # 2000 paths, errors averaged over the paths at each of 6 dt


def ou_problem(k=1.0, D=0.5, box=8.0, boundary="reflecting", n=64):
    grid = fp.Grid(-box, box, n, boundary)
    return fp.FokkerPlanck(grid, drift=lambda x: -k * x, diffusion=D)


def em_variance(k, D, dt):
    """Stationary variance of x' = (1 − k dt) x + √(2 D dt) ξ."""
    a = 1.0 - k * dt
    return 2.0 * D * dt / (1.0 - a * a)


def heun_variance(k, D, dt):
    """Stationary variance of the stochastic Heun chain for dx = −k x dt + √(2D) dW."""
    h = k * dt
    a = 1.0 - h + 0.5 * h * h
    return 2.0 * D * dt * (1.0 - 0.5 * h) ** 2 / (1.0 - a * a)


# -- discrete-time statistics --------------------------------------------------------------
def test_em_stationary_variance_matches_discrete_closed_form():
    k, D, dt = 1.0, 0.5, 0.1
    run = langevin(ou_problem(k, D), 0.0, dt=dt, n_steps=5000, n_walkers=2000, burn_in=100,
                   record_every=0, rng=SEED)
    var = run.covariance()[0, 0]
    assert var == pytest.approx(em_variance(k, D, dt), rel=STAT_RTOL)
    # and it is distinguishable from the continuous-time value D / k (5% away)
    assert abs(var / (D / k) - 1) > 3 * STAT_RTOL
    assert abs(run.mean()[0]) < 0.01
    assert run.status == "completed" and run.n_samples == 2000 * 4900


def _fit_slope(h, err):
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


@pytest.mark.slow
def test_measured_weak_orders_em_and_heun():
    # weak error of the stationary variance; each scheme over steps where its error is
    # well above the ~0.15% sampling noise and still near the asymptotic regime
    k, D = 1.0, 0.5
    steps = {"euler_maruyama": np.array([0.05, 0.1, 0.2, 0.4]), "heun": np.array([0.2, 0.4, 0.8])}
    err = {}
    for scheme, hs in steps.items():
        err[scheme] = []
        for dt in hs:
            run = langevin(ou_problem(k, D), 0.0, dt=dt, n_steps=int(round(600 / dt)),
                           n_walkers=2000, burn_in=int(round(10 / dt)), record_every=0, rng=SEED,
                           method=scheme)
            err[scheme].append(abs(run.covariance()[0, 0] - D / k))
    for scheme, hs in steps.items():
        slope = _fit_slope(hs, err[scheme])
        assert slope == pytest.approx(fp.simulate.METHODS[scheme].weak_order, abs=ORDER_ATOL_WEAK)
    # the Heun chain's own stationary variance, closed form
    assert err["heun"][-1] == pytest.approx(abs(heun_variance(k, D, 0.8) - D), rel=0.05)


def test_measured_strong_order_of_euler_maruyama_on_geometric_brownian_motion():
    # dX = mu X dt + s X dW has X_T = X0 exp((mu - s^2/2) T + s W_T); D = s^2 x^2 / 2, so
    # B = s x is linear on x > 0 and the grid interpolation is exact there.
    mu, s, T = 0.5, 0.8, 1.0
    grid = fp.Grid(1e-3, 40.0, 400)
    problem = fp.FokkerPlanck(grid, drift=lambda x: mu * x, diffusion=lambda x: 0.5 * (s * x[0]) ** 2)
    steps = 2.0 ** -np.arange(3, 9)
    errors = []
    for dt in steps:
        n = int(round(T / dt))
        run = langevin(problem, 1.0, dt=dt, n_steps=n, n_walkers=2000, record_every=0, rng=SEED)
        W_T = standard_normals(SEED, 2000, n, 1).sum(axis=1)[:, 0] * np.sqrt(dt)
        exact = np.exp((mu - 0.5 * s * s) * T + s * W_T)
        assert run.n_absorbed == 0 and run.status == "completed"
        errors.append(np.mean(np.abs(run.final[:, 0] - exact)))
    slope = _fit_slope(steps, errors)
    assert slope == pytest.approx(fp.simulate.METHODS["euler_maruyama"].strong_order, abs=ORDER_ATOL_STRONG)


# -- walls ---------------------------------------------------------------------------------
TV_NOISE_FACTOR = 4.0  # TV within 4 effective noise floors: the sampler matches the grid solver
WALL_MEAN_RTOL = 0.08  # mirrored EM has an O(sqrt(2 D dt)) wall layer: 0.014 here, mean 0.25


@pytest.mark.filterwarnings("ignore::fpsolve.BoundaryMassWarning")  # the wall is the point here

def test_reflecting_walls_keep_walkers_inside_and_match_the_grid_solver():
    # strong drift against the lower wall: p ∝ exp(-4 x) on [0, 2], most mass at the wall
    grid = fp.Grid(0.0, 2.0, 64)
    problem = fp.FokkerPlanck(grid, drift=-2.0 * np.ones(64), diffusion=0.5)
    state = fp.stationary(problem)
    run = langevin(problem, 1.0, dt=2e-4, n_steps=20000, n_walkers=2000, burn_in=2000,
                   record_every=100, rng=SEED)
    x = run.samples()
    assert x.min() >= 0.0 and x.max() <= 2.0
    c = fp.compare(state, run)
    assert c.n_outside == 0
    assert c.total_variation < TV_NOISE_FACTOR * c.tv_noise_floor_effective
    assert run.mean()[0] == pytest.approx(state.mean()[0], rel=WALL_MEAN_RTOL)


def test_periodic_axis_wraps_and_gives_the_uniform_state():
    grid = fp.Grid(0.0, 1.0, 32, "periodic")
    problem = fp.FokkerPlanck(grid, drift=np.full(32, 3.0), diffusion=0.05)
    run = langevin(problem, 0.1, dt=1e-3, n_steps=4000, n_walkers=1000, burn_in=1000,
                   record_every=50, rng=SEED)
    x = run.samples()
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert run.final.max() <= 1.0
    hist = np.histogram(x, bins=8, range=(0, 1))[0] / len(x)
    assert np.allclose(hist, 1 / 8, atol=0.01)


EXIT_RTOL = 0.05  # discrete monitoring misses excursions: O(sqrt(2 D dt)) shift, ~2% at dt = 1e-4


def test_absorbing_walls_record_exit_times():
    # pure diffusion on [0, 1] from 1/2: E[tau] = x (1 - x) / (2 D)
    D = 0.5
    grid = fp.Grid(0.0, 1.0, 16, "absorbing")
    problem = fp.FokkerPlanck(grid, drift=np.zeros(16), diffusion=D)
    run = langevin(problem, 0.5, dt=1e-4, n_steps=100_000, n_walkers=2000, record_every=0, rng=SEED)
    assert run.n_absorbed == 2000 and run.status == "completed"
    assert np.all(np.isin(run.exit_wall, [0, 1]))
    assert np.nanmean(run.exit_times) == pytest.approx(0.25 / (2 * D), rel=EXIT_RTOL)


# -- reproducibility -----------------------------------------------------------------------
def test_same_seed_same_run_and_independent_of_thread_count():
    problem = ou_problem()
    kwargs = dict(dt=0.05, n_steps=300, n_walkers=64, burn_in=10, record_every=7)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = langevin(problem, 0.3, rng=SEED, **kwargs)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = langevin(problem, 0.3, rng=SEED, **kwargs)
    finally:
        numba.set_num_threads(old)
    assert np.array_equal(one.weights, two.weights)
    assert np.array_equal(one.chain_m2, two.chain_m2)
    assert np.array_equal(one.covariance(), two.covariance())
    other = langevin(problem, 0.3, rng=SEED + 1, **kwargs)
    assert not np.array_equal(one.weights, other.weights)


def test_walker_streams_do_not_depend_on_the_number_of_walkers_or_chunking(monkeypatch):
    problem = ou_problem()
    big = langevin(problem, 0.0, dt=0.05, n_steps=200, n_walkers=50, rng=SEED)
    small = langevin(problem, 0.0, dt=0.05, n_steps=200, n_walkers=5, rng=SEED)
    assert np.array_equal(big.weights[:5], small.weights)
    monkeypatch.setattr(sys.modules["fpsolve.simulate.langevin"], "CHUNK_WALKER_STEPS", 37)
    chunked = langevin(problem, 0.0, dt=0.05, n_steps=200, n_walkers=5, rng=SEED)
    assert np.array_equal(chunked.weights, small.weights)
    assert np.array_equal(chunked.chain_mean, small.chain_mean)


def test_generator_seed_is_stored_and_reproduces_the_run():
    problem = ou_problem()
    run = langevin(problem, 0.0, dt=0.05, n_steps=50, n_walkers=4, rng=np.random.default_rng(3))
    again = langevin(problem, 0.0, dt=0.05, n_steps=50, n_walkers=4, rng=run.seed)
    assert np.array_equal(run.weights, again.weights)


def test_standard_normals_are_the_noise_the_run_used():
    # with zero drift, x_n - x_{n-1} = sqrt(2 D dt) xi_n exactly
    D, dt = 0.5, 0.01
    grid = fp.Grid(-1e3, 1e3, 8)
    problem = fp.FokkerPlanck(grid, drift=np.zeros(8), diffusion=D)
    run = langevin(problem, 0.0, dt=dt, n_steps=100, n_walkers=3, rng=SEED)
    xi = standard_normals(SEED, 3, 100, 1)
    steps = np.diff(run.weights[:, :, 0], axis=1)
    assert np.allclose(steps, np.sqrt(2 * D * dt) * xi[:, :, 0], rtol=1e-9, atol=1e-12)


# -- the Trajectory ------------------------------------------------------------------------
def test_streaming_moments_equal_moments_of_every_recorded_step():
    grid = fp.Grid((-6, -6), (6, 6), (32, 32))
    K = np.array([[1.0, 1.5], [-0.5, 1.0]])
    problem = fp.FokkerPlanck(grid, drift=lambda x: -np.einsum("ij,j...->i...", K, x),
                              diffusion=np.diag([0.5, 0.25]))
    run = langevin(problem, (0.5, -0.5), dt=0.02, n_steps=400, n_walkers=30, burn_in=50,
                   record_every=1, rng=SEED)
    assert run.weights.shape == (30, 351, 2)
    assert np.array_equal(run.steps, np.arange(50, 401))
    assert np.allclose(run.times, run.steps * 0.02)
    x = run.weights[:, 1:].reshape(-1, 2)  # steps 51..400: the statistics' samples
    assert np.allclose(run.mean(), x.mean(axis=0), rtol=0, atol=1e-13)
    assert np.allclose(run.covariance(), np.cov(x.T), rtol=1e-11, atol=1e-13)
    assert run.n_records == 351 and run.ndim == 2 and run.n_chains == 30
    assert "30 chains" in repr(run)


def test_x0_is_the_first_record_without_burn_in():
    run = langevin(ou_problem(), [[0.1], [0.2]], dt=0.1, n_steps=10, rng=1)
    assert np.array_equal(run.weights[:, 0, 0], [0.1, 0.2])
    assert run.weights.shape == (2, 11, 1)
    off = langevin(ou_problem(), 0.0, dt=0.1, n_steps=10, n_walkers=2, record_every=0, rng=1)
    assert off.weights is None and off.n_records == 0
    with pytest.raises(ValueError, match="no records"):
        off.samples()


# -- jitted callables (compile the callable kernel: slow) ----------------------------------
@numba.njit
def ou_drift(x, out):
    out[0] = -x[0]


@numba.njit
def cubic_drift(x, out):
    out[0] = -x[0] ** 3


@numba.njit
def linear_diffusion(x, out):
    out[0, 0] = 0.5 + 0.1 * x[0] * x[0]


@pytest.mark.slow
def test_jitted_fields_match_the_grid_path_and_free_space():
    fields = Fields(ou_drift, diffusion=0.5, ndim=1)
    exact = langevin(fields, 0.0, dt=0.1, n_steps=300, n_walkers=20, rng=SEED)
    grid = langevin(ou_problem(), 0.0, dt=0.1, n_steps=300, n_walkers=20, rng=SEED)
    assert np.allclose(exact.weights, grid.weights, rtol=1e-9, atol=1e-12)
    assert exact.settings["fields"] == "callable"


@pytest.mark.slow
def test_non_finite_weights_stop_the_chain_and_are_reported():
    fields = Fields(cubic_drift, diffusion=0.1, ndim=1)
    x0 = np.array([[0.5], [50.0]])
    with pytest.warns(fp.DivergenceWarning, match="1 of 2 chains stopped: non-finite"):
        run = langevin(fields, x0, dt=0.1, n_steps=100, rng=SEED)
    assert run.status == "diverged" and run.n_diverged == 1
    assert run.chain_status.tolist() == [0, 1]
    assert 0 < run.stop_step[1] < 100 and run.stop_step[0] == -1
    assert not np.isfinite(run.final[1, 0])
    assert np.all(np.isnan(run.weights[1, run.stop_step[1]:]))
    assert run.count[1] == run.stop_step[1] - 1
    assert run.count[0] == 100


@pytest.mark.slow
def test_state_dependent_jitted_diffusion_matches_the_grid_density():
    grid = fp.Grid(-3.0, 3.0, 96)
    problem = fp.FokkerPlanck(grid, drift=lambda x: -x[0] ** 3,
                              diffusion=lambda x: 0.5 + 0.1 * x[0] ** 2)
    state = fp.stationary(problem)
    fields = Fields(cubic_drift, linear_diffusion, grid=grid)
    run = langevin(fields, 0.0, dt=1e-3, n_steps=20000, n_walkers=1000, burn_in=2000,
                   record_every=100, rng=SEED)
    c = fp.compare(state, run)
    assert c.total_variation < TV_NOISE_FACTOR * c.tv_noise_floor_effective


# -- rejected input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dt=0.0), "dt must be a positive finite number; got 0.0"),
        (dict(dt="a"), "dt must be a positive number"),
        (dict(n_steps=0), "n_steps must be a whole number >= 1; got 0"),
        (dict(n_steps=2.5), "n_steps must be a whole number"),
        (dict(burn_in=10), "burn_in must be smaller than n_steps=10; got 10"),
        (dict(burn_in=-1), "burn_in must be a whole number >= 0"),
        (dict(record_every=-2), "record_every must be a whole number >= 0; got -2"),
        (dict(n_walkers=0), "n_walkers must be a whole number >= 1"),
        (dict(method="rk4"), "unknown method 'rk4'; expected one of euler_maruyama, heun"),
        (dict(rng=-1), "rng must be a seed between 0 and 2"),
        (dict(rng="x"), "rng must be None, an int seed or a numpy.random.Generator"),
        (dict(x0=[[0.0, 1.0]]), r"x0 must have shape \(1,\) or \(n_walkers, 1\)"),
        (dict(x0=9.0), "x0 must lie inside the grid's reflecting walls on axis 0"),
        (dict(x0=np.nan), "x0 must be finite"),
        (dict(x0=[[0.0], [1.0]], n_walkers=3), "n_walkers=3 does not match x0 with 2 rows"),
        (dict(n_walkers=10**6, record_every=1, n_steps=400), "record_every=1 would record"),
    ],
)
def test_rejected_arguments(kwargs, match):
    args = dict(x0=0.0, dt=0.1, n_steps=10, rng=1)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        langevin(ou_problem(), **args)


def test_rejected_problem_and_scheme():
    with pytest.raises(TypeError, match="problem_or_fields must be an fpsolve.FokkerPlanck"):
        langevin(lambda x: -x, 0.0, dt=0.1, n_steps=10)
    grid = fp.Grid(-2, 2, 16)
    varying = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=lambda x: 0.5 + 0.1 * x[0] ** 2)
    with pytest.raises(ValueError, match="method 'heun' needs additive noise"):
        langevin(varying, 0.0, dt=0.1, n_steps=10, method="heun")


def test_rejected_fields():
    with pytest.raises(fp.FieldError, match="drift must be a numba-jitted function"):
        Fields(lambda x, out: None, diffusion=0.5, ndim=1)
    with pytest.raises(fp.FieldError, match="diffusion must be a number, a"):
        Fields(ou_drift, diffusion=lambda x, out: None, ndim=1)
    with pytest.raises(fp.FieldError, match="ndim is needed when diffusion is a scalar"):
        Fields(ou_drift, diffusion=0.5)
    with pytest.raises(fp.FieldError, match=r"diffusion must be a scalar or a \(1, 1\) matrix"):
        Fields(ou_drift, diffusion=np.eye(2), ndim=1)
    with pytest.raises(fp.FieldError, match="positive semidefinite"):
        Fields(ou_drift, diffusion=[[-1.0]])
    with pytest.raises(fp.FieldError, match="diffusion must be finite"):
        Fields(ou_drift, diffusion=[[np.inf]])
    with pytest.raises(fp.FieldError, match=r"ndim must match the grid \(2\)"):
        Fields(ou_drift, diffusion=0.5, ndim=1, grid=fp.Grid((0, 0), (1, 1), (4, 4)))
    with pytest.raises(fp.FieldError, match="grid must be an fpsolve.Grid"):
        Fields(ou_drift, diffusion=0.5, ndim=1, grid=(0, 1))
    with pytest.raises(fp.FieldError, match="ndim is needed when both fields are callables"):
        Fields(ou_drift, diffusion=linear_diffusion)
