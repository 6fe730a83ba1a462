"""Trajectory engines: Langevin simulations of Fokker--Planck processes (SGD runs to follow).

``fp.simulate.langevin(problem_or_fields, x0, dt=..., n_steps=..., rng=...)`` returns a
:class:`Trajectory`; :class:`Fields` wraps Numba-jitted drift and diffusion callables.
"""

from __future__ import annotations

from .langevin import SCHEMES, Fields, Scheme, langevin, standard_normals
from .trajectory import Trajectory

__all__ = ["SCHEMES", "Fields", "Scheme", "Trajectory", "langevin", "standard_normals"]
