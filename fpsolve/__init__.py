"""fpsolve: Fokker-Planck solvers for stochastic gradient descent as a physical process.

Public names are re-exported here.  Submodules load on first use (PEP 562), so
``import fpsolve`` stays fast and Numba and SciPy load only when a solver needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import BoundaryMassWarning, FieldError, FPSolveError, GridError, SolverError
from .errors import DivergenceWarning

_LAZY = {
    "Grid": "fpsolve.solve.grid",
    "FokkerPlanck": "fpsolve.solve.problem",
    "SolveInfo": "fpsolve.solve.steady_state",
    "StationaryState": "fpsolve.solve.steady_state",
    "closed_form_1d": "fpsolve.solve.steady_state",
    "Evolution": "fpsolve.solve.evolve",
    "evolve": "fpsolve.solve.evolve",
    "mean_first_passage_time": "fpsolve.solve.evolve",
    "spectral_gap": "fpsolve.solve.evolve",
    "stationary": "fpsolve.solve.steady_state",
    "Trajectory": "fpsolve.simulate.trajectory",
    "compare": "fpsolve.comparison",
    "Comparison": "fpsolve.comparison",
}
_SUBMODULES = {"plot", "cli", "solve", "demo", "simulate"}

if TYPE_CHECKING:  # pragma: no cover
    from . import plot, simulate, solve
    from .comparison import Comparison, compare
    from .simulate.trajectory import Trajectory
    from .solve.grid import Grid
    from .solve.problem import FokkerPlanck
    from .solve.evolve import Evolution, evolve, mean_first_passage_time, spectral_gap
    from .solve.steady_state import SolveInfo, StationaryState, closed_form_1d, stationary


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"fpsolve.{name}")
    raise AttributeError(f"module 'fpsolve' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


__all__ = [
    "BoundaryMassWarning",
    "Comparison",
    "DivergenceWarning",
    "FPSolveError",
    "FieldError",
    "FokkerPlanck",
    "Grid",
    "GridError",
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
    "stationary",
]
