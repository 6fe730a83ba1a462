"""Exceptions raised by fpsolve.

Every exception subclasses the builtin a user would catch anyway, so
``except ValueError`` keeps working for bad input.
"""

from __future__ import annotations


class FPSolveError(Exception):
    """Base class of all fpsolve errors."""


class GridError(FPSolveError, ValueError):
    """A grid specification is invalid (bounds, shape, boundary names)."""


class FieldError(FPSolveError, ValueError):
    """A drift or diffusion field is invalid (shape, non-finite values, not PSD)."""


class SolverError(FPSolveError, RuntimeError):
    """A solve produced a result that fails its own checks (residual, sign, mass)."""


class BoundaryMassWarning(UserWarning):
    """The density near a reflecting wall is not negligible: the domain truncates mass."""


class DivergenceWarning(RuntimeWarning):
    """Some simulated chains went non-finite and were stopped (they are reported, not dropped)."""


class ExtrapolationWarning(UserWarning):
    """Richardson extrapolation was requested but the observed convergence does not support it."""


class UnderResolvedWarning(UserWarning):
    """The density is narrower than the grid resolves: refine the grid (the message says how)."""


class PeriodicMismatchWarning(UserWarning):
    """A callable drift on a periodic axis does not match across the wrap (it jumps there)."""
