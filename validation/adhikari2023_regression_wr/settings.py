"""Settings: the 7-parameter network at η = 1e-7, b = 10 (docs/theory.md §6)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    hidden: int = 2
    noise_std: float = 0.1
    weight_decay: float = 1e-3
    learning_rate: float = 1e-7
    batch_size: int = 10
    # the covariance run: the paper's 3·10⁷ steps, streaming moments (nothing recorded)
    n_steps: int = 30_000_000
    n_chains: int = 2
    burn_in: int = 4_000_000        # 20 relaxation times 1/(η λ_min) of the softest direction
    # the entropy-production run, continuing the n_chains chains: every step recorded (7 doubles a step a chain)
    ep_steps: int = 2_000_000
    windows: tuple[int, ...] = (1, 2, 3)   # SGD steps per window
    seed: int = 7


FULL = Settings()
QUICK = Settings(n_steps=6_000_000, ep_steps=300_000, burn_in=2_000_000)
