"""Run: linearised with/without-replacement states and SGD runs of both schemes from w*."""

from __future__ import annotations

import numpy as np

import fpsolve as fp

from .settings import Settings


def landscape(s: Settings) -> tuple[fp.Landscape, np.ndarray]:
    x, y, w_min = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhNet(hidden=s.hidden), x, y, noise_std=s.noise_std,
                        weight_decay=s.weight_decay)
    return land, land.minimize(w_min)


def schemes(eta: float, s: Settings) -> tuple[fp.SGD, fp.SGD]:
    wr = fp.SGD(learning_rate=eta, batch_size=s.batch_size, scheme="with_replacement")
    wor = fp.SGD(learning_rate=eta, batch_size=s.batch_size, scheme="without_replacement",
                 n_permutations=s.n_permutations)
    return wr, wor


def run(s: Settings) -> dict:
    land, w_star = landscape(s)
    lam = np.linalg.eigvalsh(land.hessian(w_star))
    d = len(w_star)
    lin_wr, lin_wor, mean_wor = (np.zeros((len(s.learning_rates), d, d)),
                                 np.zeros((len(s.learning_rates), d, d)), np.zeros((len(s.learning_rates), d)))
    for j, eta in enumerate(s.learning_rates):
        wr, wor = schemes(eta, s)
        lin_wr[j] = wr.linearized(land, w_star).covariance
        g = wor.linearized(land, w_star, rng=s.seed + j)
        lin_wor[j], mean_wor[j] = g.covariance, g.mean
    k = len(s.simulated_rates)
    sim_wr, sim_wor = np.zeros((k, d, d)), np.zeros((k, d, d))
    sim_mean_wr, sim_mean_wor = np.zeros((k, d)), np.zeros((k, d))
    n_epochs = np.zeros(k)
    for j, eta in enumerate(s.simulated_rates):
        wr, wor = schemes(eta, s)
        burn = int(s.burn_in_relaxations / (eta * lam[0]))
        burn -= burn % (land.n_samples // s.batch_size)  # whole epochs
        kw = dict(n_steps=s.n_steps, n_chains=s.n_chains, burn_in=burn, record_every=0, progress=False)
        a = fp.simulate.sgd(land, wr, w_star, rng=s.seed + 11 * j, **kw)
        b = fp.simulate.sgd(land, wor, w_star, rng=s.seed + 11 * j + 1, epoch_record_every=0, **kw)
        sim_wr[j], sim_mean_wr[j] = a.covariance(), a.mean()
        sim_wor[j], sim_mean_wor[j] = b.epoch_covariance(), b.epoch_mean()
        n_epochs[j] = float(np.sum(b.epoch_count))
    return {"w_star": w_star, "hessian_eigenvalues": lam, "learning_rates": np.array(s.learning_rates),
            "simulated_rates": np.array(s.simulated_rates), "linearized_cov_wr": lin_wr,
            "linearized_cov_wor": lin_wor, "linearized_mean_wor": mean_wor, "sim_cov_wr": sim_wr,
            "sim_cov_wor": sim_wor, "sim_mean_wr": sim_mean_wr, "sim_mean_wor": sim_mean_wor,
            "sim_epochs": n_epochs, "n_samples": land.n_samples}
