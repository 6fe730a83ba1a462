"""Plot: relative variance error against ηH, log-log, simulation and exact formulas."""

from __future__ import annotations

import numpy as np

from .run import METHODS

LABELS = {"full_batch": "full-batch Langevin", "sgld": "SGLD", "sgworld": "SGWORLD"}


def plot(data: dict, derived: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for i, m in enumerate(METHODS):
        line, = ax.loglog(derived["formula_eta_h"], derived["formula"][i], "--", lw=1,
                          label=f"{LABELS[m]} (exact)")
        H = data["hessian"]
        err = np.abs(derived["measured"][i])
        ax.errorbar(data["eta_h"], err, yerr=data["variance_se"][i] * H, fmt="o",
                    color=line.get_color(), label=f"{LABELS[m]} (simulated)")
    ax.set_xlabel("ηH")
    ax.set_ylabel("relative variance error |V H − 1|")
    ax.set_title("Gaussian-mean posterior: SGLD vs SGWORLD")
    ax.legend(fontsize=8)
    return fig
