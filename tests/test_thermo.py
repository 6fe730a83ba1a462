"""Stochastic thermodynamics: trajectory entropy production against the grid and Gaussian rates,
the fluctuation theorems, the exact discrete-time chain, the stochastic area, the entropy
balance of a relaxation, and input errors.

Statistical checks run at fixed seeds; each tolerance is ``STAT_Z`` standard errors derived from
the sample (walker means, a bootstrap, or binomial errors of the detailed-FT fit), plus, where
stated, an allowance for the O(dt) error of the Euler--Maruyama step.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import fpsolve as fp
from fpsolve.thermo import LinearChain, ThermoError

from conftest import OU_D, OU_K, linear_drift

SEED = 20261201
STAT_Z = 4.0  # statistical checks: 4 standard errors (two-sided false-alarm rate 6e-5 per check)
EM_RTOL = 0.01  # Euler-Maruyama at dt=2e-3 biases rates by O(dt ‖K‖) ≈ 0.4%; allow 1%
ROUNDOFF = 1e-12  # identities that hold algebraically: relative to the largest term
CHAIN_IFT_ATOL = 1e-3  # the brief's check of the sampled integral FT of the exact chain
N_WALKERS = 4000  # OU walkers; rate standard error sqrt(2σ / (W T)) ≈ 1.4% of σ for T = 2
DT = 2e-3
N_STEPS = 1000


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ou():
    """The non-equilibrium OU steady state on a grid, its Gaussian state and stationary walkers."""
    grid = fp.Grid((-6.0, -6.0), (6.0, 6.0), (64, 64))
    problem = fp.FokkerPlanck(grid, drift=linear_drift(OU_K), diffusion=OU_D)
    state = fp.stationary(problem)
    gauss = fp.linearized(OU_K, OU_D)
    x0 = np.random.default_rng(SEED).multivariate_normal(np.zeros(2), gauss.covariance, N_WALKERS)
    run = fp.simulate.langevin(problem, x0, dt=DT, n_steps=N_STEPS, rng=SEED)
    return state, gauss, run


@pytest.fixture(scope="module")
def net():
    x, y, w_min = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1, weight_decay=1e-3)
    return land, w_min


def chain_for(eta: float, gauss) -> LinearChain:
    """SGD-like per-step chain of an OU state: J = I − ηK, Σ = 2ηD."""
    return LinearChain(np.eye(2) - eta * gauss.hessian, 2 * eta * gauss.diffusion, dt=eta)


# -- stationary grid state and Gaussian state ---------------------------------------------------
@pytest.mark.parametrize("kind", ["grid", "gaussian"])
def test_mean_rate_equals_sigma(ou, kind):
    state, gauss, run = ou
    ds = fp.thermo.entropy_production(run, state if kind == "grid" else gauss, window=10)
    rate, err = ds.rate()
    sigma = gauss.entropy_production
    assert abs(state.entropy_production - sigma) < 2e-3 * sigma  # the grid solve itself
    assert abs(rate - sigma) < STAT_Z * err + EM_RTOL * sigma, (rate, err, sigma)
    assert err < 0.02 * sigma  # the sample size gives the precision the tolerance assumes


def test_grid_and_gaussian_forms_agree_pointwise(ou):
    """Linear fields are interpolated exactly by the multilinear stencil; the solver's velocity
    differs from −Q C⁻¹ x by its discretisation error only."""
    state, gauss, run = ou
    a = fp.thermo.entropy_production(run, state, window=25)
    b = fp.thermo.entropy_production(run, gauss, window=25)
    scale = np.std(b.total)
    assert np.median(np.abs(a.total - b.total)) < 0.01 * scale
    # ln p is quadratic: its bilinear interpolant errs by at most Σ_k h_k² |∂_k² ln p| / 8 at
    # each end of a window (walkers beyond the outermost cell centres are extrapolated: 1% slack)
    h = np.asarray(state.grid.spacing)
    bound = 2 * np.sum(h**2 * np.diag(np.linalg.inv(gauss.covariance))) / 8
    assert np.quantile(np.abs(a.system - b.system), 0.99) < bound


@pytest.mark.parametrize("window", [1, 250])
def test_integral_ft_short_and_long_windows(ou, window):
    state, _, run = ou
    ds = fp.thermo.entropy_production(run, state, window=window)
    ift = fp.thermo.integral_ft(ds)
    assert ift.converged, ift.message
    assert ift.method == "bootstrap"
    assert abs(ift.value - 1.0) < STAT_Z * ift.standard_error + EM_RTOL * ds.mean()[0], ift


def test_detailed_ft_slope_one(ou):
    _, gauss, run = ou
    ds = fp.thermo.entropy_production(run, gauss, window=50)
    fit = fp.thermo.detailed_ft(ds, bins=16)
    assert fit.status == "ok" and len(fit.centres) >= 8
    assert abs(fit.slope - 1.0) < STAT_Z * fit.slope_error, fit
    assert abs(fit.intercept) < STAT_Z * fit.intercept_error, fit


def test_detailed_ft_recovers_a_known_slope():
    """Samples with ln P(s)/P(−s) = 0.5 s exactly: N(μ, 4μ) (a Gaussian has slope 2μ/var)."""
    s = np.random.default_rng(SEED).normal(1.0, 2.0, 400_000)
    fit = fp.thermo.detailed_ft(s, bins=20)
    assert abs(fit.slope - 0.5) < STAT_Z * fit.slope_error
    assert fit.slope_error < 0.02


def test_gaussian_terms_add_up_and_prepoint_agrees_in_mean(ou):
    _, gauss, run = ou
    mid = fp.thermo.entropy_production(run, gauss, window=7)
    scale = np.abs(mid.system).max()
    assert np.abs(mid.total - (mid.system + mid.medium)).max() < ROUNDOFF * scale * 10
    pre = fp.thermo.entropy_production(run, gauss, window=7, rule="prepoint")
    # linear field: the Itô correction tr(∂(D⁻¹v) D) = tr(Q C⁻¹) vanishes, so the means agree
    m_mid, e_mid = mid.mean()
    m_pre, _ = pre.mean()
    assert abs(m_pre - m_mid) < STAT_Z * e_mid


def test_grid_system_term_is_log_density_difference(ou):
    state, _, run = ou
    ds = fp.thermo.entropy_production(run, state, window=5)
    assert np.abs(ds.total - (ds.system + ds.medium)).max() < ROUNDOFF * np.abs(ds.total).max()
    # the system term over consecutive windows telescopes to the one over their union
    big = fp.thermo.entropy_production(run, state, window=10)
    pair = ds.system[:, 0] + ds.system[:, 1]
    assert np.allclose(pair, big.system[:, 0], rtol=0, atol=1e-12)


def test_equilibrium_has_zero_total_and_symmetric_system_term():
    K = np.array([[1.0, 0.3], [0.3, 0.8]])
    D = 0.5 * np.eye(2)  # [K, D] = 0: detailed balance
    grid = fp.Grid((-6.0, -6.0), (6.0, 6.0), (48, 48))
    problem = fp.FokkerPlanck(grid, drift=linear_drift(K), diffusion=D)
    state = fp.stationary(problem)
    gauss = fp.linearized(K, D)
    assert gauss.is_equilibrium
    x0 = np.random.default_rng(SEED).multivariate_normal(np.zeros(2), gauss.covariance, 2000)
    run = fp.simulate.langevin(problem, x0, dt=DT, n_steps=200, rng=SEED)
    for s in (state, gauss):
        ds = fp.thermo.entropy_production(run, s, window=20)
        spread = np.std(ds.system)
        assert np.abs(ds.total).max() < 1e-9 * spread  # v = 0: nothing is produced
        sys = ds.system.ravel()
        assert abs(sys.mean()) < STAT_Z * spread / np.sqrt(2000)  # walkers independent
        skew = np.mean((sys - sys.mean()) ** 3) / spread**3
        assert abs(skew) < STAT_Z * np.sqrt(6.0 / 2000)  # symmetric, within the skewness sd


def test_stochastic_area_equals_circulation(ou):
    _, gauss, run = ou
    area = fp.thermo.stochastic_area(run, axes=(0, 1), center=gauss)
    Q = gauss.circulation[0, 1]
    assert abs(area.value - Q) < STAT_Z * area.standard_error + EM_RTOL * abs(Q), (area, Q)
    flipped = fp.thermo.stochastic_area(run, axes=(1, 0), center=gauss)
    assert flipped.value == pytest.approx(-area.value)


# -- the exact discrete-time chain --------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 5])
def test_chain_integral_ft_exact_in_closed_form(k):
    gauss = fp.linearized(OU_K, OU_D)
    chain = chain_for(0.05, gauss)
    assert chain.integral_ft_exact(k) == pytest.approx(1.0, abs=1e-12)
    assert chain.mean_entropy_production(k) == pytest.approx(k * chain.entropy_production_per_step, rel=1e-10)


def test_chain_sampled_integral_ft_and_mean():
    gauss = fp.linearized(OU_K, OU_D)
    chain = chain_for(0.01, gauss)
    paths = chain.simulate(60, 20_000, rng=SEED)
    for window in (1, 3, 20):
        ds = fp.thermo.entropy_production(paths, chain, window=window, dt=0.01)
        ift = fp.thermo.integral_ft(ds)
        assert ift.converged
        assert abs(ift.value - 1.0) < max(CHAIN_IFT_ATOL, STAT_Z * ift.standard_error), ift
        assert ift.standard_error < CHAIN_IFT_ATOL * (1 if window < 20 else 5)
        m, e = ds.mean()
        assert abs(m - window * chain.entropy_production_per_step) < STAT_Z * e


def test_chain_mean_per_step_tends_to_sigma_eta():
    gauss = fp.linearized(OU_K, OU_D)
    sigma = gauss.entropy_production
    errors = []
    for eta in (1e-2, 1e-3, 1e-4):
        per_step = chain_for(eta, gauss).entropy_production_per_step
        errors.append(abs(per_step / (sigma * eta) - 1.0))
    slope = np.polyfit(np.log([1e-2, 1e-3, 1e-4]), np.log(errors), 1)[0]
    assert errors[-1] < 1e-3
    assert slope == pytest.approx(1.0, abs=0.1)  # first order in η


def test_chain_and_continuous_forms_agree_as_eta_vanishes():
    gauss = fp.linearized(OU_K, OU_D)
    eta = 1e-4
    chain = chain_for(eta, gauss)
    paths = chain.simulate(200, 200, rng=SEED)
    a = fp.thermo.entropy_production(paths, chain, window=50, dt=eta)
    b = fp.thermo.entropy_production(paths, fp.linearized(OU_K, OU_D), window=50, dt=eta)
    assert np.median(np.abs(a.total - b.total)) < 1e-2 * np.std(a.total)


def test_chain_from_sgd_state(net):
    land, w_min = net
    scheme = fp.SGD(learning_rate=1e-7, batch_size=10, scheme="with_replacement")
    gauss = scheme.linearized(land, w_min)
    chain = LinearChain.from_state(gauss)
    assert chain.entropy_production_per_step == pytest.approx(gauss.entropy_production_per_step, rel=1e-3)


# -- SGD on the paper's 7-parameter network ------------------------------------------------------
def test_sgd_rate_and_integral_ft_on_tanh_net(net):
    land, w_min = net
    scheme = fp.SGD(learning_rate=1e-7, batch_size=10, scheme="with_replacement")
    gauss = scheme.linearized(land, w_min)
    n_chains = 10_000  # rate standard error sqrt(2 / (σ W T)) ≈ 4.6% at T = 300 η
    w0 = np.random.default_rng(SEED).multivariate_normal(gauss.mean, gauss.covariance, n_chains)
    run = fp.simulate.sgd(land, scheme, w0, n_steps=300, n_chains=n_chains, rng=SEED)
    ds = fp.thermo.entropy_production(run, gauss, window=1)
    rate, err = ds.rate()
    sigma = gauss.entropy_production
    assert abs(rate - sigma) < STAT_Z * err, (rate, err, sigma)
    # η λ_max = 2.8e-3: the exact per-step chain form and the continuous form nearly coincide
    exact = fp.thermo.entropy_production(run, LinearChain.from_state(gauss), window=1)
    assert np.median(np.abs(exact.total - ds.total)) < 1e-2 * np.std(ds.total)
    for window in (1, 2, 3):
        ift = fp.thermo.integral_ft(fp.thermo.entropy_production(run, gauss, window=window))
        assert ift.converged
        assert abs(ift.value - 1.0) < STAT_Z * ift.standard_error, (window, ift)


# -- relaxation -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def relaxing():
    grid = fp.Grid((-6.0, -6.0), (6.0, 6.0), (48, 48))
    problem = fp.FokkerPlanck(grid, drift=linear_drift(OU_K), diffusion=OU_D)
    state = fp.stationary(problem)
    x = grid.mesh()
    p0 = np.exp(-((x[0] - 2.0) ** 2 + (x[1] + 1.0) ** 2) / (2 * 0.6**2))
    p0 /= p0.sum() * grid.cell_volume
    times = np.linspace(0.0, 3.0, 61)
    return problem, state, fp.evolve(problem, p0, times), p0


def test_relaxation_identities_to_roundoff(relaxing):
    _, state, ev, _ = relaxing
    r = fp.thermo.relaxation(ev, state)
    scale = np.abs(r.total).max()
    assert np.abs(r.entropy_rate - (r.total - r.heat)).max() < ROUNDOFF * scale * 10
    assert np.abs(r.total - (r.housekeeping + r.excess)).max() < ROUNDOFF * scale * 10
    assert np.abs(r.excess + r.kl_rate).max() < ROUNDOFF * scale * 10
    assert np.all(r.housekeeping >= 0) and np.all(r.excess >= 0) and np.all(r.total >= 0)
    assert np.all(np.diff(r.kl) < 0)  # the KL divergence to the stationary state decreases
    # late times: housekeeping -> the stationary σ of the discrete generator, excess -> 0
    assert r.housekeeping[-1] == pytest.approx(state.entropy_production, rel=0.01)
    assert r.excess[-1] < 0.02 * r.excess[0]


def test_relaxation_rates_match_time_derivatives(relaxing):
    """The generator rates against central differences of the evolved S and KL (TR-BDF2 output)."""
    _, state, ev, _ = relaxing
    r = fp.thermo.relaxation(ev, state)
    h = ev.times[1] - ev.times[0]
    dkl = (r.kl[2:] - r.kl[:-2]) / (2 * h)
    dS = (r.entropy[2:] - r.entropy[:-2]) / (2 * h)
    # O(h²) central differences with h = 0.05 on rates that vary on a time scale ~ 0.5: ~1%
    assert np.abs(dkl - r.kl_rate[1:-1]).max() < 0.02 * np.abs(r.kl_rate).max()
    assert np.abs(dS - r.entropy_rate[1:-1]).max() < 0.02 * np.abs(r.entropy_rate).max()


def test_relaxation_in_equilibrium_has_no_housekeeping():
    K = np.array([[1.0, 0.3], [0.3, 0.8]])
    grid = fp.Grid((-6.0, -6.0), (6.0, 6.0), (32, 32))
    problem = fp.FokkerPlanck(grid, drift=linear_drift(K), diffusion=0.5 * np.eye(2))
    state = fp.stationary(problem)
    p0 = np.exp(-((grid.mesh()[0] - 1.5) ** 2 + grid.mesh()[1] ** 2) / 2)
    ev = fp.evolve(problem, p0 / (p0.sum() * grid.cell_volume), np.linspace(0, 1, 11))
    r = fp.thermo.relaxation(ev, state)
    assert np.abs(r.housekeeping).max() < 1e-8 * np.abs(r.total).max()
    assert np.allclose(r.total, r.excess, rtol=1e-8)


def test_transient_entropy_production(relaxing):
    """Walkers from p0: ⟨e^{−Δs_tot}⟩ = 1 and ⟨Δs_tot⟩ = ∫ Σ_tot dt of the grid relaxation."""
    problem, state, ev, _ = relaxing
    W = 20_000
    x0 = np.array([2.0, -1.0]) + 0.6 * np.random.default_rng(SEED).standard_normal((W, 2))
    run = fp.simulate.langevin(problem, x0, dt=1e-3, n_steps=300, record_every=10, rng=SEED)
    ds = fp.thermo.entropy_production(run, ev, window=10)  # windows of 0.1
    assert np.abs(ds.total - (ds.system + ds.medium)).max() < ROUNDOFF * np.abs(ds.total).max()
    r = fp.thermo.relaxation(ev, state)
    first = ds.total[:, 0]
    expected = np.trapezoid(r.total[:3], ev.times[:3])
    # grid error O(h²) with h = 0.25 on a density of width 0.6, plus the O(dt) step: allow 3%
    assert abs(first.mean() - expected) < STAT_Z * first.std() / np.sqrt(W) + 0.03 * expected
    ift = fp.thermo.integral_ft(ds.total[:, :1])
    assert ift.converged
    assert abs(ift.value - 1.0) < STAT_Z * ift.standard_error + 0.03 * expected


# -- input errors ---------------------------------------------------------------------------------
def test_bad_inputs(ou):
    state, gauss, run = ou
    with pytest.raises(ThermoError, match="window must be a positive integer"):
        fp.thermo.entropy_production(run, gauss, window=0)
    with pytest.raises(ThermoError, match="needs at least 2001 records"):
        fp.thermo.entropy_production(run, gauss, window=2000)
    with pytest.raises(ThermoError, match="rule must be one of"):
        fp.thermo.entropy_production(run, gauss, rule="ito")
    with pytest.raises(ThermoError, match="state must be a StationaryState"):
        fp.thermo.entropy_production(run, "gauss")
    with pytest.raises(ThermoError, match="dt .* must be positive"):
        fp.thermo.entropy_production(np.zeros((2, 5, 2)), gauss)
    with pytest.raises(ThermoError, match="dimension 3"):
        fp.thermo.entropy_production(np.zeros((2, 5, 3)), gauss, dt=0.1)
    with pytest.raises(ThermoError, match="epochs=True needs epoch records"):
        fp.thermo.entropy_production(run, gauss, epochs=True)
    with pytest.raises(ThermoError, match="axes must be two different axes"):
        fp.thermo.stochastic_area(run, axes=(0, 0))
    with pytest.raises(ThermoError, match="bins must be a positive integer"):
        fp.thermo.detailed_ft(np.ones(10), bins=0)
    with pytest.raises(ThermoError, match="n_bootstrap must be an integer"):
        fp.thermo.integral_ft(np.ones(10), n_bootstrap=1)
    with pytest.raises(ThermoError, match="spectral radius below 1"):
        LinearChain(2 * np.eye(2), np.eye(2))
    with pytest.raises(ThermoError, match="positive definite"):
        LinearChain(0.5 * np.eye(2), np.diag([1.0, 0.0]))
    with pytest.raises(ThermoError, match="needs a GaussianState with a learning_rate"):
        LinearChain.from_state(gauss)
    with pytest.raises(ThermoError, match="must be an fpsolve.Evolution"):
        fp.thermo.relaxation(state, state)


def test_integral_ft_flags_an_unsampled_tail():
    ds = np.random.default_rng(SEED).normal(5.0, np.sqrt(10.0), (200, 1))  # DFT-consistent, mean 5
    ift = fp.thermo.integral_ft(ds)
    assert not ift.converged
    assert "not converged" in ift.message
    assert ift.method == "bootstrap"  # 200 walkers
    assert fp.thermo.integral_ft(ds[:4]).method == "exponential_average"



def test_figures(ou, relaxing, tmp_path):
    pytest.importorskip("matplotlib")
    _, gauss, run = ou
    _, state, ev, _ = relaxing
    ds = fp.thermo.entropy_production(run, gauss, window=50)
    figs = [fp.plot.entropy_histogram(ds), fp.plot.fluctuation_theorem(fp.thermo.detailed_ft(ds)),
            fp.plot.relaxation(fp.thermo.relaxation(ev, state))]
    for k, fig in enumerate(figs):
        fig.savefig(tmp_path / f"fig{k}.png")
        assert (tmp_path / f"fig{k}.png").stat().st_size > 1000


def test_periodic_ring_rate_equals_sigma():
    """A driven ring (A = f + sin x, D = ½, period 2π): displacements wrap across the seam."""
    grid = fp.Grid((0.0,), (2 * np.pi,), (256,), boundary="periodic")
    problem = fp.FokkerPlanck(grid, drift=lambda x: 1.0 + np.sin(x), diffusion=0.5)
    state = fp.stationary(problem)
    assert state.entropy_production > 0.5
    gen = np.random.default_rng(SEED)
    cdf = np.cumsum(state.density) * grid.cell_volume
    x0 = np.interp(gen.random(4000), cdf, grid.axes[0])[:, None]
    run = fp.simulate.langevin(problem, x0, dt=DT, n_steps=1000, rng=SEED)
    assert np.any(np.abs(np.diff(run.weights[..., 0], axis=1)) > np.pi)  # walkers crossed the seam
    rate, err = fp.thermo.entropy_production(run, state, window=10).rate()
    sigma = state.entropy_production
    assert abs(rate - sigma) < STAT_Z * err + EM_RTOL * sigma, (rate, err, sigma)


def test_epoch_records_of_without_replacement_sgd(net):
    land, w_min = net
    scheme = fp.SGD(learning_rate=1e-7, batch_size=10, scheme="without_replacement")
    # the plumbing of epoch records only: any state of the right dimension will do
    gauss = fp.SGD(learning_rate=1e-7, batch_size=10).linearized(land, w_min)
    run = fp.simulate.sgd(land, scheme, gauss.mean, n_steps=20 * 41, n_chains=4, rng=SEED)
    ds = fp.thermo.entropy_production(run, gauss, window=2, epochs=True)
    assert ds.duration == pytest.approx(2 * 20 * 1e-7)  # M = N / b = 20 steps per epoch
    assert ds.total.shape == (4, 20)
    assert np.all(np.isfinite(ds.total))


@pytest.mark.parametrize("boundary", ["reflecting", "periodic"])
def test_2d_kernel_matches_general_path(boundary):
    """The scalar 2-D loop against the d-dimensional one: same stencil, summation order aside."""
    from fpsolve._kernels import thermo as tk
    from fpsolve.thermo import _grid_table, _table

    grid = fp.Grid((-3.0, -2.0), (3.0, 2.0), (24, 16), boundary=boundary)
    gen = np.random.default_rng(SEED)
    table = _table([gen.standard_normal((2, 24, 16)), gen.standard_normal((1, 24, 16))])
    x = np.stack([gen.uniform(-3, 3, (50, 31)), gen.uniform(-2, 2, (50, 31))], axis=-1)
    x[7, 20:] = np.nan  # a stopped walker
    outs = []
    for specialised in (True, False):
        f = np.empty((50, 10))
        lp = np.empty((50, 10))
        tk.grid_windows(np.ascontiguousarray(x), 3, True, _grid_table(grid, table), f, lp, specialised)
        outs.append((f, lp))
    for a, b in zip(*outs):
        assert np.array_equal(np.isnan(a), np.isnan(b)) and np.isnan(a[7, 6:]).all()
        assert np.allclose(a, b, rtol=1e-13, atol=1e-13, equal_nan=True)


ORDER_MIN, ORDER_MAX = 1.5, 2.5  # second-order scheme; 32 -> 64 cells is still pre-asymptotic (1.7)


def test_relaxation_converges_to_the_continuum():
    """OU relaxation from a Gaussian stays Gaussian: Σ_tot and KL(p_t ‖ p_ss) in closed form.

    ``p_t = N(m, S)``, ``m = e^{−Kt} m0``, ``S = C + e^{−Kt}(S0 − C)e^{−Kᵀt}``; ``v = −Kx + D S⁻¹ (x − m)``
    gives ``Σ_tot = (Km)ᵀD⁻¹(Km) + tr(Mᵀ D⁻¹ M S)`` with ``M = D S⁻¹ − K``.
    """
    K, D = OU_K, OU_D
    C = sla.solve_continuous_lyapunov(-K, -2 * D)
    m0, S0 = np.array([1.5, -1.0]), 0.64 * np.eye(2)
    times = np.array([0.0, 0.25, 0.5, 1.0])

    def exact(t):
        E = sla.expm(-K * t)
        m, S = E @ m0, C + E @ (S0 - C) @ E.T
        M = D @ np.linalg.inv(S) - K
        total = (K @ m) @ np.linalg.solve(D, K @ m) + np.trace(M.T @ np.linalg.solve(D, M) @ S)
        Ci = np.linalg.inv(C)
        kl = 0.5 * (np.trace(Ci @ S) + m @ Ci @ m - 2 + np.log(np.linalg.det(C) / np.linalg.det(S)))
        return total, kl

    ref = np.array([exact(t) for t in times])
    errors = []
    for n in (32, 64):
        grid = fp.Grid((-6.0, -6.0), (6.0, 6.0), (n, n))
        problem = fp.FokkerPlanck(grid, drift=linear_drift(K), diffusion=D)
        d = grid.mesh() - m0[:, None, None]
        p0 = np.exp(-0.5 * np.einsum("i...,ij,j...->...", d, np.linalg.inv(S0), d))
        ev = fp.evolve(problem, p0 / (p0.sum() * grid.cell_volume), times, tolerance=1e-9)
        r = fp.thermo.relaxation(ev, fp.stationary(problem))
        errors.append([np.abs(r.total - ref[:, 0]).max(), np.abs(r.kl - ref[:, 1]).max()])
    orders = np.log2(np.array(errors[0]) / np.array(errors[1]))
    assert np.all((orders > ORDER_MIN) & (orders < ORDER_MAX)), orders
    assert errors[1][0] < 0.03 * ref[0, 0]  # Σ_tot within 3% of its initial value at 64²


def test_projected_state_on_hessian_eigenvectors():
    gen = np.random.default_rng(SEED)
    A = gen.standard_normal((6, 6))
    H = A @ A.T + np.eye(6)
    B = gen.standard_normal((6, 6))
    full = fp.linearized(H, 0.5 * B @ B.T + 0.1 * np.eye(6), learning_rate=0.01)
    lam, V = np.linalg.eigh(H)
    part = fp.thermo.projected_state(full, V[:, -3:])
    assert np.allclose(part.covariance, V[:, -3:].T @ full.covariance @ V[:, -3:], rtol=1e-10, atol=1e-14)
    assert part.learning_rate == 0.01 and part.ndim == 3
    with pytest.raises(ThermoError, match="not span an invariant subspace"):
        fp.thermo.projected_state(full, np.linalg.qr(gen.standard_normal((6, 2)))[0])
    with pytest.raises(ThermoError, match="orthonormal columns"):
        fp.thermo.projected_state(full, 2 * V[:, :2])


# -- results of one shape: status, message, seconds ----------------------------------------
def _small_chain() -> LinearChain:
    return LinearChain(np.array([[0.9, 0.05], [-0.05, 0.9]]), 0.01 * np.eye(2))


def test_entropy_production_status_message_seconds():
    chain = _small_chain()
    paths = chain.simulate(50, n_chains=10, rng=SEED)
    ds = fp.thermo.entropy_production(paths, chain, window=5, dt=1.0)
    assert ds.status == "completed"  # the message says something when all is well too
    assert ds.message == f"10 walkers × {ds.n_windows} windows of 5 recorded intervals, all finite (discrete_chain form, exact rule)"
    assert 0.0 < ds.seconds < 60.0
    assert "status='completed'" in repr(ds)
    paths[3, 20:] = np.nan  # a chain that stopped at step 20
    stopped = fp.thermo.entropy_production(paths, chain, window=5, dt=1.0)
    assert stopped.status == "partial" and "status='partial'" in repr(stopped)
    assert stopped.message.startswith("1 of 10 walkers meet a stopped chain (7 of 100 windows are nan)")
    assert "trajectory's message" in stopped.message


def test_integral_ft_status_message_seconds():
    good = fp.thermo.integral_ft(np.random.default_rng(SEED).normal(0.5, 1.0, (100, 400)))
    assert good.converged and good.status == "converged"
    assert good.message.startswith("converged: ") and "(bootstrap)" in good.message
    assert 0.0 < good.seconds < 60.0
    bad = fp.thermo.integral_ft(np.random.default_rng(SEED).normal(5.0, np.sqrt(10.0), (200, 1)))
    assert not bad.converged and bad.status == "not converged"
    assert "samples with Δs < 0 (need 50)" in bad.message and "use more walkers" in bad.message


def test_detailed_ft_status_message_seconds():
    good = fp.thermo.detailed_ft(np.random.default_rng(2).normal(1.0, np.sqrt(2.0), (100, 400)))
    assert good.status == "ok" and good.message.startswith("fitted ") and "slope " in good.message
    assert 0.0 < good.seconds < 60.0
    positive = fp.thermo.detailed_ft(np.abs(np.random.default_rng(SEED).normal(size=(10, 100))) + 0.1)
    assert positive.status == "too few bin pairs" and np.isnan(positive.slope)
    assert positive.message.startswith("no samples with Δs < 0") and "min_count=10" in positive.message
    few = fp.thermo.detailed_ft(np.random.default_rng(2).normal(1.0, np.sqrt(2.0), (100, 400)), min_count=2000)
    assert few.status == "too few bin pairs"
    assert few.message.startswith("only 0 bin pairs populated (need 3 with at least min_count=2000")


def test_stochastic_area_status_message_seconds():
    paths = _small_chain().simulate(100, n_chains=20, rng=SEED)
    good = fp.thermo.stochastic_area(paths, dt=1.0, center=np.zeros(2))
    assert good.status == "completed"
    assert good.message == (f"{good.n_intervals} recorded intervals of 20 walkers, all finite; standard "
                            "error from walker means")
    assert 0.0 < good.seconds < 60.0 and np.isfinite(good.standard_error)
    paths[0, 50:] = np.nan
    partial = fp.thermo.stochastic_area(paths, dt=1.0, center=np.zeros(2))
    assert partial.status == "partial"
    assert partial.message.startswith("1 of 20 walkers have non-finite records (stopped chains)")
    short = fp.thermo.stochastic_area(paths[1:3, :3], dt=1.0, center=np.zeros(2))
    assert short.status == "no error" and np.isnan(short.standard_error)
    assert short.message.startswith("no standard error: fewer than 8 walkers")


def test_relaxation_status_message_seconds(relaxing, monkeypatch):
    _, state, ev, _ = relaxing
    good = fp.thermo.relaxation(ev, state)
    assert good.status == "completed"
    assert good.message.startswith(f"entropy balance at {len(ev.times)} times; ")
    assert 0.0 < good.seconds < 60.0
    monkeypatch.setattr(fp.thermo, "TAIL_MAX_SWEEPS", 1)  # the tails need tens of sweeps
    with pytest.warns(UserWarning, match="far tails did not converge in 1 Gauss-Seidel sweeps"):
        bad = fp.thermo.relaxation(ev, state)
    assert bad.status == "tails not converged"
    assert bad.message.startswith("the stationary vector's far tails did not converge")
