"""Built-in models and the model protocol (``fp.models``); defined in :mod:`fpsolve.landscape.models`.

A real module, so that ``from fpsolve.models import TanhNet`` works and the reference
documentation has a page for it.
"""

from .landscape.models import *  # noqa: F403
from .landscape.models import __all__  # noqa: F401
