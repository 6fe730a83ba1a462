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
CLAIM = ("Along real SGD trajectories projected on the top-k Hessian directions, with Δs from the linear "
         "chain fitted to the trajectory, the mean entropy production per step equals the chain's, "
         "⟨e^{−Δs}⟩ = 1 (integral FT) and ln P(Δs)/P(−Δs) = Δs (detailed FT, slope 1), for every k and "
         "window; with Δs from the Hessian-based chain, for k up to 10 at η = 0.5 (its departure grows with "
         "k and like η^2.2: a finding reported, not claimed, at k = 20).")
AREA_Z = 4.0  # stochastic area within 4 standard errors of the per-step circulation


def _z_rows(results: dict) -> list[tuple[str, str, str, float]]:
    """(k, window, form, max |z|) for every claimed row of analyse.summarise (same formulas)."""
    from . import analyse

    rows = []
    for k, row in results["per_k"].items():
        for w in row["windows"]:
            for form in analyse.FORMS:
                if analyse.claimed(results, k, form):
                    z = [abs(v) for v in analyse.deviations(results, k, w, form) if v == v]
                    rows.append((k, w, form, float(max(z))))
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
        below(f"k={k}, window={w}, {analyse.FORMS[form]}: max |z|", "mean Δs, integral and detailed FT", z,
              analyse.STAT_Z, "standard errors") for k, w, form, z in _z_rows(results)]
    for k, row in results["per_k"].items():
        a = row["area"]
        claims.append(below(f"k={k}: stochastic area |z|", "area = per-step circulation Q₁₂",
                            abs(a["value"] - a["circulation_discrete"]) / a["error"], AREA_Z, "standard errors"))
    result = StudyResult(STUDY, TITLE, quick, claims, out, seconds)
    write_report(result, CLAIM, "See validation/digits_ft/report.md for the method.\n\n" + text, meta)
    return result
