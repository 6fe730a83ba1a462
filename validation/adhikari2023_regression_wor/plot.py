"""Plot: covariance traces against η, with and without replacement."""

from __future__ import annotations


def plot(data: dict, derived: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    eta, etas = data["learning_rates"], data["simulated_rates"]
    ax.loglog(eta, derived["tr_lin_wr"], "-", color="C0", label="with replacement (linearised)")
    ax.loglog(eta, derived["tr_lin_wor"], "-", color="C1", label="without replacement (linearised)")
    ax.errorbar(etas, derived["tr_sim_wr"], yerr=derived["tr_sim_wr"] * derived["trace_rel_se"], fmt="o",
                color="C0", label="with replacement (SGD)")
    ax.errorbar(etas, derived["tr_sim_wor"], yerr=derived["tr_sim_wor"] * derived["trace_rel_se"], fmt="s",
                color="C1", label="without replacement (SGD, epoch ends)")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("tr C")
    ax.set_title("7-parameter network: C_WR ∝ η, C_WOR ∝ η³")
    ax.legend(fontsize=8)
    return fig
