"""Landscapes: models, data sets and minibatch schemes turned into drift and diffusion.

Names load on first use (PEP 562): ``fpsolve.landscape`` itself imports neither Numba nor SciPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_LAZY = {
    "Landscape": ".landscape",
    "LandscapeFields": ".landscape",
    "SGD": ".schemes",
    "SchemeFields": ".schemes",
    "load_adhikari2023": ".datasets",
}
_SUBMODULES = {"models", "datasets", "schemes"}

if TYPE_CHECKING:  # pragma: no cover
    from . import datasets, models, schemes
    from .datasets import load_adhikari2023
    from .landscape import Landscape, LandscapeFields
    from .schemes import SGD, SchemeFields


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fpsolve.landscape' has no attribute {name!r}")


__all__ = ["Landscape", "LandscapeFields", "SGD", "SchemeFields", "load_adhikari2023"]
