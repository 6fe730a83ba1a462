"""Argument checks shared by the public modules: real arrays and numbers, named in the message."""

from __future__ import annotations

import numpy as np

from .errors import InputError


def real_array(value, name: str, error: type[Exception] = InputError) -> np.ndarray:
    """``value`` as a float array; complex, non-numeric or ragged input raises ``error`` naming ``name``."""
    if np.iscomplexobj(value):
        raise error(f"{name} must be real; got complex values (dtype {np.asarray(value).dtype})")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise error(f"{name} must hold real numbers; got {type(value).__name__} that does not convert to "
                    f"float ({exc})") from None


def real_number(value, name: str, error: type[Exception] = InputError) -> float:
    """A real scalar (not a bool, string or complex) as a float."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or np.iscomplexobj(value) or np.ndim(value) != 0:
        raise error(f"{name} must be a real number; got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise error(f"{name} must be a real number; got {value!r}") from None


def scalar_float(value) -> float | None:
    """``float(value)`` for a real scalar (``np.isscalar``; not a bool, string or complex), else None."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or np.iscomplexobj(value) or not np.isscalar(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
