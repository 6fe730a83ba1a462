"""fpsolve: Fokker-Planck solvers for stochastic gradient descent as a physical process."""

from ._version import __version__
from .errors import BoundaryMassWarning, FieldError, FPSolveError, GridError, SolverError
from .solve import FokkerPlanck, Grid, SolveInfo, StationaryState, closed_form_1d, stationary

__all__ = [
    "BoundaryMassWarning",
    "FPSolveError",
    "FieldError",
    "FokkerPlanck",
    "Grid",
    "GridError",
    "SolveInfo",
    "SolverError",
    "StationaryState",
    "__version__",
    "closed_form_1d",
    "stationary",
]
