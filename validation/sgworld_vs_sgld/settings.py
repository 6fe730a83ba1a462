"""Settings: the Gaussian-mean posterior (docs/theory.md §2, "An exactly solvable case")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    n_samples: int = 1000          # data points x_i ~ N(theta_true, noise_std²)
    theta_true: float = 1.0
    noise_std: float = 1.0
    prior_std: float = 10.0
    batch_size: int = 10           # M = N / b = 100 batches per epoch
    temperature: float = 1.0       # T = 1 samples the posterior
    eta_h: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1)   # simulated learning rates, as ηH
    eta_h_formula: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # exact formulas only
    steps_times_eta_h: float = 2e6  # steps per (method, η), all chains: this / ηH
    full_batch_steps_times_eta_h: float = 2e5  # full batch costs N sample gradients a step
    n_chains: int = 8
    burn_in_relaxations: float = 20.0   # burn-in of 20 / ηH steps per chain
    seed: int = 20231


FULL = Settings()
QUICK = Settings(eta_h=(0.02, 0.05, 0.1), steps_times_eta_h=1e5, full_batch_steps_times_eta_h=1e4)
