"""
Fluctuation theorems of SGD in 650 dimensions
=============================================

Softmax regression on scikit-learn's 8 × 8 digits (64 pixels and a bias, 10 classes: 650
parameters) trained by SGD with replacement from its minimum. Projected on the top-``k``
eigenvectors of the Hessian, the trajectory's entropy production ``Δs`` over windows of a few
steps is evaluated with the exact linear Gaussian chain (``fp.thermo.LinearChain``). The
claims: the mean ``Δs`` per step equals the chain's, the integral fluctuation theorem
``⟨e^{−Δs}⟩ = 1`` and the detailed one (``ln P(Δs)/P(−Δs)`` against ``Δs`` has slope 1) hold
for every ``k`` and window, and the stochastic area matches the circulation. Needs the
``digits`` extra (scikit-learn).

The study is ``validation/digits_ft/`` (``python -m validation.digits_ft [--quick]`` from the
repository root, or ``fpsolve validate [--quick] digits_ft``). Full size: 4 of 24 claims fail,
for k = 20: the Gaussian linear-chain surrogate no longer describes SGD along the softest of 20
directions at η = 0.5, and the full run is long enough to see it; the suite reports this as a
failure rather than widening a tolerance (see :doc:`/validation`). This page runs its quick
variant.
"""

# %%
# The settings
# ------------
# The quick variant keeps ``η = 0.5`` and ``b = 32`` and checks ``k`` = 2 and 10 with windows of
# 1 and 5 steps on 4 chains (full size: ``k`` up to 20, four windows, 16 chains).
import tempfile
from dataclasses import asdict, is_dataclass

from validation._runner import claims_table
from validation.digits_ft import CLAIM, run_study
from validation.digits_ft.settings import FULL, QUICK


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
out_dir = tempfile.mkdtemp(prefix="fpsolve-digits_ft-")
result = run_study(quick=True, out_dir=out_dir, echo=lambda line: None)
print(f"{result.seconds:.1f} s of computation; files in {result.out_dir}")
figures = list(result.figures)

# %%
# This study draws its figures with its own script, ``validation/digits_ft/plot.py``, from the
# files the run wrote.
import pathlib
import subprocess
import sys

import validation.digits_ft as _study

plot_script = pathlib.Path(_study.__file__).parent / "plot.py"
subprocess.run([sys.executable, str(plot_script), "--quick", "--out", out_dir], check=True)
figures += sorted(pathlib.Path(out_dir).glob("*_quick.png"))

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
# with its reason in ``validation/digits_ft/analyse.py``). The page fails to build if one fails.
print(claims_table(result.claims, markdown=False))
assert result.error is None, result.error
assert result.passed, [c.name for c in result.claims if not c.passed]
