"""Data sets shipped with fpsolve (``fp.datasets``); defined in :mod:`fpsolve.landscape.datasets`.

A real module, so that ``from fpsolve.datasets import load_adhikari2023`` works.
"""

from .landscape.datasets import *  # noqa: F403
from .landscape.datasets import __all__  # noqa: F401
