# Public names of fpsolve.landscape, loaded on first use (see fpsolve/__init__.pyi).

from . import datasets, models, schemes
from .datasets import load_adhikari2023
from .landscape import Landscape, LandscapeFields
from .schemes import SGD, SchemeFields
