"""Renamed public names keep their old spelling for one release, with a DeprecationWarning."""

from __future__ import annotations

import numpy as np
import pytest

import fpsolve as fp


def ou1() -> fp.FokkerPlanck:
    return fp.FokkerPlanck(fp.Grid(-4, 4, 64), drift=lambda x: -x, diffusion=0.5)


def gaussian_mean_landscape(n=40, seed=7):
    y = np.random.default_rng(seed).normal(0.5, 1.0, n)
    return fp.Landscape(fp.models.GaussianMean(noise_std=1.0, prior_std=1.0), None, y)


def test_langevin_scheme_keyword_is_method():
    problem = ou1()
    new = fp.simulate.langevin(problem, 0.0, dt=0.01, n_steps=50, n_walkers=4, rng=3, method="heun")
    with pytest.warns(DeprecationWarning, match=r"langevin\(scheme=...\) is deprecated.*use method="):
        old = fp.simulate.langevin(problem, 0.0, dt=0.01, n_steps=50, n_walkers=4, rng=3, scheme="heun")
    np.testing.assert_array_equal(old.weights, new.weights)
    assert old.scheme == new.scheme == new.integrator == "heun" and new.sampler is None


def test_langevin_rejects_both_spellings():
    with pytest.raises(fp.FPSolveError, match="got both method= and its old name scheme="):
        fp.simulate.langevin(ou1(), 0.0, dt=0.01, n_steps=5, method="heun", scheme="heun")


def test_sgd_scheme_keyword_is_sgd():
    land = gaussian_mean_landscape()
    opt = fp.SGD(learning_rate=1e-3, batch_size=4, scheme="iid")
    new = fp.simulate.sgd(land, opt, [0.0], n_steps=30, rng=1)
    with pytest.warns(DeprecationWarning, match=r"sgd\(scheme=...\) is deprecated.*use sgd="):
        old = fp.simulate.sgd(land, scheme=opt, w0=[0.0], n_steps=30, rng=1)
    np.testing.assert_array_equal(old.weights, new.weights)
    assert new.sampler == "iid" and new.integrator is None
    with pytest.warns(DeprecationWarning, match=r"sgd_batches\(scheme=...\)"):
        batches = fp.simulate.sgd_batches(scheme=opt, n_samples=40, n_steps=5, rng=1)
    np.testing.assert_array_equal(batches, fp.simulate.sgd_batches(opt, 40, 5, 1))


@pytest.mark.parametrize(("old", "new"), [("SCHEMES", "METHODS"), ("Scheme", "Method")])
def test_simulate_schemes_alias(old, new):
    with pytest.warns(DeprecationWarning, match=f"fpsolve.simulate.{old} is deprecated: use fpsolve.simulate.{new}"):
        value = getattr(fp.simulate, old)
    assert value is getattr(fp.simulate, new)


def test_unknown_simulate_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        fp.simulate.nothing  # noqa: B018


def test_spectral_gap_still_unpacks_with_a_warning():
    result = fp.spectral_gap(ou1(), n_eigenvalues=3)
    with pytest.warns(DeprecationWarning, match=r"unpacking fp.spectral_gap\(...\).*use its .gap"):
        gap, eigenvalues = result
    assert gap == result.gap and eigenvalues is result.eigenvalues


def test_timing_is_called_seconds_everywhere():
    run = fp.simulate.langevin(ou1(), 0.0, dt=0.01, n_steps=20, n_walkers=2, rng=1)
    with pytest.warns(DeprecationWarning, match="Trajectory.wall_seconds is deprecated: use Trajectory.seconds"):
        assert run.wall_seconds == run.seconds > 0
    state = fp.stationary(ou1())
    assert state.seconds == state.info.total_seconds > 0
