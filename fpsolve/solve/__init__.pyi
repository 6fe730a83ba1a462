# Public names of fpsolve.solve, loaded on first use (see fpsolve/__init__.pyi).

from .evolve import Evolution, SpectralGap, evolve, mean_first_passage_time, spectral_gap
from .grid import Grid
from .gaussian import GaussianState, linearized
from .problem import FokkerPlanck
from .steady_state import Basins, SolveInfo, StationaryState, closed_form_1d, stationary
