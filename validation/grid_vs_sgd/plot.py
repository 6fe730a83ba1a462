"""Plot: grid densities against SGD histograms, agreement against η, the (η, b) phase diagram."""

from __future__ import annotations

import numpy as np


def plot_densities(d: dict):
    import matplotlib.pyplot as plt

    keys = [(lab, j) for lab in ("wr", "wor") for j in range(len(d[f"{lab}_table"])) if f"{lab}_hist_{j}" in d]
    fig, axes = plt.subplots(2, len(keys), figsize=(4 * len(keys), 7), squeeze=False)
    for col, (lab, j) in enumerate(keys):
        ax_ = d[f"{lab}_axes_{j}"]
        ext = [ax_[0][0], ax_[0][-1], ax_[1][0], ax_[1][-1]]
        eta = d[f"{lab}_table"][j, 0]
        axes[0, col].imshow(d[f"{lab}_density_{j}"].T, origin="lower", extent=ext, aspect="auto")
        axes[0, col].set_title(f"{lab.upper()} grid, η = {eta:g}")
        axes[1, col].imshow(d[f"{lab}_hist_{j}"].T, origin="lower", extent=ext, aspect="auto")
        axes[1, col].set_title(f"{lab.upper()} SGD histogram")
        axes[1, col].set_xlabel("w1")
    axes[0, 0].set_ylabel("w2"); axes[1, 0].set_ylabel("w2")
    fig.tight_layout()
    return fig


def plot_agreement(d: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for lab, m in (("wr", "o-"), ("wor", "s-")):
        t = d[f"{lab}_table"]
        ax.loglog(t[:, 1], t[:, 2], m, label=f"{lab.upper()}: TV(grid, SGD)")
        ax.loglog(t[:, 1], t[:, 3], m.replace("-", ":"), alpha=0.6, label=f"{lab.upper()}: noise floor")
    t = d["wr_table"]
    ax.loglog(t[:, 1], t[:, 6], "k^--", label="WR: TV(grid, own Gaussian)")
    ax.set_xlabel("η λmax"); ax.set_ylabel("total variation"); ax.legend(fontsize=7)
    ax.set_title("grid vs SGD on the (w1, w2) slice")
    return fig


def plot_phase(ds):
    import fpsolve as fp

    fig = fp.plot.phase_diagram(ds, "log10_variance_ratio", x="learning_rate", y="batch_size",
                                title="log10 tr C_WR / tr C_WOR (grid states)")
    return getattr(fig, "figure", fig)
