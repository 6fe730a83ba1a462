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


class InputError(FPSolveError, ValueError):
    """An argument has a bad value; the message names it, the value and what was expected."""


class InputTypeError(FPSolveError, TypeError):
    """An argument has the wrong type; the message names it and the type expected."""


class StabilityError(FPSolveError, ValueError):
    """A step size or learning rate is beyond the stability limit of the discrete dynamics."""


class StabilityWarning(RuntimeWarning):
    """A step size is beyond a stability limit; the result is not a sample of the intended process."""


class MemoryEstimateError(FPSolveError, MemoryError):
    """A request would need more memory than the machine has; the message gives the estimate."""


class ExtrapolationWarning(UserWarning):
    """Richardson extrapolation was requested but the observed convergence does not support it."""


class UnderResolvedWarning(UserWarning):
    """The density is narrower than the grid resolves: refine the grid (the message says how)."""


class PeriodicMismatchWarning(UserWarning):
    """A callable drift on a periodic axis does not match across the wrap (it jumps there)."""
