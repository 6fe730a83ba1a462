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
import tempfile
from dataclasses import asdict, is_dataclass

from validation._runner import claims_table
from validation.adhikari2023_regression_wr import CLAIM, run_study
from validation.adhikari2023_regression_wr.settings import FULL, QUICK


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
out_dir = tempfile.mkdtemp(prefix="fpsolve-adhikari2023_regression_wr-")
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
# with its reason in ``validation/adhikari2023_regression_wr/analyse.py``). The page fails to
# build if one fails.
print(claims_table(result.claims, markdown=False))
assert result.error is None, result.error
assert result.passed, [c.name for c in result.claims if not c.passed]
