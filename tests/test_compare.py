"""fp.compare: histogram distances, the Monte-Carlo noise floor, moment comparisons, errors."""

from __future__ import annotations

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.comparison import tv_noise_floor

SEED = 7
FLOOR_RTOL = 0.05  # mean TV of 400 exact histograms: relative sd ~1%


@pytest.fixture(scope="module")
def state():
    grid = fp.Grid(-5.0, 5.0, 80)
    return fp.stationary(fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5))


def exact_samples(state, n, rng):
    """Draws from the state's cell probabilities (what fp.compare bins against), uniform within the cell."""
    grid = state.grid
    p = state.cell_probabilities().ravel()
    cells = rng.choice(p.size, size=n, p=p / p.sum())
    h = grid.spacing[0]
    return (grid.lower[0] + (cells + rng.random(n)) * h)[:, None]


def test_noise_floor_formula_matches_monte_carlo(state):
    rng = np.random.default_rng(SEED)
    p = state.cell_probabilities().ravel()
    n = 2000
    tvs = [0.5 * np.abs(rng.multinomial(n, p) / n - p).sum() for _ in range(400)]
    assert np.mean(tvs) == pytest.approx(tv_noise_floor(p, n), rel=FLOOR_RTOL)


def test_exact_samples_are_within_noise_and_shifted_ones_resolved(state):
    rng = np.random.default_rng(SEED)
    x = exact_samples(state, 20000, rng)
    c = fp.compare(state, x)
    assert c.method == "histogram" and c.status == "within noise"
    assert c.total_variation < 1.5 * c.tv_noise_floor
    assert c.n_outside == 0 and c.effective_sample_size == 20000
    assert abs(c.mean_error[0]) < 0.02 and c.covariance_error < 0.03
    assert np.isfinite(c.kl_samples_state) and c.hellinger < 0.1
    shifted = fp.compare(state, x + 0.2)
    assert shifted.status == "resolved"
    assert shifted.total_variation > 3 * c.total_variation
    assert "total variation" in shifted.summary()


def test_empty_cells_make_kl_infinite_and_bin_factor_helps(state):
    x = exact_samples(state, 500, np.random.default_rng(SEED))
    c = fp.compare(state, x)
    assert c.kl_state_samples == np.inf
    assert any("KL(state||samples) is inf" in note for note in c.notes)
    coarse = fp.compare(state, x, bin_factor=8)
    assert coarse.total_variation < c.total_variation


def test_samples_outside_the_grid_are_counted(state):
    x = np.concatenate([exact_samples(state, 1000, np.random.default_rng(SEED)), [[7.0], [-9.0]]])
    c = fp.compare(state, x)
    assert c.n_outside == 2 and c.kl_samples_state == np.inf
    assert any("2 of 1002 samples lie outside the grid" in note for note in c.notes)


def Gaussian(mean, covariance):
    """A real GaussianState N(mean, C): H = I and D = C solve H C + C H = 2 D."""
    C = np.atleast_2d(covariance)
    return fp.linearized(np.eye(len(C)), C, mean=mean)


def test_gaussian_state_compares_moments():
    C = np.array([[1.0, 0.3], [0.3, 0.5]])
    x = np.random.default_rng(SEED).multivariate_normal([0, 0], C, size=50000)
    c = fp.compare(Gaussian([0.0, 0.0], C), x)
    assert c.method == "moments" and np.isnan(c.total_variation)
    assert c.kl_state_samples < 1e-3 and c.kl_samples_state < 1e-3 and c.hellinger < 0.02
    far = fp.compare(Gaussian([1.0, 0.0], C), x)
    # KL between equal-covariance Gaussians is ½ Δmᵀ C⁻¹ Δm
    assert far.kl_state_samples == pytest.approx(0.5 * np.linalg.inv(C)[0, 0], rel=0.02)


def test_trajectory_samples_use_records_and_streaming_moments(state):
    run = fp.simulate.langevin(state.problem, 0.0, dt=0.05, n_steps=4000, n_walkers=200,
                               burn_in=200, record_every=20, rng=SEED)
    c = fp.compare(state, run)
    assert c.n_samples == 200 * 191
    assert c.effective_sample_size < c.n_samples
    assert c.tv_noise_floor_effective >= c.tv_noise_floor
    assert np.allclose(c.mean_error, run.mean() - state.mean())
    moments = fp.compare(Gaussian([0.0], [[0.5]]), fp.simulate.langevin(
        state.problem, 0.0, dt=0.05, n_steps=400, n_walkers=50, record_every=0, rng=SEED))
    assert moments.method == "moments" and moments.n_samples == 50 * 400


def test_rejected_inputs(state):
    with pytest.raises(ValueError, match=r"samples must have shape \(n, 1\) or be a Trajectory"):
        fp.compare(state, np.zeros((10, 2)))
    with pytest.raises(ValueError, match="samples must be finite; got 1 rows"):
        fp.compare(state, np.array([[0.0], [np.nan], [1.0]]))
    with pytest.raises(ValueError, match="samples must hold at least 2 points"):
        fp.compare(state, np.zeros((1, 1)))
    with pytest.raises(ValueError, match="bin_factor must be a whole number >= 1; got 0"):
        fp.compare(state, np.zeros((10, 1)), bin_factor=0)
    with pytest.raises(ValueError, match="bin_factor=3 must divide the number of cells"):
        fp.compare(state, np.zeros((10, 1)), bin_factor=3)
    with pytest.raises(TypeError, match="state must have grid and density"):
        fp.compare(object(), np.zeros((10, 1)))
    with pytest.raises(ValueError, match=r"samples must have shape \(n, 1\)"):
        fp.compare(Gaussian([0.0], [[1.0]]), np.zeros((10, 2)))
    run = fp.simulate.langevin(state.problem, 0.0, dt=0.1, n_steps=5, n_walkers=2,
                               record_every=0, rng=1)
    with pytest.raises(ValueError, match="this trajectory has no records"):
        fp.compare(state, run)


# -- issue 9: real Gaussian states, diverged runs, cell integrals -----------------------------

LIKE_GRID_CELLS = 16  # coarse enough that point values and cell integrals differ by ~5e-3 in TV
LIKE_SAMPLES = 1_000_000  # noise floor ~1e-3, well below that difference


def test_real_gaussian_state_compares_by_moments():
    """The documented path: a GaussianState (grid() and density() are methods) goes to moments."""
    C = np.array([[1.0, 0.3], [0.3, 0.5]])
    gauss = fp.linearized(np.eye(2), C)
    assert callable(gauss.grid) and callable(gauss.density)
    x = np.random.default_rng(SEED).multivariate_normal([0, 0], C, size=20000)
    c = fp.compare(gauss, x)
    assert c.method == "moments" and c.covariance_error < 0.05


def test_stationary_state_cell_probabilities_match_a_histogram_of_exact_draws():
    """compare bins against cell integrals: exact draws from the continuous law are within noise,
    while the centre values times the cell volume differ from the histogram beyond noise."""
    grid = fp.Grid(-4.0, 4.0, LIKE_GRID_CELLS)
    state = fp.stationary(fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5))
    x = np.random.default_rng(SEED).normal(0.0, np.sqrt(0.5), (LIKE_SAMPLES, 1))
    c = fp.compare(state, x)
    assert c.status == "within noise"
    q = np.histogram(x[:, 0], bins=grid.lower[0] + grid.spacing[0] * np.arange(grid.shape[0] + 1))[0] / len(x)
    p_points = state.density * grid.cell_volume
    tv_points = 0.5 * np.abs(p_points / p_points.sum() - q).sum()
    assert tv_points > 3 * c.tv_noise_floor
    assert state.cell_probabilities().sum() == pytest.approx(1.0, abs=1e-14)


def _unstable_cubic_run(x0):
    import numba

    @numba.njit
    def drift(x, out):
        out[0] = -x[0] + x[0] ** 3  # stable at 0, runs off to infinity beyond |x| = 1

    fields = fp.simulate.Fields(drift, diffusion=0.01, ndim=1)
    with pytest.warns(fp.DivergenceWarning):
        return fp.simulate.langevin(fields, x0, dt=0.01, n_steps=2000, record_every=10, rng=SEED)


def test_a_partly_diverged_run_is_flagged_first_and_its_chains_excluded():
    run = _unstable_cubic_run(np.array([[0.0], [0.1], [3.0], [-3.0]]))
    assert run.n_diverged == 2
    gauss = fp.linearized(np.eye(1), [[0.01]])
    with pytest.warns(fp.DivergenceWarning, match=r"2 of 4 chains excluded \(2 diverged"):
        c = fp.compare(gauss, run)
    assert c.n_excluded_chains == 2
    assert c.summary().splitlines()[0].startswith("RUN STOPPED: 2 of 4 chains excluded")
    assert np.all(np.isfinite(c.mean_error)) and abs(c.mean_error[0]) < 0.05
    assert np.isfinite(c.covariance_error)


def test_a_fully_diverged_run_is_refused():
    run = _unstable_cubic_run(np.array([[3.0], [-3.0]]))
    gauss = fp.linearized(np.eye(1), [[0.01]])
    with pytest.raises(fp.FPSolveError, match="samples: every chain of the run stopped before the end"):
        fp.compare(gauss, run)


def test_status_message_seconds(state):
    x = exact_samples(state, 2000, np.random.default_rng(SEED))
    good = fp.compare(state, x)
    assert good.status == "within noise"  # the message says something when all is well too
    assert good.message.startswith("2000 samples (effective 2000) on the state's cells: total variation ")
    assert 0.0 < good.seconds < 60.0
    outside = fp.compare(state, np.vstack([x, [[7.0], [-9.0]]]))
    assert outside.n_outside == 2
    assert outside.message == ("2 of 2002 samples lie outside the grid and count as mass where the state "
                               "has none: enlarge the grid to cover them")
    moments = fp.compare(fp.linearized(np.eye(1), [[0.5]]), x)
    assert moments.status == "moments"
    assert moments.message.startswith("mean and covariance of 2000 samples (")


def test_excluded_chains_are_named_in_the_message():
    run = _unstable_cubic_run(np.array([[0.0], [0.1], [3.0], [-3.0]]))
    with pytest.warns(fp.DivergenceWarning) as caught:
        c = fp.compare(fp.linearized(np.eye(1), [[0.01]]), run)
    assert caught[0].filename == __file__  # the warning points at the caller of fp.compare
    assert c.message.startswith("RUN STOPPED: 2 of 4 chains excluded (2 diverged")
    assert c.message.endswith("see the trajectory's message (a smaller step avoids divergence)")
