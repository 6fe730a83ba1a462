"""Analyse: agreement of grid and SGD against η, with and without replacement; the (η, b) diagram."""

from __future__ import annotations

import numpy as np

from .._runner import Claim, above, below, close, fit_slope
from .settings import Settings

NOISE_FACTOR = 3.0       # a TV within 3 effective noise floors is sampling noise (fp.compare's criterion)
NON_GAUSSIAN_MIN = 0.02  # TV of the grid state to its own Gaussian: clearly non-Gaussian above 0.02
RATIO_SLOPE_ATOL = 0.3   # d log(C_WR / C_WOR) / d log η = 1 − 3 = −2, up to O(η λ M) corrections
COL = {"eta": 0, "eta_lambda_max": 1, "tv": 2, "tv_floor": 3, "kl": 4, "cov_err": 5, "tv_gauss": 6, "sigma": 7}


def analyse(d: dict, ds, s: Settings) -> tuple[list[Claim], dict]:
    wr, wor = d["wr_table"], d["wor_table"]
    r_wr = wr[:, COL["tv"]] / wr[:, COL["tv_floor"]]
    r_wor = wor[:, COL["tv"]] / wor[:, COL["tv_floor"]]
    claims: list[Claim] = [
        below(f"WR η={wr[0, 0]:g}: TV / floor", "grid = SGD where η λmax is small", float(r_wr[0]), NOISE_FACTOR,
              f"η λmax = {wr[0, 1]:.2f}"),
        below("WOR: max TV / floor", "WOR grid (epoch level) = SGD epoch ends", float(r_wor.max()), NOISE_FACTOR,
              ", ".join(f"η λmax = {v:.2f}" for v in wor[:, 1])),
        above(f"WR η={wr[-1, 0]:g}: TV to own Gaussian", "the state is visibly non-Gaussian",
              float(wr[-1, COL["tv_gauss"]]), NON_GAUSSIAN_MIN, ""),
        above(f"WR η={wr[-1, 0]:g}: TV / floor", "SGD departs from the first-order SDE as η grows",
              float(r_wr[-1]), NOISE_FACTOR, f"η λmax = {wr[-1, 1]:.2f}"),
    ]
    eta = np.asarray(ds["learning_rate"].values, float)
    keep = eta <= 1e-5   # η λmax M <= 0.4: the epoch map near the identity
    slopes = []
    for b in ds["batch_size"].values:
        ratio = 10 ** ds["log10_variance_ratio"].sel(batch_size=b).values
        slopes.append(fit_slope(eta[keep], ratio[keep])[0])
    claims.append(close("phase diagram: d log(C_WR/C_WOR)/d log η", "C_WR ∝ η against C_WOR ∝ η³ at every b",
                        float(np.mean(slopes)), -2.0, atol=RATIO_SLOPE_ATOL))
    return claims, {"ratio_slopes": np.array(slopes), "wr_tv_over_floor": r_wr, "wor_tv_over_floor": r_wor}
