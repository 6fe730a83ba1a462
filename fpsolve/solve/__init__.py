"""Grid solvers: grids, problems, operator assembly, stationary states."""

from .grid import Grid
from .problem import FokkerPlanck
from .stationary import SolveInfo, StationaryState, closed_form_1d, stationary

__all__ = ["FokkerPlanck", "Grid", "SolveInfo", "StationaryState", "closed_form_1d", "stationary"]
