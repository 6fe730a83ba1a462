"""Tabulate ``results_<name>.json``: measured against predicted, with the deviation in standard errors.

    python validation/digits_ft/analyse.py [--quick] [--out DIR]

Writes ``summary_<name>.md``.  Columns: k (projected dimensions), window (SGD steps), the
form (the Hessian-based chain or the chain fitted to the trajectory), whether the study claims
the theorems there, the measured mean ``Δs`` per step against the chain's exact per-step mean;
``⟨e^{−Δs}⟩``; its Gaussian prediction from SGD's measured moments; the detailed-FT slope; and
``z``, the deviation in standard errors.
"""

from __future__ import annotations

import json

STAT_Z = 4.0  # a deviation beyond 4 standard errors is flagged


FORMS = {"discrete": "Hessian chain", "fitted": "fitted chain"}


def claimed(results: dict, k: str, form: str) -> bool:
    """Whether the study claims the FTs for this (k, form): the Hessian-based chain for
    ``settings["hessian_ks"]`` (its regime), the fitted chain for ``settings["fitted_ks"]``
    (where the records fix its k² parameters)."""
    s = results["settings"]
    return int(k) in s.get("hessian_ks" if form == "discrete" else "fitted_ks", s["ks"])


def deviations(results: dict, k: str, window: str, form: str) -> tuple[float, float, float]:
    """z of the mean Δs per step (against the chain's exact value), of ⟨e^{−Δs}⟩ − 1, of the DFT slope − 1."""
    row, entry = results["per_k"][k], results["per_k"][k]["windows"][window][form]
    exact = row["chain_per_step"] if form == "discrete" else row["fitted_per_step"]
    wn = int(window)
    z_mean = (entry["mean"] / wn - exact) / (entry["error"] / wn)
    z_ift = (entry["ift"] - 1.0) / entry["ift_error"]
    z_dft = ((entry["dft_slope"] - 1.0) / entry["dft_slope_error"] if entry["dft_status"] == "ok" else float("nan"))
    return z_mean, z_ift, z_dft


def summarise(results: dict) -> tuple[str, dict]:
    lines = [
        f"settings: {results['settings']['name']}, η = {results['settings']['learning_rate']}, "
        f"b = {results['settings']['batch_size']}, {results['settings']['n_chains']} chains × "
        f"{results['settings']['n_steps'] - results['settings']['burn_in']} recorded steps; "
        f"d = {results['n_params']}, η λ_max = {results['eta_lambda_max']:.3f}, rank Σ₁ = "
        f"{results['rank_sigma1']}; fpsolve {results['version']}",
        "",
        "Hessian chain: `J = I − ηΛ_k`, `Σ = 2ηV_kᵀDV_k` at the minimum, on every record; fitted chain: "
        "`LinearChain.fit` on the first half of each chain's records, evaluated on the second half. "
        "Gaussian prediction: ⟨e^{−Δs}⟩ for a Gaussian process with SGD's measured mean and lag covariances. "
        "Claimed: marked *yes* (the Hessian chain for k in "
        f"{list(results['settings'].get('hessian_ks', results['settings']['ks']))}, the fitted chain for k in "
        f"{list(results['settings'].get('fitted_ks', results['settings']['ks']))}).",
        "",
        "| k | window | form | claimed | ⟨Δs⟩/step measured | chain exact | z | ⟨e^{−Δs}⟩ | z "
        "| Gaussian prediction | DFT slope | z |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    flags = {}
    for k, row in results["per_k"].items():
        for w, entry in row["windows"].items():
            for form, label in FORMS.items():
                if form not in entry:
                    continue
                e = entry[form]
                z_mean, z_ift, z_dft = deviations(results, k, w, form)
                yes = claimed(results, k, form)
                if yes:
                    flags[(k, w, form)] = max(abs(z_mean), abs(z_ift), abs(z_dft) if z_dft == z_dft else 0.0) > STAT_Z
                exact = row["chain_per_step"] if form == "discrete" else row["fitted_per_step"]
                wn = int(w)
                lines.append(
                    f"| {k} | {w} | {label} | {'yes' if yes else 'no'} | {e['mean'] / wn:.4g} ± {e['error'] / wn:.2g} | "
                    f"{exact:.4g} | {z_mean:+.1f} | {e['ift']:.5f} ± {e['ift_error']:.2g} | {z_ift:+.1f} | "
                    f"{e.get('gauss_pred', float('nan')):.5f} | {e['dft_slope']:.3f} ± {e['dft_slope_error']:.3f} | "
                    f"{z_dft:+.1f} |")
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
    from settings import parse_variant  # run as a script: its folder is on sys.path

    args = parse_variant(__doc__.splitlines()[0])
    name = "quick" if args.quick else args.variant
    results = json.loads((args.out / f"results_{name}.json").read_text())
    text, flags = summarise(results)
    (args.out / f"summary_{name}.md").write_text(text)
    print(text)
    bad = [key for key, f in flags.items() if f]
    print("deviations beyond", STAT_Z, "standard errors:", bad or "none")


if __name__ == "__main__":
    main()
