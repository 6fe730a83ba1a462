"""
SGWORLD against SGLD on a Gaussian posterior
============================================

Stochastic-gradient Langevin dynamics (SGLD: minibatch gradients plus injected noise at
temperature ``T = 1``) samples the posterior only as ``η → 0``; its stationary variance is off
by a relative ``η (Σ_B + H) / 2``, where ``Σ_B`` is the minibatch gradient noise. The same with
batches drawn without replacement (SGWORLD) cancels the minibatch noise to leading order: its
error is ``ηH/2 + η² Σ_B H (M + 1) / 6``.

The posterior of a Gaussian mean is exactly solvable, so the study compares the simulated
variances of full-batch Langevin, SGLD and SGWORLD with the exact discrete-time formulas at
several learning rates, fits their slopes, and measures SGWORLD's advantage. At the learning
rates one can simulate the second term of SGWORLD's error dominates, so the simulated advantage
is a factor of a few, growing like ``1/η``.

The study is ``validation/sgworld_vs_sgld/`` (``python -m validation.sgworld_vs_sgld
[--quick]`` from the repository root, or ``fpsolve validate [--quick] sgworld_vs_sgld``). Full
size: all 7 claims pass (see :doc:`/validation`). This page runs its quick variant.
"""

# %%
# The settings
# ------------
# The quick variant simulates three learning rates (``ηH`` = 0.02, 0.05, 0.1) with twenty times
# fewer steps than the full run.
import tempfile
from dataclasses import asdict, is_dataclass

from validation._runner import claims_table
from validation.sgworld_vs_sgld import CLAIM, run_study
from validation.sgworld_vs_sgld.settings import FULL, QUICK


def _as_dict(s):
    return asdict(s) if is_dataclass(s) else dict(s)


full, quick = _as_dict(FULL), _as_dict(QUICK)
print("claim:", CLAIM)
print("quick variant (full size in brackets):")
for name, value in quick.items():
    print(f"  {name} = {value!r}" + ("" if full[name] == value else f"   [{full[name]!r}]"))

# %%
# Running the quick variant
# -------------------------
# ``run_study`` writes the arrays (with version, seed and settings), the figures and
# ``report.md`` into ``out_dir`` and returns the claims it checked.
out_dir = tempfile.mkdtemp(prefix="fpsolve-sgworld_vs_sgld-")
result = run_study(quick=True, out_dir=out_dir, echo=lambda line: None)
print(f"{result.seconds:.1f} s of computation; files in {result.out_dir}")
figures = list(result.figures)

# %%
# The figures
# -----------
# The study's own figures, as it saved them.
import matplotlib.pyplot as plt

for path in figures:
    image = plt.imread(path)
    fig = plt.figure(figsize=(image.shape[1] / 110, image.shape[0] / 110), dpi=110)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(image)
    ax.set_axis_off()

# %%
# Claim against measurement
# -------------------------
# Every check of the quick run, with its target and tolerance (each tolerance is a named constant
# with its reason in ``validation/sgworld_vs_sgld/analyse.py``). The page fails to build if one
# fails.
print(claims_table(result.claims, markdown=False))
assert result.error is None, result.error
assert result.passed, [c.name for c in result.claims if not c.passed]
