"""Landscapes: models, data sets and minibatch schemes turned into drift and diffusion.

Names load on first use (names listed in ``__init__.pyi``): ``fpsolve.landscape`` itself imports
neither Numba nor SciPy.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
