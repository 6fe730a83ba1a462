"""Run: the linearised state, a long SGD run for the covariance, a recorded run for Δs and the area."""

from __future__ import annotations

import numpy as np

import fpsolve as fp

from .settings import Settings


def run(s: Settings) -> dict:
    x, y, w_min = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhNet(hidden=s.hidden), x, y, noise_std=s.noise_std,
                        weight_decay=s.weight_decay)
    w_star = land.minimize(w_min)
    sgd = fp.SGD(learning_rate=s.learning_rate, batch_size=s.batch_size)
    gauss = sgd.linearized(land, w_star)
    chain = fp.thermo.LinearChain.from_state(gauss)
    lam = np.linalg.eigvalsh(gauss.hessian)
    long = fp.simulate.sgd(land, sgd, w_star, n_steps=s.n_steps, n_chains=s.n_chains, burn_in=s.burn_in,
                           record_every=0, rng=s.seed, progress=False)
    # the recorded run starts from the end of the long one: already stationary
    rec = fp.simulate.sgd(land, sgd, long.final, n_steps=s.ep_steps, record_every=1, rng=s.seed + 1,
                          progress=False)
    out = {"w_star": w_star, "hessian_eigenvalues": lam, "lin_covariance": gauss.covariance,
           "lin_circulation": gauss.circulation, "sigma": gauss.entropy_production,
           "sigma_per_step": gauss.entropy_production * s.learning_rate,
           "chain_per_step": chain.entropy_production_per_step, "chain_covariance": chain.covariance,
           "sim_covariance": long.covariance(), "sim_mean": long.mean(), "n_steps_total": float(np.sum(long.count))}
    for w in s.windows:
        ds = fp.thermo.entropy_production(rec, chain, window=w)
        mean, err = ds.mean()
        ift = fp.thermo.integral_ft(ds)
        out[f"ds_mean_w{w}"], out[f"ds_err_w{w}"] = mean, err
        out[f"ift_w{w}"], out[f"ift_err_w{w}"] = ift.value, ift.standard_error
        out[f"ift_exact_w{w}"] = chain.integral_ft_exact(w)
    area = fp.thermo.stochastic_area(rec, (0, 1), center=w_star)
    H, Cc = gauss.hessian, chain.covariance
    out.update(area=area.value, area_err=area.standard_error,
               circulation_discrete=float(0.5 * (H @ Cc - Cc @ H)[0, 1]),
               circulation=float(gauss.circulation[0, 1]))
    return out
