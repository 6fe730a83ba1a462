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
from validation import _gallery

_gallery.describe("sgworld_vs_sgld")

# %%
# Running the quick variant
# -------------------------
# ``run_study`` writes the arrays (with version, seed and settings), the figures and
# ``report.md`` into a temporary folder and returns the claims it checked.
result = _gallery.run_quick("sgworld_vs_sgld")

# %%
# The figures
# -----------
# The study's own figures, as it saved them.
_gallery.show(result.figures)

# %%
# Claim against measurement
# -------------------------
# Every check of the quick run, with its target and tolerance (each tolerance is a named constant
# with its reason in ``validation/sgworld_vs_sgld/analyse.py``). The page fails to build if one
# fails.
_gallery.check(result)
