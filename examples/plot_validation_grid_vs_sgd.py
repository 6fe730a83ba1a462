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
import tempfile
from dataclasses import asdict, is_dataclass

from validation._runner import claims_table
from validation.grid_vs_sgd import CLAIM, run_study
from validation.grid_vs_sgd.settings import FULL, QUICK


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
out_dir = tempfile.mkdtemp(prefix="fpsolve-grid_vs_sgd-")
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
# with its reason in ``validation/grid_vs_sgd/analyse.py``). The page fails to build if one
# fails.
print(claims_table(result.claims, markdown=False))
assert result.error is None, result.error
assert result.passed, [c.name for c in result.claims if not c.passed]
