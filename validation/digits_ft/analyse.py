"""Tabulate ``results_<name>.json``: measured against predicted, with the deviation in standard errors.

    python validation/digits_ft/analyse.py [--quick] [--out DIR]

Writes ``summary_<name>.md``.  Columns: k (projected dimensions), window (SGD steps), the
measured mean ``Δs`` per step against the exact per-step mean of the projected linear chain and
the continuous ``σ η``; ``⟨e^{−Δs}⟩`` of the discrete form; the detailed-FT slope; and ``z``,
the deviation in standard errors.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAT_Z = 4.0  # a deviation beyond 4 standard errors is flagged


def summarise(results: dict) -> tuple[str, dict]:
    lines = [
        f"settings: {results['settings']['name']}, η = {results['settings']['learning_rate']}, "
        f"b = {results['settings']['batch_size']}, {results['settings']['n_chains']} chains × "
        f"{results['settings']['n_steps'] - results['settings']['burn_in']} recorded steps; "
        f"d = {results['n_params']}, η λ_max = {results['eta_lambda_max']:.3f}, rank Σ₁ = "
        f"{results['rank_sigma1']}; fpsolve {results['version']}",
        "",
        "| k | window | ⟨Δs⟩/step measured | chain exact | σ η (continuous) | z (vs chain) "
        "| ⟨e^{−Δs}⟩ (discrete) | z | converged | DFT slope | z |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    flags = {}
    for k, row in results["per_k"].items():
        for w, entry in row["windows"].items():
            disc = entry["discrete"]
            wn = int(w)
            per_step = disc["mean"] / wn
            per_step_err = disc["error"] / wn
            z_mean = (per_step - row["chain_per_step"]) / per_step_err
            z_ift = (disc["ift"] - 1.0) / disc["ift_error"]
            z_dft = ((disc["dft_slope"] - 1.0) / disc["dft_slope_error"]
                     if disc["dft_status"] == "ok" else float("nan"))
            flags[(k, w)] = max(abs(z_mean), abs(z_ift), abs(z_dft) if z_dft == z_dft else 0.0) > STAT_Z
            lines.append(
                f"| {k} | {w} | {per_step:.4g} ± {per_step_err:.2g} | {row['chain_per_step']:.4g} | "
                f"{row['sigma_per_step']:.4g} | {z_mean:+.1f} | {disc['ift']:.5f} ± {disc['ift_error']:.2g} | "
                f"{z_ift:+.1f} | {disc['ift_converged']} | {disc['dft_slope']:.3f} ± "
                f"{disc['dft_slope_error']:.3f} | {z_dft:+.1f} |")
    lines += ["", "| k | stochastic area (top pair, per unit SDE time) | Q₁₂ continuous | Q₁₂ from the per-step covariance |",
              "|---|---|---|---|"]
    for k, row in results["per_k"].items():
        a = row["area"]
        lines.append(f"| {k} | {a['value']:.3g} ± {a['error']:.2g} | {a['circulation']:.3g} | "
                     f"{a['circulation_discrete']:.3g} |")
    cov = results["covariance_top"]
    lines += ["", "Variance along the top Hessian directions (first five): continuous Lyapunov "
              f"{[round(v, 6) for v in cov['continuous'][:5]]}, per-step discrete "
              f"{[round(v, 6) for v in cov['discrete'][:5]]}, SGD {[round(v, 6) for v in cov['sgd'][:5]]}."]
    return "\n".join(lines) + "\n", flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick variant (same as --variant quick)")
    parser.add_argument("--variant", choices=("full", "quick", "eta0.1"), default="full")
    parser.add_argument("--out", type=Path, default=HERE / "output")
    args = parser.parse_args()
    name = "quick" if args.quick else args.variant
    results = json.loads((args.out / f"results_{name}.json").read_text())
    text, flags = summarise(results)
    (args.out / f"summary_{name}.md").write_text(text)
    print(text)
    bad = [key for key, f in flags.items() if f]
    print("deviations beyond", STAT_Z, "standard errors:", bad or "none")


if __name__ == "__main__":
    main()
