"""Grid solvers: grids, problems, operator assembly, stationary states.

Names load on first use (PEP 562): a ``Grid`` needs neither SciPy nor Numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

_LAZY = {
    "Grid": ".grid",
    "FokkerPlanck": ".problem",
    "SolveInfo": ".steady_state",
    "Basins": ".steady_state",
    "StationaryState": ".steady_state",
    "closed_form_1d": ".steady_state",
    "Evolution": ".evolve",
    "evolve": ".evolve",
    "mean_first_passage_time": ".evolve",
    "spectral_gap": ".evolve",
    "stationary": ".steady_state",
    "GaussianState": ".linear",
    "linearized": ".linear",
}

if TYPE_CHECKING:  # pragma: no cover
    from .grid import Grid
    from .linear import GaussianState, linearized
    from .problem import FokkerPlanck
    from .evolve import Evolution, evolve, mean_first_passage_time, spectral_gap
    from .steady_state import Basins, SolveInfo, StationaryState, closed_form_1d, stationary


__getattr__, __dir__ = attach(__name__, globals(), _LAZY)


__all__ = ["Basins", "Evolution", "FokkerPlanck", "GaussianState", "Grid", "SolveInfo", "StationaryState",
           "closed_form_1d", "evolve", "linearized", "mean_first_passage_time", "spectral_gap",
           "stationary"]
