"""fpsolve: Fokker-Planck solvers for stochastic gradient descent as a physical process.

Public names are re-exported here.  Submodules load on first use (PEP 562), so
``import fpsolve`` stays fast and Numba and SciPy load only when a solver needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import attach

from ._version import __version__
from .errors import BoundaryMassWarning, FieldError, FPSolveError, GridError, SolverError
from .errors import DivergenceWarning, ExtrapolationWarning, PeriodicMismatchWarning, UnderResolvedWarning

_LAZY = {
    "Grid": "fpsolve.solve.grid",
    "FokkerPlanck": "fpsolve.solve.problem",
    "SolveInfo": "fpsolve.solve.steady_state",
    "Basins": "fpsolve.solve.steady_state",
    "StationaryState": "fpsolve.solve.steady_state",
    "closed_form_1d": "fpsolve.solve.steady_state",
    "Evolution": "fpsolve.solve.evolve",
    "evolve": "fpsolve.solve.evolve",
    "mean_first_passage_time": "fpsolve.solve.evolve",
    "spectral_gap": "fpsolve.solve.evolve",
    "stationary": "fpsolve.solve.steady_state",
    "GaussianState": "fpsolve.solve.linear",
    "linearized": "fpsolve.solve.linear",
    "Landscape": "fpsolve.landscape.landscape",
    "SGD": "fpsolve.landscape.schemes",
    "Trajectory": "fpsolve.simulate.trajectory",
    "compare": "fpsolve.comparison",
    "Comparison": "fpsolve.comparison",
}
_SUBMODULES = {"plot", "cli", "solve", "demo", "landscape", "simulate"}
_ALIASES = {"models": "fpsolve.landscape.models", "datasets": "fpsolve.landscape.datasets"}

if TYPE_CHECKING:  # pragma: no cover
    from . import landscape, plot, simulate, solve
    from .comparison import Comparison, compare
    from .landscape import datasets, models
    from .landscape.landscape import Landscape
    from .landscape.schemes import SGD
    from .simulate.trajectory import Trajectory
    from .solve.grid import Grid
    from .solve.linear import GaussianState, linearized
    from .solve.problem import FokkerPlanck
    from .solve.evolve import Evolution, evolve, mean_first_passage_time, spectral_gap
    from .solve.steady_state import Basins, SolveInfo, StationaryState, closed_form_1d, stationary


__getattr__, __dir__ = attach(
    __name__, globals(), _LAZY,
    {**{name: f"fpsolve.{name}" for name in _SUBMODULES}, **_ALIASES},
)


__all__ = [
    "Basins",
    "BoundaryMassWarning",
    "Comparison",
    "DivergenceWarning",
    "ExtrapolationWarning",
    "PeriodicMismatchWarning",
    "UnderResolvedWarning",
    "FPSolveError",
    "FieldError",
    "FokkerPlanck",
    "GaussianState",
    "Grid",
    "GridError",
    "Landscape",
    "SGD",
    "SolveInfo",
    "SolverError",
    "StationaryState",
    "Trajectory",
    "__version__",
    "Evolution",
    "closed_form_1d",
    "compare",
    "evolve",
    "mean_first_passage_time",
    "spectral_gap",
    "linearized",
    "stationary",
]
