# The public namespace of fpsolve, in one table.  At run time `fpsolve/__init__.py` reads this
# stub with lazy_loader (SPEC 1), so every name loads on first use; type checkers and editors
# read the same lines.  A new public name is one line here.

from . import cli, datasets, demo, diagrams, landscape, models, plot, simulate, solve, sweep, thermo
from ._version import __version__
from .comparison import Comparison, compare
from .errors import (
    BoundaryMassWarning,
    DivergenceWarning,
    ExtrapolationWarning,
    FieldError,
    FPSolveError,
    GridError,
    InputError,
    InputTypeError,
    MemoryEstimateError,
    PeriodicMismatchWarning,
    SolverError,
    StabilityError,
    StabilityWarning,
    UnderResolvedWarning,
)
from .landscape.landscape import Landscape
from .landscape.schemes import SGD
from .simulate.trajectory import Trajectory
from .solve.evolve import Evolution, SpectralGap, evolve, mean_first_passage_time, spectral_gap
from .solve.grid import Grid
from .solve.gaussian import GaussianState, linearized
from .solve.problem import FokkerPlanck
from .solve.steady_state import Basins, SolveInfo, StationaryState, closed_form_1d, stationary
from .sweep import SweepError  # fpsolve.sweep: the module, callable as its function sweep
