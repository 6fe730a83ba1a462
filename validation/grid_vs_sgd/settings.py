"""Settings: a 2-parameter slice of the paper's network, grid against SGD (docs/theory.md §2, §6)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    noise_std: float = 0.1
    weight_decay: float = 1e-3
    batch_size: int = 10
    # with replacement: from η λmax ≈ 0.06 (SDE accurate) to 0.56 (non-Gaussian, SGD departs)
    wr_rates: tuple[float, ...] = (3e-5, 1e-4, 3e-4)
    wor_rates: tuple[float, ...] = (3e-6, 1e-5)   # η λmax M = 0.1, 0.37: the epoch map near identity
    cells: int = 64
    n_std: float = 9.0
    relaxations: float = 20_000.0   # SGD run length in relaxation times 1/(η λ_min) of the slice
    n_chains: int = 8
    # the (η, b) phase diagram of the WR-WOR difference (grid states only)
    sweep_rates: tuple[float, ...] = (1e-6, 3e-6, 1e-5, 3e-5)
    sweep_batches: tuple[int, ...] = (10, 20, 40)
    sweep_cells: int = 48
    seed: int = 44


FULL = Settings()
QUICK = Settings(wr_rates=(3e-5, 3e-4), wor_rates=(1e-5,), relaxations=3_000.0, n_chains=4, cells=48,
                 sweep_rates=(1e-6, 1e-5), sweep_batches=(10, 40), sweep_cells=32)
