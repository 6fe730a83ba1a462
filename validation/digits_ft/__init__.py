"""The high-dimensional fluctuation-theorem check (softmax regression on the 8×8 digits).

This study was written as scripts (``run.py``, ``analyse.py``, ``plot.py``; see ``report.md``);
this module only adapts it to the suite: :func:`run_study` calls ``run.run``, writes the same
files as the scripts, and turns each (k, window) row of ``analyse.summarise`` into a claim (its
largest deviation in standard errors against ``analyse.STAT_Z``), plus the stochastic area of the
top pair against the circulation ``Q₁₂``.  Needs scikit-learn (``pip install -e ".[digits]"``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from .._runner import Claim, StudyResult, below, metadata, write_report

STUDY = "digits_ft"
TITLE = "Fluctuation theorems of SGD in 650 dimensions (softmax regression on the 8×8 digits)"
CLAIM = ("Along real SGD trajectories projected on the top-k Hessian directions, the mean entropy "
         "production per step equals the linear chain's, ⟨e^{−Δs}⟩ = 1 (integral FT) and "
         "ln P(Δs)/P(−Δs) = Δs (detailed FT, slope 1), for every k and window.")
AREA_Z = 4.0  # stochastic area within 4 standard errors of the per-step circulation


def _z_rows(results: dict) -> list[tuple[str, str, float]]:
    """(k, window, max |z|) with the deviations analyse.summarise tabulates (same formulas)."""
    rows = []
    for k, row in results["per_k"].items():
        for w, entry in row["windows"].items():
            disc = entry["discrete"]
            per_step, err = disc["mean"] / int(w), disc["error"] / int(w)
            z = [abs(per_step - row["chain_per_step"]) / err, abs(disc["ift"] - 1.0) / disc["ift_error"]]
            if disc["dft_status"] == "ok":
                z.append(abs(disc["dft_slope"] - 1.0) / disc["dft_slope_error"])
            rows.append((k, w, float(max(z))))
    return rows


def run_study(quick: bool = False, out_dir: str | Path = "fpsolve-validation/" + STUDY, echo=print) -> StudyResult:
    here = Path(__file__).resolve().parent
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    from . import analyse, run
    from .settings import SETTINGS

    settings = SETTINGS["quick" if quick else "full"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results, arrays = run.run(settings)
    seconds = time.perf_counter() - t0
    name = settings["name"]
    (out / f"results_{name}.json").write_text(json.dumps(results, indent=1, default=float))
    meta = metadata(STUDY, settings, settings["seed"])
    np.savez_compressed(out / f"results_{name}.npz", metadata=json.dumps(meta), **arrays)
    text, _ = analyse.summarise(results)
    (out / f"summary_{name}.md").write_text(text)
    claims: list[Claim] = [
        below(f"k={k}, window={w}: max |z|", "mean Δs, integral and detailed FT", z, analyse.STAT_Z,
              "standard errors") for k, w, z in _z_rows(results)]
    for k, row in results["per_k"].items():
        a = row["area"]
        claims.append(below(f"k={k}: stochastic area |z|", "area = per-step circulation Q₁₂",
                            abs(a["value"] - a["circulation_discrete"]) / a["error"], AREA_Z, "standard errors"))
    result = StudyResult(STUDY, TITLE, quick, claims, out, seconds)
    write_report(result, CLAIM, "See validation/digits_ft/report.md for the method.\n\n" + text, meta)
    return result
