"""Run: grid states of the (w1, w2) slice with and without replacement against real SGD on it."""

from __future__ import annotations

import numpy as np

import fpsolve as fp

from .settings import Settings


def slice_landscape(s: Settings) -> tuple[fp.Landscape, np.ndarray]:
    """The slice as its own 2-parameter landscape (``fp.diagrams.tanhnet_input_slice``): SGD on it
    moves (w1, w2) only, and its fields (L_WOR, the drift correction, Σ₁) are those of the slice."""
    land, w, _ = fp.diagrams.tanhnet_input_slice(s.noise_std, s.weight_decay)
    return land, w


def moment_gaussian_tv(state) -> float:
    """TV between the state's cell probabilities and the Gaussian with its mean and covariance."""
    grid = state.grid
    X = grid.mesh().reshape(grid.ndim, -1).T - state.mean()
    q = np.einsum("ni,ij,nj->n", X, np.linalg.inv(state.covariance()), X)
    g = np.exp(-0.5 * q).reshape(grid.shape)
    return 0.5 * float(np.abs(state.cell_probabilities() - g / g.sum()).sum())


def solve(land, w, sgd: fp.SGD, cells: int, n_std: float):
    grid = sgd.grid_around(land, w, n_std=n_std, shape=cells)
    centre = sgd.linearized(land, w).mean
    # the epoch-noise formula on the grid (Monte Carlo at every node would take hours); the
    # linearised state that places the grid keeps the scheme's own (Monte Carlo) estimate
    return fp.stationary(sgd.fokker_planck(land, grid, reference=centre, epoch_noise="leading_order"))


def run(s: Settings) -> dict:
    land, w = slice_landscape(s)
    lam_min = float(np.linalg.eigvalsh(land.hessian(w))[0])
    lam_max = float(np.linalg.eigvalsh(land.hessian(w))[-1])
    out: dict = {"w_star": w, "lambda_min": lam_min, "lambda_max": lam_max}
    for label, rates, sampler in (("wr", s.wr_rates, "with_replacement"), ("wor", s.wor_rates, "without_replacement")):
        rows = []
        for j, eta in enumerate(rates):
            sgd = fp.SGD(learning_rate=eta, batch_size=s.batch_size, scheme=sampler)
            state = solve(land, w, sgd, s.cells, s.n_std)
            steps = int(s.relaxations / (eta * lam_min))
            M = land.n_samples // s.batch_size
            if sampler == "with_replacement":
                kw = dict(record_every=max(1, steps // 20_000))
            else:  # the WOR Fokker-Planck equation describes the epoch ends
                steps -= steps % M
                kw = dict(record_every=0, epoch_record_every=max(1, steps // M // 20_000))
            run = fp.simulate.sgd(land, sgd, state.mean(), n_steps=steps, n_chains=s.n_chains,
                                  burn_in=(steps // 100) // M * M, rng=s.seed + j, progress=False, **kw)
            samples = run.samples() if sampler == "with_replacement" else run.epoch_weights.reshape(-1, 2)
            c = fp.compare(state, samples, bin_factor=2)
            # records are correlated: the effective floor scales with the effective sample size
            n_eff = run.effective_sample_size() if sampler == "with_replacement" else _epoch_ess(run, eta, lam_min, M)
            floor = fp.comparison.tv_noise_floor(_coarse(state.cell_probabilities()), n_eff)
            rows.append([eta, eta * lam_max, c.total_variation, floor, c.kl_samples_state, c.covariance_error,
                         moment_gaussian_tv(state), state.entropy_production, steps])
            out[f"{label}_density_{j}"] = state.density
            out[f"{label}_axes_{j}"] = np.stack(state.grid.axes)
            if j == len(rates) - 1 or j == 0:
                out[f"{label}_hist_{j}"] = np.histogram2d(samples[:, 0], samples[:, 1], bins=s.cells,
                                                          range=[[state.grid.lower[0], state.grid.upper[0]],
                                                                 [state.grid.lower[1], state.grid.upper[1]]],
                                                          density=True)[0]
        out[f"{label}_table"] = np.array(rows)
    out["table_columns"] = np.array(["eta", "eta_lambda_max", "tv", "tv_floor", "kl_samples_state",
                                     "covariance_error", "tv_to_gaussian", "entropy_production", "steps"])
    return out


def _coarse(p: np.ndarray) -> np.ndarray:
    n0, n1 = p.shape[0] // 2 * 2, p.shape[1] // 2 * 2
    return p[:n0, :n1].reshape(n0 // 2, 2, n1 // 2, 2).sum(axis=(1, 3))


def _epoch_ess(run, eta: float, lam_min: float, M: int) -> float:
    """Effective samples of the epoch-end records: records over the correlation time
    1/(M η λ_min) epochs (two of them per independent sample)."""
    n = run.epoch_weights.shape[0] * run.epoch_weights.shape[1]
    every = int(run.epoch_steps[1] - run.epoch_steps[0]) // M if len(run.epoch_steps) > 1 else 1
    tau_records = 1.0 / (M * eta * lam_min) / every
    return float(n / max(1.0, 2.0 * tau_records))


def phase_point(learning_rate: float, batch_size: int, cells: int = 48, n_std: float = 9.0,
                noise_std: float = 0.1, weight_decay: float = 1e-3) -> dict:
    """One point of the (η, b) diagram: grid states with and without replacement on the slice."""
    land, w = slice_landscape(_PhaseSettings(noise_std, weight_decay))
    wr = solve(land, w, fp.SGD(learning_rate=learning_rate, batch_size=batch_size), cells, n_std)
    wor = solve(land, w, fp.SGD(learning_rate=learning_rate, batch_size=batch_size,
                                scheme="without_replacement"), cells, n_std)
    return {"log10_variance_ratio": float(np.log10(np.trace(wr.covariance()) / np.trace(wor.covariance()))),
            "mean_shift": float(np.linalg.norm(wor.mean() - wr.mean())),
            "entropy_production_wr": float(wr.entropy_production),
            "entropy_production_wor": float(wor.entropy_production)}


phase_point.variables = {"log10_variance_ratio": {"long_name": "log10 tr C_WR / tr C_WOR", "units": ""},
                         "mean_shift": {"long_name": "|mean_WOR − mean_WR|", "units": ""}}


class _PhaseSettings:
    def __init__(self, noise_std: float, weight_decay: float) -> None:
        self.noise_std, self.weight_decay = noise_std, weight_decay


def phase_diagram(s: Settings, store=None):
    return fp.sweep(phase_point, {"learning_rate": list(s.sweep_rates), "batch_size": list(s.sweep_batches)},
                    store=store, executor="serial", progress=False,
                    settings={"cells": s.sweep_cells, "n_std": s.n_std, "noise_std": s.noise_std,
                              "weight_decay": s.weight_decay})
