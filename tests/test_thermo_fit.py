"""``LinearChain.fit``: the chain fitted to a trajectory, on an exactly linear Gaussian chain.

On data from a linear chain the fit recovers ``J`` and ``Σ`` to their sampling error, and the
fluctuation theorems must hold for ``Δs`` built from the fit on records it has not seen.
"""

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.thermo import LinearChain, ThermoError

SEED = 20261202
N_CHAINS, N_STEPS = 16, 20_000  # 320 000 pairs per half: parameter errors ~ 1/sqrt(pairs) ~ 2e-3
FIT_ATOL = 0.01  # |Ĵ − J| and |Σ̂ − Σ|/|Σ| entrywise: five-odd standard errors of the fit
STAT_Z = 4.0  # fluctuation theorems and the mean Δs on the held-out half, in standard errors


@pytest.fixture(scope="module")
def chain_and_paths():
    # irreversible: a rotation in the drift and anisotropic noise, so Δs has a positive mean
    c, s = np.cos(0.1), np.sin(0.1)
    J = 0.8 * np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 0.9]])
    S = np.array([[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 0.8]])
    chain = LinearChain(J, S, mean=np.array([1.0, -2.0, 0.5]))
    return chain, chain.simulate(2 * N_STEPS, N_CHAINS, rng=SEED)


def test_fit_recovers_the_chain(chain_and_paths):
    chain, paths = chain_and_paths
    fit = LinearChain.fit(paths[:, :N_STEPS], dt=0.1)
    np.testing.assert_allclose(fit.transition, chain.transition, atol=FIT_ATOL)
    np.testing.assert_allclose(fit.noise_covariance, chain.noise_covariance,
                               atol=FIT_ATOL * np.abs(chain.noise_covariance).max())
    np.testing.assert_allclose(fit.mean, chain.mean, atol=FIT_ATOL * 10)  # the mean: slowest to converge
    assert fit.dt == 0.1
    assert fit.entropy_production_per_step == pytest.approx(chain.entropy_production_per_step, rel=0.05)


@pytest.mark.parametrize("window", [1, 3])
def test_fluctuation_theorems_hold_for_the_fit_on_held_out_records(chain_and_paths, window):
    chain, paths = chain_and_paths
    fit = LinearChain.fit(paths[:, :N_STEPS])
    ds = fp.thermo.entropy_production(paths[:, N_STEPS:], fit, window=window, dt=1.0)
    ift = fp.thermo.integral_ft(ds)
    assert ift.converged
    assert abs(ift.value - 1.0) < STAT_Z * ift.standard_error
    dft = fp.thermo.detailed_ft(ds)
    assert abs(dft.slope - 1.0) < STAT_Z * dft.slope_error
    mean, err = ds.mean()
    assert abs(mean - window * fit.entropy_production_per_step) < STAT_Z * err


def test_fit_rejects_bad_trajectories():
    with pytest.raises(ThermoError, match=r"trajectory must be an array \(n_walkers, n_records, d\); got shape \(5,\)"):
        LinearChain.fit(np.zeros(5))
    bad = np.random.default_rng(0).standard_normal((2, 50, 2))
    bad[1, 10, 0] = np.nan
    with pytest.raises(ThermoError, match="trajectory must be finite"):
        LinearChain.fit(bad)
    with pytest.raises(ThermoError, match="trajectory has 3 pairs of successive records; fitting a 2-dimensional chain"):
        LinearChain.fit(np.random.default_rng(0).standard_normal((1, 4, 2)))
