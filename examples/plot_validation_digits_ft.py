"""
Fluctuation theorems of SGD in 650 dimensions
=============================================

Softmax regression on scikit-learn's 8 × 8 digits (64 pixels and a bias, 10 classes: 650
parameters) trained by SGD with replacement from its minimum. Projected on the top-``k``
eigenvectors of the Hessian, the trajectory's entropy production ``Δs`` over windows of a few
steps is evaluated with a linear Gaussian chain (``fp.thermo.LinearChain``): the one built from
the Hessian and the gradient covariance at the minimum, and the one fitted to the trajectory
itself (``LinearChain.fit``, evaluated on records the fit has not seen). The claims: the mean
``Δs`` per step equals the chain's, the integral fluctuation theorem ``⟨e^{−Δs}⟩ = 1`` and the
detailed one (``ln P(Δs)/P(−Δs)`` against ``Δs`` has slope 1) hold, and the stochastic area
matches the circulation. Needs the ``digits`` extra (scikit-learn).

The study is ``validation/digits_ft/`` (``python -m validation.digits_ft [--quick]`` from the
repository root, or ``fpsolve validate [--quick] digits_ft``). Full size: all 32 claims pass —
the fitted chain for every ``k``, the Hessian chain for ``k ≤ 10``. With ``k = 20`` at
``η = 0.5`` the Hessian chain departs (``⟨e^{−Δs}⟩ − 1 ≈ +0.2 %`` a step, growing like
``η^2.2``): SGD's stationary moments have moved away from the linear model's at that step size,
which the fitted chain captures; the study reports it as a finding (see :doc:`/validation`).
This page runs its quick variant.
"""

# %%
# The settings
# ------------
# The quick variant keeps ``η = 0.5`` and ``b = 32`` and checks ``k`` = 2 and 10 with windows of
# 1 and 5 steps on 4 chains (full size: ``k`` up to 20, four windows, 16 chains).
from validation import _gallery

_gallery.describe("digits_ft")

# %%
# Running the quick variant
# -------------------------
# ``run_study`` writes the arrays (with version, seed and settings), the figures and
# ``report.md`` into a temporary folder and returns the claims it checked.
result = _gallery.run_quick("digits_ft")
figures = list(result.figures)

# %%
# This study draws its figures with its own script, ``validation/digits_ft/plot.py``, from the
# files the run wrote.
import pathlib
import subprocess
import sys

import validation.digits_ft as _study

plot_script = pathlib.Path(_study.__file__).parent / "plot.py"
subprocess.run([sys.executable, str(plot_script), "--quick", "--out", str(result.out_dir)], check=True)
figures += sorted(pathlib.Path(result.out_dir).glob("*_quick.png"))

# %%
# The figures
# -----------
# The study's own figures, as it saved them.
_gallery.show(figures)

# %%
# Claim against measurement
# -------------------------
# Every check of the quick run, with its target and tolerance (each tolerance is a named constant
# with its reason in ``validation/digits_ft/analyse.py``). The page fails to build if one fails.
_gallery.check(result)
