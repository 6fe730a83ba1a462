"""Analyse: covariance, mean Δs per step, ⟨e^{−Δs}⟩ and the stochastic area against the linearised predictions."""

from __future__ import annotations

import numpy as np

from .._runner import Claim, below
from .settings import Settings

STAT_Z = 4.0   # within 4 standard errors


def analyse(d: dict, s: Settings) -> tuple[list[Claim], dict]:
    lam_min = float(d["hessian_eigenvalues"][0])
    # relative error of a covariance dominated by the softest mode: sqrt(2τ/n), τ = 1/(η λ_min) steps
    cov_se = float(np.sqrt(2.0 / (s.learning_rate * lam_min) / d["n_steps_total"]))
    C, Cs = d["lin_covariance"], d["sim_covariance"]
    cov_err = float(np.linalg.norm(Cs - C) / np.linalg.norm(C))
    claims: list[Claim] = [below("covariance: |C_sim − C_lin|_F / |C_lin|_F (in SE)",
                                 "SGD covariance = linearised Lyapunov solution", cov_err / cov_se, STAT_Z,
                                 f"SE {cov_se:.2g} (softest mode)")]
    derived = {"covariance_error": cov_err, "covariance_se": cov_se}
    for w in s.windows:
        m, e = d[f"ds_mean_w{w}"], d[f"ds_err_w{w}"]
        z_mean = abs(m / w - d["chain_per_step"]) / (e / w)
        z_ift = abs(d[f"ift_w{w}"] - 1.0) / d[f"ift_err_w{w}"]
        derived[f"z_mean_w{w}"], derived[f"z_ift_w{w}"] = z_mean, z_ift
        claims.append(below(f"{w}-step windows: mean Δs (z)", "mean Δs = linearised chain's", z_mean, STAT_Z,
                            "standard errors"))
        claims.append(below(f"{w}-step windows: ⟨e^-Δs⟩ − 1 (z)", "integral FT", z_ift, STAT_Z, "standard errors"))
    z_area = abs(d["area"] - d["circulation_discrete"]) / d["area_err"]
    derived["z_area"] = z_area
    claims.append(below("stochastic area (w1, w2) (z)", "area = circulation Q₁₂", z_area, STAT_Z, "standard errors"))
    return claims, derived
