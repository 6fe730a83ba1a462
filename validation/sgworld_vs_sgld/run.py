"""Run: full-batch Langevin, SGLD and SGWORLD on the Gaussian mean at each learning rate."""

from __future__ import annotations

import numpy as np

import fpsolve as fp

from .settings import Settings

METHODS = ("full_batch", "sgld", "sgworld")


def landscape(s: Settings) -> fp.Landscape:
    rng = np.random.default_rng(s.seed)
    y = rng.normal(s.theta_true, s.noise_std, s.n_samples)
    return fp.Landscape(fp.models.GaussianMean(s.noise_std, s.prior_std), None, y)


def scheme(method: str, eta: float, s: Settings) -> fp.SGD:
    if method == "full_batch":  # b = N: every step sees every sample, k = 0
        return fp.SGD(learning_rate=eta, batch_size=s.n_samples, temperature=s.temperature)
    sampler = "with_replacement" if method == "sgld" else "without_replacement"
    return fp.SGD(learning_rate=eta, batch_size=s.batch_size, scheme=sampler, temperature=s.temperature)


def run(s: Settings) -> dict:
    """Pooled stationary variance and its standard error (spread over chains) per method and η."""
    land = landscape(s)
    theta = land.minimize([0.0])
    H = float(land.hessian(theta)[0, 0])
    sigma1 = float(land.gradient_covariance(theta)[0, 0])
    var = np.zeros((len(METHODS), len(s.eta_h)))
    se = np.zeros_like(var)
    for i, method in enumerate(METHODS):
        for j, eh in enumerate(s.eta_h):
            eta = eh / H
            burn = int(s.burn_in_relaxations / eh)
            budget = s.full_batch_steps_times_eta_h if method == "full_batch" else s.steps_times_eta_h
            n = int(budget / eh / s.n_chains) + burn
            traj = fp.simulate.sgd(land, scheme(method, eta, s), theta, n_steps=n, n_chains=s.n_chains,
                                   burn_in=burn, record_every=0, rng=s.seed + 7 * j + i, progress=False)
            per_chain = traj.chain_m2[:, 0, 0] / (traj.count - 1)
            var[i, j] = traj.covariance()[0, 0]
            se[i, j] = per_chain.std(ddof=1) / np.sqrt(len(per_chain))
    return {"theta": float(theta[0]), "hessian": H, "sigma1": sigma1, "variance": var, "variance_se": se,
            "eta_h": np.array(s.eta_h)}
