"""
Grid stationary states against real SGD on a slice of the network
=================================================================

The input weights ``(w1, w2)`` of the paper's network, the other five held at the minimum, make
a 2-parameter model of the same data. The grid solver gives its stationary states with
replacement and, at epoch level, without replacement; real minibatch SGD on the slice samples
them. Where ``η λmax`` is small the two agree to within the Monte Carlo noise floor (total
variation between binned samples and the grid); as ``η`` grows the state becomes visibly non-
Gaussian and SGD, a discrete map, departs from the first-order equation. A small ``fp.sweep``
phase diagram over ``(η, b)`` checks ``C_WR / C_WOR ∝ η⁻²``.

The study is ``validation/grid_vs_sgd/`` (``python -m validation.grid_vs_sgd [--quick]`` from
the repository root, or ``fpsolve validate [--quick] grid_vs_sgd``). Full size: all 5 claims
pass (with replacement at η λmax = 0.56: TV 11 noise floors, the expected departure) (see
:doc:`/validation`). This page runs its quick variant.
"""

# %%
# The settings
# ------------
# The quick variant uses two with-replacement learning rates (``η λmax`` ≈ 0.06 and 0.56), one
# without replacement, coarser grids, fewer and shorter chains and a 2 × 2 phase diagram.
from validation import _gallery

_gallery.describe("grid_vs_sgd")

# %%
# Running the quick variant
# -------------------------
# ``run_study`` writes the arrays (with version, seed and settings), the figures and
# ``report.md`` into a temporary folder and returns the claims it checked.
result = _gallery.run_quick("grid_vs_sgd")

# %%
# The figures
# -----------
# The study's own figures, as it saved them.
_gallery.show(result.figures)

# %%
# Claim against measurement
# -------------------------
# Every check of the quick run, with its target and tolerance (each tolerance is a named constant
# with its reason in ``validation/grid_vs_sgd/analyse.py``). The page fails to build if one
# fails.
_gallery.check(result)
