"""Shared analytic reference problems."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import fpsolve as fp

# The non-equilibrium Ornstein-Uhlenbeck reference problem: non-normal drift matrix,
# anisotropic diffusion, persistent rotational current (also used by the benchmarks).
OU_K = np.array([[1.0, 1.5], [-0.5, 1.0]])
OU_D = np.diag([0.5, 0.25])
OU_BOX = 6.0


def linear_drift(K: np.ndarray):
    """Vectorised drift ``A(x) = -K x`` for points of shape (ndim, *pts)."""
    return lambda x: -np.einsum("ij,j...->i...", K, x)


def lyapunov_covariance(K: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Stationary covariance C of dx = -K x dt + B dW:  K C + C Kᵀ = 2 D."""
    return sla.solve_continuous_lyapunov(-K, -2.0 * D)


def gaussian_density(grid: fp.Grid, C: np.ndarray) -> np.ndarray:
    x = grid.mesh().reshape(grid.ndim, -1)
    q = np.einsum("in,ij,jn->n", x, np.linalg.inv(C), x)
    norm = np.sqrt((2 * np.pi) ** grid.ndim * np.linalg.det(C))
    return (np.exp(-0.5 * q) / norm).reshape(grid.shape)


def ou_current(grid: fp.Grid, K: np.ndarray, D: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Exact stationary current J = v p with v = (D C⁻¹ − K) x."""
    x = grid.mesh()
    M = D @ np.linalg.inv(C) - K
    return np.einsum("ij,j...->i...", M, x) * gaussian_density(grid, C)


def ou_entropy_production(K: np.ndarray, D: np.ndarray, C: np.ndarray) -> float:
    """σ = <vᵀ D⁻¹ v> = tr(Mᵀ D⁻¹ M C), M = D C⁻¹ − K."""
    M = D @ np.linalg.inv(C) - K
    return float(np.trace(M.T @ np.linalg.inv(D) @ M @ C))


def total_variation(p: np.ndarray, q: np.ndarray, grid: fp.Grid) -> float:
    return 0.5 * float(np.sum(np.abs(p - q)) * grid.cell_volume)


@pytest.fixture
def ou_problem():
    def make(n: int, diffusion=OU_D, K=OU_K) -> fp.FokkerPlanck:
        grid = fp.Grid((-OU_BOX, -OU_BOX), (OU_BOX, OU_BOX), (n, n))
        return fp.FokkerPlanck(grid, drift=linear_drift(K), diffusion=diffusion)

    return make
