"""Settings: the 7-parameter regression network of Adhikari et al. (2023), docs/theory.md §6."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    hidden: int = 2                  # TanhNet(hidden=2): the paper's w1..w7
    noise_std: float = 0.1
    weight_decay: float = 1e-3
    batch_size: int = 10             # M = 20 batches per epoch
    learning_rates: tuple[float, ...] = (1e-7, 3e-7, 1e-6)   # linearised states
    simulated_rates: tuple[float, ...] = (1e-7, 3e-7, 1e-6)  # SGD runs, with and without replacement
    n_steps: int = 30_000_000        # per chain, burn-in included: the paper's run length
    n_chains: int = 2
    burn_in_relaxations: float = 20.0  # burn-in 20 / (η λ_min) steps, λ_min the softest curvature
    n_permutations: int = 100_000    # Monte Carlo epoch covariance of the linearised WOR state
    seed: int = 2023


FULL = Settings()
QUICK = Settings(simulated_rates=(3e-7, 1e-6), n_steps=4_000_000, n_permutations=20_000)
