"""Settings: one mode of a deep linear network (docs/theory.md §5)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    teacher: float = 1.0            # m
    # depth 1, closed form: p(u) ∝ (σ_ε² + 2u²)^-(1 + B/(2η)), heavy (power-law) tails at η/B = 0.1
    sde_learning_rate: float = 0.1
    sde_batch_size: int = 1
    sde_label_noise: float = 1.0
    sde_cells: int = 400
    sde_half_width: float = 4.0
    langevin_dt: float = 0.01
    langevin_walkers: int = 2000
    langevin_steps: int = 40_000
    # real SGD on fp.models.DeepLinearMode(depth) against the grid in the balanced coordinate a
    depths: tuple[int, ...] = (1, 2, 3)
    n_data: int = 20_000            # whitened Gaussian inputs, y = m x + σ_ε ε
    label_noise: float = 1.0
    learning_rate_times_h: float = 0.01   # η = 0.01 / H_a, H_a = depth the curvature of the balanced
    #                                       coordinate at a = 1: the O(ηH) bias of discrete SGD stays below the noise
    batch_size: int = 1             # iid batches: gradient noise Σ₁ / b exactly
    sgd_chains: int = 64
    sgd_steps: int = 400_000
    sgd_burn_in: int = 5_000
    sgd_record_every: int = 50
    grid_half_width_std: float = 12.0   # grid a* ± 12 linearised standard deviations (power-law tails)
    learning_rate: float = 0.02         # the σ_ε = 0 collapse and the evolution
    grid_cells: int = 200
    # σ_ε = 0: collapse onto m
    collapse_steps: int = 20_000
    # the diffusion maximum: time evolution from a density near s = 0 (depth 2)
    evolution_depth: int = 2
    evolution_start: float = 0.1    # a0, so s0 = a0² = 0.01
    evolution_label_noise: float = 0.1   # small σ_ε: the gradient noise 2(s − m)² dominates early
    evolution_time: float = 12.0
    # docs/theory.md §5 constants at depth > 1: one SGD step in s = a^L, exactly over the data
    step_depths: tuple[int, ...] = (2, 3)
    step_strengths: tuple[float, ...] = (0.25, 0.5, 2.0)
    step_learning_rate_times_p: float = 1e-5   # η P, P = L s^{2−2/L} the drift's preconditioner
    seed: int = 5


FULL = Settings()
QUICK = Settings(langevin_walkers=500, langevin_steps=20_000, depths=(1, 2), sgd_chains=16, sgd_steps=200_000,
                 sde_cells=200, grid_cells=120)
