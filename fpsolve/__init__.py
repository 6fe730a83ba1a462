"""fpsolve: Fokker-Planck solvers for stochastic gradient descent as a physical process.

The public names are listed once, in ``__init__.pyi``; they load on first use (lazy_loader,
Scientific Python SPEC 1), so ``import fpsolve`` stays fast and Numba and SciPy load only when a
solver needs them.
"""

import difflib as _difflib

import lazy_loader as _lazy

_getattr, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)


def __getattr__(name: str):
    try:
        return _getattr(name)
    except AttributeError:
        close = _difflib.get_close_matches(name, __all__, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise AttributeError(f"module 'fpsolve' has no attribute {name!r}{hint}") from None
