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
repository root, or ``fpsolve validate [--quick] dln_mode``). Full size: all 8 claims pass (see
:doc:`/validation`). This page runs its quick variant.
"""

# %%
# The settings
# ------------
# The quick variant runs depths 1 and 2 (full size: 1-3) with fewer walkers, fewer and shorter
# SGD chains and coarser grids.
import tempfile
from dataclasses import asdict, is_dataclass

from validation._runner import claims_table
from validation.dln_mode import CLAIM, run_study
from validation.dln_mode.settings import FULL, QUICK


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
out_dir = tempfile.mkdtemp(prefix="fpsolve-dln_mode-")
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
# with its reason in ``validation/dln_mode/analyse.py``). The page fails to build if one fails.
print(claims_table(result.claims, markdown=False))
assert result.error is None, result.error
assert result.passed, [c.name for c in result.claims if not c.passed]
