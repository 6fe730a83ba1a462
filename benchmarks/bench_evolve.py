"""Time evolution: fpsolve's adaptive TR-BDF2 against fixed-step Crank-Nicolson and explicit Euler.

The 2-D non-equilibrium OU problem at 256^2, from a displaced narrow Gaussian to t = 5
(five relaxation times: the spectral gap is 1), in one run.  Each method's error is the
total-variation distance to the exact Gaussian at t = 5 (mean e^{-Kt} m0, covariance from
dC/dt = -KC - CK^T + 2D).  The baselines use a plain SciPy five-point Scharfetter-Gummel
operator: Crank-Nicolson with one LU and a fixed step, explicit Euler at its stability limit
dt = 1 / max|diag L| (the largest step that keeps the density positive).

    python benchmarks/bench_evolve.py [--cells 256]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _impls import scipy_sg_matrix  # noqa: E402
from _problems import BOX, C, D, K, centres, drift  # noqa: E402

T_END = 5.0
M0 = np.array([2.0, -1.5])
C0 = 0.2 * np.eye(2)


def gaussian(n: int, m: np.ndarray, cov: np.ndarray) -> np.ndarray:
    x = centres(n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    d = np.stack((X - m[0], Y - m[1])).reshape(2, -1)
    q = np.einsum("in,ij,jn->n", d, np.linalg.inv(cov), d)
    return (np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))).reshape(n, n)


def exact(n: int, t: float) -> np.ndarray:
    E = sla.expm(-K * t)
    return gaussian(n, E @ M0, E @ C0 @ E.T + C - E @ C @ E.T)


def tv(p: np.ndarray, n: int) -> float:
    h = 2 * BOX / n
    return 0.5 * float(np.abs(p - exact(n, T_END)).sum() * h * h)


def run_fpsolve(n: int, tolerance: float, order: int = 2):
    import fpsolve as fp

    grid = fp.Grid((-BOX, -BOX), (BOX, BOX), (n, n))
    problem = fp.FokkerPlanck(grid, drift=drift, diffusion=D)
    t0 = time.perf_counter()
    run = fp.evolve(problem, gaussian(n, M0, C0), [0.0, T_END], tolerance=tolerance, progress=False,
                    order=order)
    return time.perf_counter() - t0, run.densities[-1], f"{run.n_steps} steps, {run.n_factorizations} LUs"


def run_crank_nicolson(n: int, dt: float):
    t0 = time.perf_counter()
    L = scipy_sg_matrix(n).tocsc()
    eye = sp.identity(n * n, format="csc")
    lu = spla.splu((eye - 0.5 * dt * L).tocsc())
    B = (eye + 0.5 * dt * L).tocsr()
    p = gaussian(n, M0, C0).ravel()
    steps = int(round(T_END / dt))
    for _ in range(steps):
        p = lu.solve(B @ p)
    return time.perf_counter() - t0, p.reshape(n, n), f"{steps} steps, dt={dt:g}"


def run_explicit(n: int):
    t0 = time.perf_counter()
    L = scipy_sg_matrix(n)
    dt_max = 1.0 / np.abs(L.diagonal()).max()
    steps = int(np.ceil(T_END / dt_max))
    dt = T_END / steps
    p = gaussian(n, M0, C0).ravel()
    for _ in range(steps):
        p = p + dt * (L @ p)
    return time.perf_counter() - t0, p.reshape(n, n), f"{steps} steps, dt={dt:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=256)
    args = parser.parse_args()
    n = args.cells
    run_fpsolve(32, 1e-5)  # load compiled kernels outside the timing
    print(f"2-D OU, {n}^2 cells, t = 0 -> {T_END} (five relaxation times)")
    rows = [("fpsolve TR-BDF2 tol 1e-4", run_fpsolve(n, 1e-4)),
            ("fpsolve TR-BDF2 tol 1e-5", run_fpsolve(n, 1e-5)),
            ("fpsolve TR-BDF2 tol 1e-7", run_fpsolve(n, 1e-7)),
            ("fpsolve TR-BDF2 tol 1e-5, order 4", run_fpsolve(n, 1e-5, order=4)),
            ("SciPy Crank-Nicolson dt 0.05", run_crank_nicolson(n, 0.05)),
            ("SciPy Crank-Nicolson dt 0.01", run_crank_nicolson(n, 0.01)),
            ("explicit Euler (stability limit)", run_explicit(n))]
    base = dict(rows)["SciPy Crank-Nicolson dt 0.01"][0]
    for name, (seconds, p, note) in rows:
        neg = "  NEGATIVE DENSITY" if p.min() < 0 else ""
        print(f"  {name:34s} {seconds:8.3f} s  ({base / seconds:5.1f}x vs CN dt 0.01)  "
              f"TV error {tv(p, n):.2e}  [{note}]{neg}")


if __name__ == "__main__":
    main()
