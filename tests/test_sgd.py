"""Minibatch SGD / SGLD / SGWORLD engine: update rule, samplers, exact Gaussian-mean variances,
reproducibility, epochs, divergence and input errors.

The statistical tests use the 1-D Gaussian mean (docs/theory.md §2), whose minibatch noise does not
depend on θ, so the discrete-time stationary variances are exact: SGLD
``V = (2η + η² Σ_B) / (2ηH − η²H²)`` and, for SGWORLD, the step-averaged variance of the
epoch-periodic linear recursion with anticorrelated batch noise (:func:`sgworld_variance`).
"""

from __future__ import annotations

import importlib

import numba
import numpy as np
import pytest

import fpsolve as fp
from fpsolve.simulate import sgd, sgd_batches, standard_normals

SEED = 20240612
N_BATCHES = 200_000  # sampler moments: relative sd of a batch-mean variance ~ sqrt(2 / n) ≈ 0.3%
MOMENT_RTOL = 0.015  # ≈ 5 sd of that; k b = 0.955 for N = 200, b = 10, so k Σ₁ and Σ₁ / b differ by 15 sd
STAT_Z = 4.5  # stationary variances: |error| within 4.5 standard errors from the spread over chains
N_CHAINS = 32
N_STEPS_PER_CHAIN = 200_000  # per chain; ~1/(ηH) steps per independent variance sample


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def net():
    x, y, w_min = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1, weight_decay=1e-3)
    return land, w_min


def gaussian_mean_landscape(n=100, s=1.0, s0=1.0, seed=7):
    y = np.random.default_rng(seed).normal(0.5, s, n)
    return fp.Landscape(fp.models.GaussianMean(noise_std=s, prior_std=s0), None, y)


def numpy_reference(land, scheme, w0, n_steps, seed):
    """The update ``w ← w − η ∇L_B + sqrt(2ηT) ξ`` in NumPy from the run's batches and normals."""
    batches = sgd_batches(scheme, land.n_samples, n_steps, seed)
    xi = standard_normals(seed, 1, n_steps, land.n_params)[0]
    w = np.array(w0, dtype=float)
    path = [w.copy()]
    for n in range(n_steps):
        g = land.per_sample_gradients(w)[batches[n]].mean(axis=0)
        w = w - scheme.learning_rate * g + np.sqrt(2 * scheme.learning_rate * scheme.temperature) * xi[n]
        path.append(w.copy())
    return np.array(path)


# -- the update --------------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", ["with_replacement", "iid", "without_replacement"])
def test_tanh_net_update_matches_numpy_reference(net, sampler):
    land, w_min = net
    scheme = fp.SGD(learning_rate=1e-5, batch_size=10, scheme=sampler, temperature=1e-2)
    run = sgd(land, scheme, w_min, n_steps=45, rng=SEED)
    ref = numpy_reference(land, scheme, w_min, 45, SEED)
    np.testing.assert_allclose(run.weights[0], ref, rtol=1e-11, atol=1e-13)
    assert run.settings["model_path"] == "tanh_net"
    assert run.status == "completed" and run.dt == 1e-5


def test_wider_tanh_net_general_loop_matches_numpy_reference():
    """TanhNet with hidden != 2 takes the general gradient loop (_grad_tanh_net), not the
    hand-written seven-parameter one."""
    x, y, _ = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhNet(hidden=3), x, y, noise_std=0.1, weight_decay=1e-3)
    w0 = np.array([1.0, -0.8, 0.5, 0.2, -0.1, 0.3, 0.7, -0.4, 0.6, 0.05])
    scheme = fp.SGD(learning_rate=1e-5, batch_size=10, temperature=1e-2)
    run = sgd(land, scheme, w0, n_steps=45, rng=SEED)
    np.testing.assert_allclose(run.weights[0], numpy_reference(land, scheme, w0, 45, SEED),
                               rtol=1e-11, atol=1e-13)
    assert run.settings["model_path"] == "tanh_net" and land.n_params == 10


def test_point_kernel_path_matches_numpy_reference():
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, 60)
    y = 0.8 * np.tanh(1.1 * x + 0.2) + 0.1 * rng.normal(size=60)
    land = fp.Landscape(fp.models.TanhUnit(bias=True), x, y, noise_std=0.1, weight_decay=1e-3)
    scheme = fp.SGD(learning_rate=1e-4, batch_size=6, temperature=1e-3)
    w0 = np.array([1.0, 0.7, 0.1])
    run = sgd(land, scheme, w0, n_steps=30, rng=SEED)
    np.testing.assert_allclose(run.weights[0], numpy_reference(land, scheme, w0, 30, SEED),
                               rtol=1e-11, atol=1e-13)
    assert run.settings["model_path"] == "point_kernel"


def test_gaussian_mean_path_matches_numpy_reference():
    land = gaussian_mean_landscape()
    scheme = fp.SGD(learning_rate=1e-3, batch_size=10, temperature=1.0)
    run = sgd(land, scheme, [0.2], n_steps=30, rng=SEED)
    np.testing.assert_allclose(run.weights[0], numpy_reference(land, scheme, [0.2], 30, SEED),
                               rtol=1e-12, atol=1e-14)


# -- samplers --------------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", ["with_replacement", "iid", "without_replacement"])
def test_batch_samplers_first_and_second_moments(net, sampler):
    land, w_min = net
    N, b = land.n_samples, 10
    scheme = fp.SGD(learning_rate=1e-7, batch_size=b, scheme=sampler)
    batches = sgd_batches(scheme, N, N_BATCHES, SEED)
    assert batches.shape == (N_BATCHES, b) and batches.min() >= 0 and batches.max() < N
    # first moment: every index equally often
    freq = np.bincount(batches.ravel(), minlength=N) / batches.size
    assert np.abs(freq - 1 / N).max() < 5 * np.sqrt((1 / N) / batches.size)
    # second moment: covariance of the batch-mean gradient
    G = land.per_sample_gradients(w_min)
    sigma1 = land.gradient_covariance(w_min)
    means = G[batches].mean(axis=1)
    scale = np.sqrt(np.diag(sigma1))  # compare in units where the diagonal of Σ₁ is 1
    C = np.cov(means, rowvar=False) / np.outer(scale, scale)
    S = sigma1 / np.outer(scale, scale)
    k = (N - b) / (b * (N - 1))
    expected = S / b if sampler == "iid" else k * S
    other = k * S if sampler == "iid" else S / b
    assert np.trace(C) / np.trace(expected) == pytest.approx(1.0, abs=MOMENT_RTOL)
    assert abs(np.trace(C) / np.trace(other) - 1.0) > 2 * MOMENT_RTOL
    assert np.abs(C - expected).max() < 3 * MOMENT_RTOL * np.abs(expected).max()
    np.testing.assert_allclose(means.mean(axis=0) / scale, land.gradient(w_min) / scale,
                               atol=5 * np.sqrt(np.diag(expected).max() / N_BATCHES))
    distinct = np.array([len(set(row)) for row in batches[:2000]])
    if sampler == "iid":
        assert np.any(distinct < b)  # repeats happen (P(no repeat) = 0.79 per batch)
    else:
        assert np.all(distinct == b)


def test_without_replacement_epochs_are_partitions(net):
    land, w_min = net
    N, b = land.n_samples, 10
    M = N // b
    scheme = fp.SGD(learning_rate=1e-7, batch_size=b, scheme="without_replacement")
    batches = sgd_batches(scheme, N, 500 * M, SEED)
    epochs = batches.reshape(500, N)
    assert np.all(np.sort(epochs, axis=1) == np.arange(N))
    assert len({tuple(e) for e in epochs[:50]}) == 50  # a fresh permutation every epoch
    G = land.per_sample_gradients(w_min)
    sums = G[batches].mean(axis=1).reshape(500, M, -1).sum(axis=1)
    np.testing.assert_allclose(sums, np.broadcast_to(M * G.mean(axis=0), sums.shape),
                               rtol=1e-9, atol=1e-9 * np.abs(G).max())


# -- exact stationary variances of the Gaussian mean ----------------------------------------------
def sgld_variance(eta, H, sigma_B):
    return (2 * eta + eta**2 * sigma_B) / (2 * eta * H - eta**2 * H**2)


def sgworld_variance(eta, H, sigma_B, M, T=1.0):
    """Step-averaged stationary variance of ``δ' = a δ − η e_m + sqrt(2ηT) ξ``, ``a = 1 − ηH``,
    with batch noise ``e`` of one epoch exchangeable, variance ``Σ_B``, summing to zero."""
    a = 1.0 - eta * H
    Ce = sigma_B * M / (M - 1) * (np.eye(M) - np.ones((M, M)) / M)

    def added(j):  # variance from the first j steps of an epoch started at δ = 0
        u = np.zeros(M)
        u[:j] = a ** (j - 1 - np.arange(j))
        return eta**2 * u @ Ce @ u + 2 * eta * T * np.sum(a ** (2 * np.arange(j)))

    V0 = added(M) / (1 - a ** (2 * M))
    return np.mean([a ** (2 * j) * V0 + added(j) for j in range(1, M + 1)])


def _measured(run):
    """Pooled variance and its standard error from the spread of the per-chain variances."""
    per_chain = run.chain_m2[:, 0, 0] / (run.count - 1)
    return run.covariance()[0, 0], per_chain.std(ddof=1) / np.sqrt(len(per_chain))


@pytest.mark.parametrize("eta_H", [0.05, 0.1])
@pytest.mark.parametrize("sampler", ["with_replacement", "iid", "without_replacement"])
def test_gaussian_mean_stationary_variance_matches_discrete_formula(sampler, eta_H):
    land = gaussian_mean_landscape()
    N, b = land.n_samples, 10
    H = float(land.hessian([0.0])[0, 0])
    theta = float(land.minimize([0.0])[0])
    sigma1 = float(land.gradient_covariance([theta])[0, 0])
    k = (N - b) / (b * (N - 1))
    eta = eta_H / H
    scheme = fp.SGD(learning_rate=eta, batch_size=b, scheme=sampler, temperature=1.0)
    burn_in = int(20 / eta_H)
    run = sgd(land, scheme, [theta], n_steps=N_STEPS_PER_CHAIN + burn_in, n_chains=N_CHAINS,
              burn_in=burn_in, record_every=0, rng=SEED)
    var, se = _measured(run)
    sigma_B = sigma1 / b if sampler == "iid" else k * sigma1
    if sampler == "without_replacement":
        exact = sgworld_variance(eta, H, sigma_B, N // b)
        # docs/theory.md §2's leading-order estimate is close to it
        approx = (1 / H) * (1 + eta_H / 2 + eta**2 * sigma_B * H * (N // b + 1) / 6)
        assert exact == pytest.approx(approx, rel=0.3 * (approx * H - 1))
        wrong = sgld_variance(eta, H, sigma_B)  # what independent batches would give
    else:
        exact = sgld_variance(eta, H, sigma_B)
        wrong = 2 * eta / (2 * eta * H - eta**2 * H**2)  # full-batch Langevin
    assert abs(var - exact) < STAT_Z * se, (var, exact, se)
    assert abs(var - 1 / H) > STAT_Z * se  # the continuous-time posterior variance is resolved
    assert abs(var - wrong) > STAT_Z * se
    assert abs(run.mean()[0] - theta) < STAT_Z * np.sqrt(exact * 2 / eta_H / run.n_samples)


# -- reproducibility ---------------------------------------------------------------------------
def test_reproducible_for_a_seed_threads_chains_and_chunks(monkeypatch):
    land = gaussian_mean_landscape()
    scheme = fp.SGD(learning_rate=1e-3, batch_size=10, scheme="without_replacement", temperature=1.0)
    kw = dict(n_steps=3000, n_chains=3, record_every=7, burn_in=100, rng=SEED)
    a = sgd(land, scheme, [0.4], **kw)
    b = sgd(land, scheme, [0.4], **kw)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.chain_m2, b.chain_m2)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        c = sgd(land, scheme, [0.4], **kw)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(a.weights, c.weights)
    one = sgd(land, scheme, [0.4], **dict(kw, n_chains=1))
    np.testing.assert_array_equal(a.weights[:1], one.weights)
    module = importlib.import_module("fpsolve.simulate.sgd")  # the attribute is the function
    monkeypatch.setattr(module, "CHUNK_CHAIN_STEPS", 3 * 233)
    chunked = sgd(land, scheme, [0.4], **kw)
    np.testing.assert_array_equal(a.weights, chunked.weights)
    np.testing.assert_array_equal(a.epoch_weights, chunked.epoch_weights)
    np.testing.assert_allclose(a.covariance(), chunked.covariance(), rtol=1e-12)
    assert a.seed == SEED
    other = sgd(land, scheme, [0.4], **dict(kw, rng=SEED + 1))
    assert not np.array_equal(a.weights, other.weights)
    gen = sgd(land, scheme, [0.4], **dict(kw, rng=np.random.default_rng(1)))
    np.testing.assert_array_equal(gen.weights, sgd(land, scheme, [0.4], **dict(kw, rng=gen.seed)).weights)


# -- records, epochs, statistics ---------------------------------------------------------------
def test_records_epochs_and_streaming_statistics():
    land = gaussian_mean_landscape()  # N = 100, b = 10: M = 10
    scheme = fp.SGD(learning_rate=1e-3, batch_size=10, scheme="without_replacement", temperature=1.0)
    run = sgd(land, scheme, [0.4], n_steps=37, n_chains=2, record_every=1, burn_in=5, rng=SEED)
    assert run.weights.shape == (2, 33, 1)
    np.testing.assert_array_equal(run.steps, np.arange(5, 38))
    np.testing.assert_allclose(run.times, run.steps * 1e-3)
    assert run.steps_per_epoch == 10
    np.testing.assert_array_equal(run.epoch_steps, [10, 20, 30])  # stops inside the 4th epoch
    np.testing.assert_array_equal(run.epoch_weights, run.weights[:, [5, 15, 25]])
    np.testing.assert_array_equal(run.final, run.weights[:, -1])
    after = run.weights[:, 1:, :]  # steps > burn_in
    np.testing.assert_allclose(run.mean(), after.reshape(-1, 1).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(run.covariance(), np.cov(after.reshape(-1, 1), rowvar=False, ddof=1),
                               rtol=1e-10)
    ends = run.epoch_weights.reshape(-1, 1)
    np.testing.assert_allclose(run.epoch_mean(), ends.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(run.epoch_covariance(), np.cov(ends, rowvar=False, ddof=1), rtol=1e-10)
    # the 40-step run continues the 37-step one exactly (the 4th permutation is already drawn)
    longer = sgd(land, scheme, [0.4], n_steps=40, n_chains=2, record_every=1, burn_in=5, rng=SEED)
    np.testing.assert_array_equal(longer.weights[:, :33], run.weights)
    quiet = sgd(land, scheme, [0.4], n_steps=37, n_chains=2, record_every=0, epoch_record_every=0,
                burn_in=5, rng=SEED)
    assert quiet.weights is None and quiet.epoch_weights is None
    np.testing.assert_array_equal(quiet.final, run.final)
    wr = sgd(land, fp.SGD(learning_rate=1e-3, batch_size=10), [0.4], n_steps=10, rng=SEED)
    assert wr.epoch_weights is None and wr.steps_per_epoch is None
    with pytest.raises(ValueError, match="without_replacement"):
        wr.epoch_mean()


def test_multivariate_covariance_is_symmetric(net):
    land, w_min = net
    run = sgd(land, fp.SGD(learning_rate=1e-7, batch_size=10), w_min, n_steps=2000, record_every=1,
              rng=SEED)
    C = run.covariance()
    np.testing.assert_allclose(C, np.cov(run.weights[0, 1:], rowvar=False), rtol=1e-8)
    np.testing.assert_array_equal(C, C.T)


def test_divergence_stops_the_chain_and_is_reported():
    """With divergence_bound=inf a chain stops only when w overflows (the kernel's non-finite check)."""
    land = gaussian_mean_landscape()
    H = float(land.hessian([0.0])[0, 0])
    scheme = fp.SGD(learning_rate=2.5 / H, batch_size=10)  # |1 − ηH| = 1.5: unstable
    with pytest.warns(fp.DivergenceWarning, match="non-finite"), \
            pytest.warns(fp.errors.StabilityWarning, match="beyond SGD's stability limit"):
        run = sgd(land, scheme, [0.4], n_steps=5000, n_chains=2, record_every=1, rng=SEED,
                  divergence_bound=np.inf)
    assert run.status == "diverged" and run.n_diverged == 2
    assert np.all(run.chain_status == 1)
    stop = run.stop_step[0]
    assert 0 < stop < 5000
    assert np.all(np.isnan(run.weights[0, stop:])) and np.all(np.isfinite(run.weights[0, :stop]))
    assert not np.isfinite(run.final[0, 0])
    assert run.count[0] == stop - 1


GROWTH_PER_STEP = 2.0  # |1 − ηH| at η = 3/H: the unstable chain doubles every step


def test_divergence_is_reported_as_soon_as_the_bound_is_crossed_and_warned_up_front():
    """Issue 9 item 3: η = 3/H warns before running and stops at |w| > 10⁶ |w0|, not at overflow."""
    land = gaussian_mean_landscape()
    H = float(land.hessian([0.0])[0, 0])
    scheme = fp.SGD(learning_rate=3.0 / H, batch_size=10)
    with pytest.warns(fp.errors.StabilityWarning, match=r"η λmax\(∇²L\) = 3 >= 2 .*η < "):
        with pytest.warns(fp.DivergenceWarning, match="beyond the divergence bound"):
            run = sgd(land, scheme, [0.4], n_steps=5000, n_chains=2, rng=SEED)
    assert run.status == "diverged" and np.all(run.chain_status == 4) and run.n_diverged == 2
    bound = run.settings["divergence_bound"]
    assert bound == pytest.approx(1e6)
    assert np.all(np.isfinite(run.final)) and np.all(np.abs(run.final) > bound)
    # doubling per step from O(1): the bound is crossed within ~log2(1e6) + a few steps
    assert run.stop_step.max() < 2 * np.log(bound) / np.log(GROWTH_PER_STEP)
    with pytest.raises(fp.FPSolveError, match="divergence_bound must exceed the largest"):
        sgd(land, scheme, [0.4], n_steps=10, divergence_bound=0.1)


# -- errors ---------------------------------------------------------------------------------------
def test_bad_inputs_are_rejected(net):
    land, w_min = net
    scheme = fp.SGD(learning_rate=1e-7, batch_size=10)
    with pytest.raises(TypeError, match="landscape must be an fpsolve.Landscape"):
        sgd("land", scheme, w_min, n_steps=10)
    with pytest.raises(TypeError, match="sgd must be an fpsolve.SGD"):
        sgd(land, "sgd", w_min, n_steps=10)
    with pytest.raises(ValueError, match="batch_size=7 must divide"):
        sgd(land, fp.SGD(learning_rate=1e-7, batch_size=7, scheme="without_replacement"), w_min, n_steps=10)
    with pytest.raises(ValueError, match="batch_size must be at most"):
        sgd(land, fp.SGD(learning_rate=1e-7, batch_size=201), w_min, n_steps=10)
    with pytest.raises(ValueError, match="burn_in must be smaller"):
        sgd(land, scheme, w_min, n_steps=10, burn_in=10)
    with pytest.raises(ValueError, match="n_steps must be a whole number"):
        sgd(land, scheme, w_min, n_steps=0)
    with pytest.raises(ValueError, match=r"w0 must have shape \(7,\)"):
        sgd(land, scheme, w_min[:3], n_steps=10)
    with pytest.raises(ValueError, match="w0 must be finite"):
        sgd(land, scheme, np.full(7, np.nan), n_steps=10)
    with pytest.raises(ValueError, match="n_chains=3 does not match w0"):
        sgd(land, scheme, np.tile(w_min, (2, 1)), n_steps=10, n_chains=3)
    with pytest.raises(ValueError, match="max_record_bytes"):
        sgd(land, scheme, w_min, n_steps=10_000, max_record_bytes=1000)
    with pytest.raises(TypeError, match="rng must be"):
        sgd(land, scheme, w_min, n_steps=10, rng="seed")
    with pytest.raises(ValueError, match="must divide n_samples"):
        sgd_batches(fp.SGD(learning_rate=1e-7, batch_size=7, scheme="without_replacement"), 200, 5, 0)


@pytest.mark.slow
def test_custom_model_kernel_matches_builtin():
    """A CustomModel compiles its own stepping kernel (about 10 s); it must agree with the built-in."""

    @numba.njit
    def line(w, x, params, grad, hess, order):
        if order >= 1:
            grad[0] = x[0]
            grad[1] = 1.0
        return w[0] * x[0] + w[1]

    rng = np.random.default_rng(2)
    x = rng.normal(size=40)
    y = 0.5 * x - 0.2 + 0.3 * rng.normal(size=40)
    custom = fp.Landscape(fp.models.CustomModel(line, n_params=2), x, y, noise_std=0.3)
    builtin = fp.Landscape(fp.models.LinearRegression(), x, y, noise_std=0.3)
    scheme = fp.SGD(learning_rate=1e-4, batch_size=8, scheme="without_replacement", temperature=0.1)
    a = sgd(custom, scheme, [0.0, 0.0], n_steps=500, n_chains=2, rng=SEED)
    b = sgd(builtin, scheme, [0.0, 0.0], n_steps=500, n_chains=2, rng=SEED)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-12, atol=1e-14)
