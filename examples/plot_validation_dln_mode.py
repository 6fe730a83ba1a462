"""
One mode of a deep linear network
=================================

A deep linear network trained on whitened inputs decouples into modes; one mode of depth ``L``
is the product ``s = a_1 ⋯ a_L`` learning a teacher value ``m``. Its gradient noise is
multiplicative (it vanishes where the fit is perfect), which gives heavy-tailed stationary
laws. At depth 1 the stationary density is known in closed form, ``p(u) ∝ (σ_ε² + 2u²)^-(1 +
B/(2η))``. The study checks the grid state against that closed form and against Langevin
walkers, deeper modes against real SGD, the collapse onto ``m`` without label noise, and that
the diffusion peaks before the mode is learned (a time evolution from ``s ≈ 0``).

The study is ``validation/dln_mode/`` (``python -m validation.dln_mode [--quick]`` from the
repository root, or ``fpsolve validate [--quick] dln_mode``). Full size: all 12 claims pass (see
:doc:`/validation`). This page runs its quick variant.
"""

# %%
# The settings
# ------------
# The quick variant runs depths 1 and 2 (full size: 1-3) with fewer walkers, fewer and shorter
# SGD chains and coarser grids.
from validation import _gallery

_gallery.describe("dln_mode")

# %%
# Running the quick variant
# -------------------------
# ``run_study`` writes the arrays (with version, seed and settings), the figures and
# ``report.md`` into a temporary folder and returns the claims it checked.
result = _gallery.run_quick("dln_mode")

# %%
# The figures
# -----------
# The study's own figures, as it saved them.
_gallery.show(result.figures)

# %%
# Claim against measurement
# -------------------------
# Every check of the quick run, with its target and tolerance (each tolerance is a named constant
# with its reason in ``validation/dln_mode/analyse.py``). The page fails to build if one fails.
_gallery.check(result)
