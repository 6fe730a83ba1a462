"""The benchmark problems and their exact answers (shared by the benchmark scripts)."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

# 2-D non-equilibrium Ornstein-Uhlenbeck: dw = -K w dt + B dW, D = diag(0.5, 0.25) (anisotropic)
K = np.array([[1.0, 1.5], [-0.5, 1.0]])
D = np.diag([0.5, 0.25])
BOX = 6.0  # [-BOX, BOX]^2, reflecting
C = sla.solve_continuous_lyapunov(-K, -2.0 * D)
TV_TARGET = 5e-6  # time-to-accuracy threshold (total variation)


def centres(n: int) -> np.ndarray:
    h = 2 * BOX / n
    return -BOX + (np.arange(n) + 0.5) * h


def exact_density(n: int) -> np.ndarray:
    x = centres(n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    pts = np.stack((X, Y)).reshape(2, -1)
    q = np.einsum("in,ij,jn->n", pts, np.linalg.inv(C), pts)
    return (np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(C)))).reshape(n, n)


def total_variation(p: np.ndarray, n: int) -> float:
    h = 2 * BOX / n
    return 0.5 * float(np.abs(p - exact_density(n)).sum() * h * h)


def drift(x: np.ndarray) -> np.ndarray:
    return -np.einsum("ij,j...->i...", K, x)


# 1-D: double well U = (w^2 - 1)^2, D = 0.3 on [-2.5, 2.5]
D1 = 0.3
BOX1 = 2.5


def drift_1d(x: np.ndarray) -> np.ndarray:
    return -4 * x * (x**2 - 1)


def exact_1d(n: int) -> np.ndarray:
    h = 2 * BOX1 / n
    x = -BOX1 + (np.arange(n) + 0.5) * h
    p = np.exp(-((x**2 - 1) ** 2) / D1)
    return p / (p.sum() * h)


# -- what every benchmark prints around its timings --------------------------------------------
def print_machine(details: str) -> float:
    """Print the cores, the Numba threads, ``details`` and the 1-minute load average before the
    timings; that load average."""
    import os

    import numba

    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, {numba.get_num_threads()} numba threads{details}; "
          f"load average {load:.2f}")
    return load


def print_load_after(load_before: float, note: str = "") -> None:
    """Print the load average before and after the timings (``note`` after the core count)."""
    import os

    print(f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
          f"(on {os.cpu_count()} cores{note})")
