"""
With replacement: SGD on the paper's network is a non-equilibrium steady state
==============================================================================

Adhikari et al. (2023) train a 7-parameter tanh network (two hidden units) on 200 regression
points with minibatch SGD, drawing each batch of ``b = 10`` afresh (with replacement). To first
order in the learning rate the weights obey an Ornstein–Uhlenbeck process near the minimum
whose drift (the Hessian) and diffusion (the gradient covariance) do not commute: the
stationary state is not in equilibrium. It carries a circulating current (the stochastic area
of a pair of weights grows at the rate of the circulation ``Q``) and produces entropy at a rate
``σ``.

The study runs real SGD chains at ``η = 1e-7`` and compares them with the linearised state
(``sgd.linearized``): the stationary covariance, the stochastic area of ``(w1, w2)``, and the
mean entropy production ``Δs`` of 1-, 2- and 3-step windows with the integral fluctuation
theorem ``⟨e^{−Δs}⟩ = 1``, all within standard errors estimated from the run.

The study is ``validation/adhikari2023_regression_wr/`` (``python -m
validation.adhikari2023_regression_wr [--quick]`` from the repository root, or ``fpsolve
validate [--quick] adhikari2023_regression_wr``). Full size: all 8 claims pass (see
:doc:`/validation`). This page runs its quick variant.
"""

# %%
# The settings
# ------------
# The quick variant keeps the paper's learning rate and batch size and shortens the chains (full
# size: ``3·10⁷`` steps a chain, the paper's run length).
from validation import _gallery

_gallery.describe("adhikari2023_regression_wr")

# %%
# Running the quick variant
# -------------------------
# ``run_study`` writes the arrays (with version, seed and settings), the figures and
# ``report.md`` into a temporary folder and returns the claims it checked.
result = _gallery.run_quick("adhikari2023_regression_wr")

# %%
# The figures
# -----------
# The study's own figures, as it saved them.
_gallery.show(result.figures)

# %%
# Claim against measurement
# -------------------------
# Every check of the quick run, with its target and tolerance (each tolerance is a named constant
# with its reason in ``validation/adhikari2023_regression_wr/analyse.py``). The page fails to
# build if one fails.
_gallery.check(result)
