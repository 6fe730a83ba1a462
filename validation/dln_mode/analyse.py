"""Analyse: closed form, Langevin and SGD against the grid; the collapse; the diffusion maximum."""

from __future__ import annotations

import numpy as np

from .._runner import Claim, above, below
from .settings import Settings

GRID_TV_MAX = 1e-8       # 1-D reflecting states are the closed form at the centres up to round-off / truncation
NOISE_FACTOR = 3.0       # a TV within 3 effective noise floors is sampling noise (fp.compare's own criterion)
COLLAPSE_MAX = 1e-8      # σ_ε = 0: |s − m| after the run, at round-off scale compared with the start 0.3 m
LEARNED = 0.9            # "before the mode is learned": the peak of ⟨D⟩ comes before ⟨s⟩ reaches 0.9 m
PEAK_RATIO = 2.0         # and is at least twice the final ⟨D⟩ (a real maximum, not a plateau)
STEP_RTOL = 1e-3         # one exact SGD step at η P = 1e-5: the O(η P) remainders are ~1e-5 relative


def analyse(d: dict, s: Settings) -> tuple[list[Claim], dict]:
    claims: list[Claim] = [
        below("depth 1: grid vs closed form (TV)", "closed-form stationary density at depth 1",
              d["sde_grid_tv"], GRID_TV_MAX, "exact discrete state"),
        below("depth 1: Langevin vs grid (TV / floor)", "grid = simulated SDE",
              d["sde_langevin_tv"] / d["sde_langevin_floor"], NOISE_FACTOR, "effective noise floors"),
    ]
    for depth, tv, fl in zip(d["depths"], d["sgd_tv"], d["sgd_floor"]):
        claims.append(below(f"depth {depth}: SGD vs grid (TV / floor)", f"grid = real SGD at depth {depth}",
                            float(tv / fl), NOISE_FACTOR, "effective noise floors"))
    claims.append(below("σ_ε = 0: max |s − m| at the end", "collapse onto m without label noise",
                        float(np.max(d["collapse_max_abs_s_minus_m"])), COLLAPSE_MAX, "start at 1.3 m"))
    t, D, m = d["evo_times"], d["evo_mean_diffusion"], d["evo_mean_s"]
    i_peak = int(np.argmax(D))
    learned = np.flatnonzero(m >= LEARNED * s.teacher)
    t_learned = float(t[learned[0]]) if learned.size else float("inf")
    claims.append(below("time of ⟨D⟩ max / time ⟨s⟩ = 0.9 m", "diffusion peaks before the mode is learned",
                        float(t[i_peak] / t_learned), 1.0 - 1e-12, "strictly before"))
    claims.append(above("⟨D⟩ max / final ⟨D⟩", "a real maximum", float(D[i_peak] / D[-1]), PEAK_RATIO, ""))
    drift_err = np.abs(d["step_drift"] / d["step_drift_pred"] - 1.0)
    diff_err = np.abs(d["step_diffusion"] / d["step_diffusion_pred"] - 1.0)
    for i, L in enumerate(d["step_depths"]):
        claims.append(below(f"depth {L}: SGD step drift / (P (m − s) + Itô)", "§5 drift constant, P = L s^(2−2/L)",
                            float(drift_err[i].max()), STEP_RTOL, "rel., over s = " +
                            ", ".join(f"{v:g}" for v in d["step_strengths"])))
        claims.append(below(f"depth {L}: SGD step Var/(2η) / ((η/2) P² Var r)", "§5 diffusion constant (P squared)",
                            float(diff_err[i].max()), STEP_RTOL, "rel., over the same s"))
    return claims, {"t_peak": float(t[i_peak]), "t_learned": t_learned}
