"""Trajectory engines: Langevin simulations of Fokker--Planck processes, minibatch SGD runs.

``fp.simulate.langevin(problem_or_fields, x0, dt=..., n_steps=..., rng=...)`` and
``fp.simulate.sgd(landscape, sgd, w0, n_steps=..., n_chains=..., rng=...)`` return a
:class:`Trajectory`; :class:`Fields` wraps Numba-jitted drift and diffusion callables;
:func:`sgd_batches` regenerates the minibatches of an SGD run.
"""

from .._deprecate import deprecated_alias as _deprecated_alias
from .langevin import METHODS, Fields, Method, langevin, standard_normals
from .sgd import sgd, sgd_batches
from .trajectory import Trajectory

__all__ = ["METHODS", "Fields", "Method", "Trajectory", "langevin", "sgd", "sgd_batches",
           "standard_normals"]

# the integrators were called "schemes" before the word was kept for the minibatch scheme
__getattr__ = _deprecated_alias("fpsolve.simulate", {"SCHEMES": ("METHODS", lambda: METHODS),
                                                     "Scheme": ("Method", lambda: Method)})
