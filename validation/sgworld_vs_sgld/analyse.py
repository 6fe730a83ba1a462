"""Analyse: simulated variances against the exact discrete-time formulas; slopes; the SGLD/SGWORLD ratio."""

from __future__ import annotations

import numpy as np

from .._runner import Claim, above, below, close, fit_slope
from .run import METHODS
from .settings import Settings

Z_MAX = 4.0          # simulated variance within 4 standard errors (spread over chains) of the formula
SLOPE_ATOL = 0.15    # fitted log-log slope within 0.15 of the formulas' slope over the same η (noise, 3-4 points)
RATIO_MIN = 50.0     # "orders of magnitude": SGLD's error at least 50× SGWORLD's at ηH = 1e-5 (M + 1 = 101 in the limit)


def sgld_variance(eta: float, H: float, sigma_B: float, T: float = 1.0) -> float:
    """Exact stationary variance of ``δ' = (1 − ηH) δ − η e + sqrt(2ηT) ξ``, independent batch noise."""
    return (2 * eta * T + eta**2 * sigma_B) / (2 * eta * H - eta**2 * H**2)


def sgworld_variance(eta: float, H: float, sigma_B: float, M: int, T: float = 1.0) -> float:
    """Step-averaged stationary variance of the same recursion when the ``M`` batch errors of one
    epoch are exchangeable, of variance ``Σ_B``, and sum to zero (batches without replacement)."""
    a = 1.0 - eta * H
    Ce = sigma_B * M / (M - 1) * (np.eye(M) - np.ones((M, M)) / M)

    def added(j: int) -> float:  # variance added by the first j steps of an epoch started at δ = 0
        u = np.zeros(M)
        u[:j] = a ** (j - 1 - np.arange(j))
        return eta**2 * u @ Ce @ u + 2 * eta * T * np.sum(a ** (2 * np.arange(j)))

    V0 = added(M) / (1 - a ** (2 * M))
    return float(np.mean([a ** (2 * j) * V0 + added(j) for j in range(1, M + 1)]))


def exact_relative_errors(eta_h, H: float, sigma1: float, s: Settings) -> np.ndarray:
    """Relative variance error ``V H_post − 1`` (posterior variance ``1/H``) per method and ηH."""
    N, b = s.n_samples, s.batch_size
    sigma_B = (N - b) / (b * (N - 1)) * sigma1
    out = np.zeros((len(METHODS), len(eta_h)))
    for j, eh in enumerate(eta_h):
        eta = eh / H
        out[0, j] = sgld_variance(eta, H, 0.0, s.temperature) * H - 1
        out[1, j] = sgld_variance(eta, H, sigma_B, s.temperature) * H - 1
        out[2, j] = sgworld_variance(eta, H, sigma_B, N // b, s.temperature) * H - 1
    return out


def analyse(data: dict, s: Settings) -> tuple[list[Claim], dict]:
    H, sigma1 = data["hessian"], data["sigma1"]
    eta_h = np.asarray(s.eta_h)
    exact = exact_relative_errors(eta_h, H, sigma1, s)
    formula = exact_relative_errors(np.asarray(s.eta_h_formula), H, sigma1, s)
    measured = data["variance"] * H - 1
    z = np.abs(data["variance"] - (exact + 1) / H) / data["variance_se"]
    claims: list[Claim] = []
    for i, m in enumerate(METHODS):
        claims.append(below(f"{m}: max z vs exact", f"simulated {m} variance = exact discrete formula",
                            float(z[i].max()), Z_MAX, "standard errors"))
    for i, m in ((1, "sgld"), (2, "sgworld")):
        slope, _ = fit_slope(eta_h, measured[i])
        target, _ = fit_slope(eta_h, exact[i])
        claims.append(close(f"{m}: slope d log err / d log η", f"{m} error grows like the formula's power of η",
                            slope, target, atol=SLOPE_ATOL))
    ratio_sim = measured[1, 0] / measured[2, 0]
    claims.append(above("sim: SGLD/SGWORLD error at smallest η", "SGWORLD closer to the posterior at equal η",
                        float(ratio_sim), 1.0, f"at ηH = {eta_h[0]:g}"))
    ratio = formula[1, 0] / formula[2, 0]
    claims.append(above("exact: SGLD/SGWORLD error at ηH=1e-5", "SGWORLD orders of magnitude closer",
                        float(ratio), RATIO_MIN, f"M + 1 = {s.n_samples // s.batch_size + 1} in the limit"))
    return claims, {"exact": exact, "measured": measured, "z": z, "formula": formula,
                    "formula_eta_h": np.asarray(s.eta_h_formula)}
