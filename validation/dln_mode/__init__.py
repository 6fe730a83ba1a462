"""One mode of a deep linear network (docs/theory.md §5).

Depth 1: the grid solution against the closed form ``p(u) ∝ (σ_ε² + 2u²)^-(1 + B/(2η))`` and
against Langevin walkers of the same SDE.  Depths 1-3: real minibatch SGD on
``fp.models.DeepLinearMode(depth)`` against the grid solution of the balanced coordinate.
Without label noise, the collapse onto ``m``; with little, the diffusion's maximum before the
mode is learned, from the time evolution of a density started near ``s = 0``.
"""

from __future__ import annotations

from .._runner import study_runner
from . import analyse as _analyse
from . import plot as _plot
from . import run as _run
from .settings import FULL, QUICK

STUDY = "dln_mode"
TITLE = "One mode of a deep linear network: multiplicative noise, collapse, diffusion peak"
CLAIM = ("At depth 1 the stationary law is p(u) ∝ (σ_ε² + 2u²)^-(1 + B/(2η)); deeper modes follow the "
         "same Fokker-Planck description; without label noise the law collapses onto m; and the "
         "gradient noise is largest before the mode is learned.")


def _body(data: dict, derived: dict, s) -> str:
    rows = "\n".join(f"| {dep} | {tv:.4f} | {fl:.4f} | {data[f'sgd_depth{dep}_imbalance']:.1e} |"
                     for dep, tv, fl in zip(data["depths"], data["sgd_tv"], data["sgd_floor"]))
    body = (f"Depth 1 through the SDE (η = {s.sde_learning_rate}, B = {s.sde_batch_size}, σ_ε = "
            f"{s.sde_label_noise}; {s.sde_cells} cells on ±{s.sde_half_width}): grid vs closed form TV "
            f"{data['sde_grid_tv']:.2e} (max relative error {data['sde_grid_max_rel']:.1e}); "
            f"{s.langevin_walkers} Langevin walkers (dt = {s.langevin_dt}) vs grid TV {data['sde_langevin_tv']:.4f} "
            f"against an effective noise floor {data['sde_langevin_floor']:.4f}.\n\n"
            f"Real SGD (iid batches of {s.batch_size}, η = {s.learning_rate_times_h}/H_a with H_a = depth the "
            f"curvature of the balanced coordinate, {s.sgd_chains} chains × "
            f"{s.sgd_steps} steps) on N = {s.n_data} whitened inputs, against the grid of the balanced "
            "coordinate a (every layer a, s = a^depth): the fields are the scheme's along the diagonal "
            "a_l = a, where all layers receive the same gradient, so the process stays balanced "
            "(imbalance column: max |a_l − a_1| over the samples).\n\n"
            "| depth | TV | noise floor | imbalance |\n|---|---|---|---|\n" + rows + "\n\n"
            f"The SGD runs are discrete (ηH_a = {s.learning_rate_times_h}): their O(ηH) bias must stay under the "
            "noise floor (at ηH_a = 0.02-0.06 a first try resolved it at depths 2 and 3).\n\n"
            f"σ_ε = 0: max |s − m| after {s.collapse_steps} steps from s = 1.3^depth m: "
            + ", ".join(f"{v:.1e}" for v in data["collapse_max_abs_s_minus_m"]) + ".\n\n"
            f"Evolution (depth {s.evolution_depth}, σ_ε = {s.evolution_label_noise}, from a ≈ {s.evolution_start}): "
            f"⟨D⟩ peaks at t = {derived['t_peak']:.2f}, ⟨s⟩ reaches 0.9 m at t = {derived['t_learned']:.2f}.\n\n"
            + _step_text(data))
    return body


def _step_text(data: dict) -> str:
    """The docs/theory.md §5 constants at depth > 1 against one exact SGD step."""
    rows = "\n".join(
        f"| {L} | {v:g} | {data['step_drift'][i, j]:.6g} | {data['step_drift_pred'][i, j]:.6g} | "
        f"{data['step_diffusion'][i, j] / data['step_diffusion_pred'][i, j]:.6f} | "
        f"{data['step_diffusion'][i, j] / data['step_diffusion_pred_p1'][i, j]:.4f} |"
        for i, L in enumerate(data["step_depths"]) for j, v in enumerate(data["step_strengths"]))
    return ("Constants at depth > 1 (docs/theory.md §5), from one SGD step in s = a^L taken exactly over the "
            "N samples (iid batch of one, η P = 1e-5 with P = L s^(2−2/L)): the drift is P (m − s) plus the "
            "Itô term (η/2) L (L − 1) a^(3L−4) E[r²]; the diffusion is (η/2) P² Var r — the preconditioner "
            "P enters squared (for Gaussian inputs D = (η/2B) P² (2(s − m)² + σ_ε²)), not once:\n\n"
            "| depth | s | drift measured | predicted | D / ((η/2) P² Var r) | D / ((η/2) P Var r) |\n"
            "|---|---|---|---|---|---|\n" + rows)


def _figures(data: dict, derived: dict, s) -> dict:
    return {"dln_mode": _plot.plot(data, derived)}


run_study = study_runner(STUDY, TITLE, CLAIM, FULL, QUICK, _run.run, _analyse.analyse,
                         _figures, _body)
