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
import tempfile
from dataclasses import asdict, is_dataclass

from validation._runner import claims_table
from validation.adhikari2023_regression_wor import CLAIM, run_study
from validation.adhikari2023_regression_wor.settings import FULL, QUICK


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
out_dir = tempfile.mkdtemp(prefix="fpsolve-adhikari2023_regression_wor-")
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
# with its reason in ``validation/adhikari2023_regression_wor/analyse.py``). The page fails to
# build if one fails.
print(claims_table(result.claims, markdown=False))
assert result.error is None, result.error
assert result.passed, [c.name for c in result.claims if not c.passed]
