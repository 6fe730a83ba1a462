"""
Without replacement: C ∝ η³ and a shifted minimum
=================================================

Drawing the batches without replacement (random reshuffling, ``M = N / b = 20`` batches an
epoch) changes both fields of the Fokker–Planck equation. The noise of one epoch is much
smaller (its leading term is ``O(η⁴)`` against ``O(η²)``), so the stationary covariance scales
like ``η³`` instead of ``η``; and the drift is the gradient of a modified loss ``L_WOR = L +
(η/4)|∇L|² + (η/4) k tr Σ₁``, so the stationary mean moves from the minimum ``w*`` of ``L`` to
the minimum of ``L_WOR``, by ``O(η)``.

The study fits the slopes of ``tr C`` against ``η`` for the linearised states and for real SGD
with and without replacement, checks the simulated traces against the linearised ones, and
checks that the simulated epoch mean sits at ``argmin L_WOR`` rather than at ``w*``.

The study is ``validation/adhikari2023_regression_wor/`` (``python -m
validation.adhikari2023_regression_wor [--quick]`` from the repository root, or ``fpsolve
validate [--quick] adhikari2023_regression_wor``). Full size: all 8 claims pass (see
:doc:`/validation`). This page runs its quick variant.
"""

# %%
# The settings
# ------------
# The quick variant simulates two learning rates (full size: three) with shorter chains and a
# smaller Monte Carlo sample of the epoch covariance.
from validation import _gallery

_gallery.describe("adhikari2023_regression_wor")

# %%
# Running the quick variant
# -------------------------
# ``run_study`` writes the arrays (with version, seed and settings), the figures and
# ``report.md`` into a temporary folder and returns the claims it checked.
result = _gallery.run_quick("adhikari2023_regression_wor")

# %%
# The figures
# -----------
# The study's own figures, as it saved them.
_gallery.show(result.figures)

# %%
# Claim against measurement
# -------------------------
# Every check of the quick run, with its target and tolerance (each tolerance is a named constant
# with its reason in ``validation/adhikari2023_regression_wor/analyse.py``). The page fails to
# build if one fails.
_gallery.check(result)
