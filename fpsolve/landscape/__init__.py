"""Landscapes: models, data sets and minibatch schemes turned into drift and diffusion.

Names load on first use (PEP 562): ``fpsolve.landscape`` itself imports neither Numba nor SciPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

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


__getattr__, __dir__ = attach(__name__, globals(), _LAZY, {name: f".{name}" for name in _SUBMODULES})


__all__ = ["Landscape", "LandscapeFields", "SGD", "SchemeFields", "load_adhikari2023"]
