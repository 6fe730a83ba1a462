"""Grid solvers: grids, problems, operator assembly, stationary states.

Names load on first use (names listed in ``__init__.pyi``): a ``Grid`` needs neither SciPy nor
Numba.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
