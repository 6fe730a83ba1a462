"""Analyse: C_WR ∝ η, C_WOR ∝ η³ (linearised and simulated), and the WOR mean at the L_WOR minimum."""

from __future__ import annotations

import numpy as np

from .._runner import Claim, above, below, close, fit_slope
from .settings import Settings

SLOPE_LIN_ATOL = 0.05   # linearised traces: exact power laws up to O(ηH) and Monte Carlo (1e5 permutations)
SLOPE_SIM_ATOL = 0.3    # simulated traces: each carries the statistical error below; 2-3 points
STAT_FACTOR = 4.0       # a simulated trace within 4 estimated standard errors of the linearised one
MEAN_AT_WOR = 0.25      # |sim mean − argmin L_WOR| below a quarter of the shift |argmin L_WOR − w*|
MEAN_OFF_WSTAR = 0.75   # and |sim mean − w*| above three quarters of it


def trace_rel_se(eta: float, n_steps_total: float, lam_min: float) -> float:
    """Relative standard error of a covariance trace dominated by the softest mode: the variance of
    an AR(1) with correlation time τ = 1/(η λ_min) steps, estimated from n steps, is known to
    sqrt(2τ/n) (the epoch-level estimate has the same number of correlation times)."""
    return float(np.sqrt(2.0 / (eta * lam_min) / n_steps_total))


def analyse(data: dict, s: Settings) -> tuple[list[Claim], dict]:
    eta = data["learning_rates"]
    tr_wr = np.trace(data["linearized_cov_wr"], axis1=1, axis2=2)
    tr_wor = np.trace(data["linearized_cov_wor"], axis1=1, axis2=2)
    etas = data["simulated_rates"]
    sim_wr = np.trace(data["sim_cov_wr"], axis1=1, axis2=2)
    sim_wor = np.trace(data["sim_cov_wor"], axis1=1, axis2=2)
    idx = [int(np.argmin(np.abs(eta - e))) for e in etas]
    lam_min = float(data["hessian_eigenvalues"][0])
    claims: list[Claim] = [
        close("linearised C_WR slope", "C_WR ∝ η (linearised)", fit_slope(eta, tr_wr)[0], 1.0, atol=SLOPE_LIN_ATOL),
        close("linearised C_WOR slope", "C_WOR ∝ η³ (linearised)", fit_slope(eta, tr_wor)[0], 3.0, atol=SLOPE_LIN_ATOL),
    ]
    if len(etas) >= 2:
        claims += [close("simulated C_WR slope", "C_WR ∝ η (SGD)", fit_slope(etas, sim_wr)[0], 1.0, atol=SLOPE_SIM_ATOL),
                   close("simulated C_WOR slope", "C_WOR ∝ η³ (SGD, epoch ends)", fit_slope(etas, sim_wor)[0], 3.0,
                         atol=SLOPE_SIM_ATOL)]
    n_total = (s.n_steps - 0) * s.n_chains
    rel = {"wr": sim_wr / tr_wr[idx] - 1, "wor": sim_wor / tr_wor[idx] - 1}
    se = np.array([trace_rel_se(e, n_total, lam_min) for e in etas])
    for key, label in (("wr", "with"), ("wor", "without")):
        z = np.abs(rel[key]) / se
        claims.append(below(f"sim/linearised tr C_{key.upper()} (max z)",
                            f"SGD {label} replacement: covariance = linearised prediction", float(z.max()),
                            STAT_FACTOR, f"est. SE {se.min():.2g}-{se.max():.2g} rel."))
    shift = np.linalg.norm(data["linearized_mean_wor"][idx] - data["w_star"], axis=1)
    off_wor = np.linalg.norm(data["sim_mean_wor"] - data["linearized_mean_wor"][idx], axis=1) / shift
    off_star = np.linalg.norm(data["sim_mean_wor"] - data["w_star"], axis=1) / shift
    claims.append(below("WOR mean − argmin L_WOR (/ shift)", "WOR mean at the minimum of L_WOR",
                        float(off_wor.max()), MEAN_AT_WOR, "max over η"))
    claims.append(above("WOR mean − w* (/ shift)", "WOR mean not at w*", float(off_star.min()), MEAN_OFF_WSTAR,
                        "min over η"))
    derived = {"tr_lin_wr": tr_wr, "tr_lin_wor": tr_wor, "tr_sim_wr": sim_wr, "tr_sim_wor": sim_wor,
               "rel_wr": rel["wr"], "rel_wor": rel["wor"], "trace_rel_se": se, "wor_shift": shift,
               "wor_mean_offset": off_wor, "wor_mean_from_wstar": off_star}
    return claims, derived
