"""Numba kernels: arrays and scalars in, arrays out.  Imports nothing from fpsolve."""
