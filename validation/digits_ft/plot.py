"""Figures of the digits check from ``results_<name>.npz`` / ``.json``.

    python validation/digits_ft/plot.py [--quick] [--out DIR]

``dft_<name>.png``: ``ln P(Δs)/P(−Δs)`` against ``Δs`` (discrete form, one-step windows) for each
k with the line of slope 1; ``sigma_<name>.png``: measured mean ``Δs`` per step against k with
the exact chain and continuous predictions.
"""

from __future__ import annotations

import json

import numpy as np



def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from settings import parse_variant  # run as a script: its folder is on sys.path

    args = parse_variant(__doc__.splitlines()[0])
    name = "quick" if args.quick else args.variant
    results = json.loads((args.out / f"results_{name}.json").read_text())
    arrays = np.load(args.out / f"results_{name}.npz")
    window = str(max(int(w) for w in results["settings"]["windows"]))

    fig, ax = plt.subplots(figsize=(5.4, 4.4))
    top = 0.0
    for i, k in enumerate(results["per_k"]):
        tag = f"k{k}_w{window}_discrete"
        x, y, e = arrays[f"{tag}_dft_x"], arrays[f"{tag}_dft_y"], arrays[f"{tag}_dft_err"]
        if len(x):
            ax.errorbar(x, y, yerr=e, fmt="o", ms=3, color=f"C{i}", label=f"k = {k}")
            top = max(top, float(x.max()))
    s = np.linspace(0, top * 1.05 if top > 0 else 1.0, 50)
    ax.plot(s, s, "k--", lw=1, label="slope 1")
    ax.set_xlabel(r"$\Delta s$")
    ax.set_ylabel(r"$\ln P(\Delta s)/P(-\Delta s)$")
    ax.set_title(f"digits, softmax SGD, windows of {window} steps")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / f"dft_{name}.png", dpi=120)

    ks = [int(k) for k in results["per_k"]]
    rows = [results["per_k"][str(k)] for k in ks]
    meas = [r["windows"]["1"]["discrete"]["mean"] for r in rows]
    err = [r["windows"]["1"]["discrete"]["error"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.4, 4.2))
    ax.errorbar(ks, meas, yerr=err, fmt="o", color="C0", label="SGD, measured")
    ax.plot(ks, [r["chain_per_step"] for r in rows], "s--", color="C3", mfc="none", label="linear chain (exact)")
    ax.plot(ks, [r["sigma_per_step"] for r in rows], "^:", color="C2", mfc="none", label=r"continuous $\sigma\eta$")
    ax.set_yscale("log")
    ax.set_xlabel("k (top Hessian directions kept)")
    ax.set_ylabel(r"mean $\Delta s$ per step")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / f"sigma_{name}.png", dpi=120)
    print(f"wrote {args.out}/dft_{name}.png, sigma_{name}.png")


if __name__ == "__main__":
    main()
