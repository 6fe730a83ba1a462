"""Plot: depth-1 closed form, SGD histograms against the grid, the diffusion peak."""

from __future__ import annotations

import numpy as np


def plot(d: dict, derived: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    ax.semilogy(d["sde_u"], d["sde_exact"], "k-", lw=3, alpha=0.4, label="closed form")
    ax.semilogy(d["sde_u"], d["sde_grid"], "C0--", label="grid")
    ax.set_xlabel("u = s − m"); ax.set_ylabel("p(u)"); ax.set_title("depth 1: power-law stationary density")
    ax.legend()
    ax = axes[1]
    for i, depth in enumerate(d["depths"]):
        a = d[f"sgd_depth{depth}_a"]
        ax.plot(a, d[f"sgd_depth{depth}_grid"], f"C{i}-", label=f"grid, depth {depth}")
        ax.plot(a, d[f"sgd_depth{depth}_hist"], f"C{i}.", ms=3, label=f"SGD, depth {depth}")
    ax.set_xlabel("balanced layer weight a (s = a^depth)"); ax.set_title("real SGD vs grid"); ax.legend(fontsize=7)
    ax = axes[2]
    t = d["evo_times"]
    ax.plot(t, d["evo_mean_diffusion"] / np.max(d["evo_mean_diffusion"]), label="⟨D⟩ / max")
    ax.plot(t, d["evo_mean_s"], label="⟨s⟩ / m")
    ax.axvline(derived["t_peak"], color="k", ls=":", lw=1)
    ax.set_xlabel("SDE time"); ax.set_title("learning from s ≈ 0: the diffusion peaks first"); ax.legend()
    fig.tight_layout()
    return fig
