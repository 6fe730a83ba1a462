"""The implementations compared by bench_stationary.py.  Each returns the cell densities."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from _problems import BOX, BOX1, D, D1, K, centres, drift, drift_1d


def fpsolve_2d(n: int) -> np.ndarray:
    import fpsolve as fp

    grid = fp.Grid((-BOX, -BOX), (BOX, BOX), (n, n))
    return fp.stationary(fp.FokkerPlanck(grid, drift=drift, diffusion=D), check_boundary=False).density


def _bernoulli(z: np.ndarray) -> np.ndarray:
    out = np.ones_like(z)
    nz = z != 0
    out[nz] = z[nz] / np.expm1(z[nz])
    return out


def scipy_sg_matrix(n: int) -> sp.csr_matrix:
    """The five-point Scharfetter-Gummel generator of the OU problem, built with NumPy/SciPy."""
    h = 2 * BOX / n
    x = centres(n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    idx = np.arange(n * n).reshape(n, n)
    rows, cols, vals = [], [], []
    for axis in (0, 1):
        a = idx[:-1, :] if axis == 0 else idx[:, :-1]
        b = idx[1:, :] if axis == 0 else idx[:, 1:]
        Xm = 0.5 * (X[:-1] + X[1:]) if axis == 0 else X[:, :-1]
        Ym = Y[:-1] if axis == 0 else 0.5 * (Y[:, :-1] + Y[:, 1:])
        A = -(K[axis, 0] * Xm + K[axis, 1] * Ym)
        d = D[axis, axis]
        P = A * h / d
        wab = (d / h**2) * _bernoulli(-P)
        wba = (d / h**2) * _bernoulli(P)
        a, b, wab, wba = a.ravel(), b.ravel(), wab.ravel(), wba.ravel()
        rows += [b, a, a, b]
        cols += [a, b, a, b]
        vals += [wab, wba, -wab, -wba]
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n * n, n * n))


def scipy_sg_2d(n: int) -> np.ndarray:
    """The afternoon implementation: five-point Scharfetter-Gummel, pin the centre, spsolve."""
    h = 2 * BOX / n
    idx = np.arange(n * n).reshape(n, n)
    L = scipy_sg_matrix(n)
    pin = idx[n // 2, n // 2]
    L = L.tolil()
    L[pin, :] = 0
    L[pin, pin] = 1
    rhs = np.zeros(n * n)
    rhs[pin] = 1
    p = spla.spsolve(L.tocsc(), rhs).reshape(n, n)
    return p / (p.sum() * h * h)


def fplanck_2d(n: int) -> np.ndarray:
    """fplanck: square-root-approximation master equation, ARPACK shift-invert for the null vector."""
    import fplanck
    from scipy import constants

    if not hasattr(np, "product"):  # fplanck 0.2 calls np.product, removed in NumPy 2
        np.product = np.prod
    h = 2 * BOX / n
    sim = fplanck.fokker_planck(
        temperature=np.array([D[0, 0], D[1, 1]]) / constants.k, drag=1.0, extent=[2 * BOX, 2 * BOX],
        resolution=h, boundary=fplanck.boundary.reflecting,
        force=lambda x, y: np.stack((-(K[0, 0] * x + K[0, 1] * y), -(K[1, 0] * x + K[1, 1] * y))),
    )
    p = sim.steady_state()
    return p / (p.sum() * h * h)


def fpsolve_1d(n: int) -> np.ndarray:
    import fpsolve as fp

    grid = fp.Grid(-BOX1, BOX1, n)
    return fp.stationary(fp.FokkerPlanck(grid, drift=drift_1d, diffusion=D1), check_boundary=False).density


def scipy_sg_1d(n: int) -> np.ndarray:
    h = 2 * BOX1 / n
    x = -BOX1 + (np.arange(n) + 0.5) * h
    A = drift_1d(0.5 * (x[:-1] + x[1:]))
    P = A * h / D1
    wab = (D1 / h**2) * _bernoulli(-P)
    wba = (D1 / h**2) * _bernoulli(P)
    a = np.arange(n - 1)
    L = sp.csr_matrix((np.concatenate([wab, wba, -wab, -wba]),
                       (np.concatenate([a + 1, a, a, a + 1]), np.concatenate([a, a + 1, a, a + 1]))),
                      shape=(n, n)).tolil()
    pin = n // 2
    L[pin, :] = 0
    L[pin, pin] = 1
    rhs = np.zeros(n)
    rhs[pin] = 1
    p = spla.spsolve(L.tocsc(), rhs)
    return p / (p.sum() * h)


IMPLEMENTATIONS = {"fpsolve": fpsolve_2d, "scipy-sg": scipy_sg_2d, "fplanck": fplanck_2d}
IMPLEMENTATIONS_1D = {"fpsolve": fpsolve_1d, "scipy-sg": scipy_sg_1d}
