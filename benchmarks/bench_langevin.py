"""Langevin walkers: fpsolve's parallel Numba engine against a NumPy-vectorised Euler--Maruyama.

The 2-D non-equilibrium OU problem (drift -K x, K = [[1, 1.5], [-0.5, 1]], D = diag(0.5, 0.25),
reflecting box [-6, 6]^2) with 10^5 walkers, dt = 0.01, in one run:

- fpsolve, fields from the problem's 128^2 grid arrays (bilinear interpolation), no records;
- fpsolve, the same drift as a jitted callable (fp.simulate.Fields);
- NumPy: x += -dt x K^T + sqrt(dt) xi B^T per step over all walkers, with ``rng.standard_normal``,
  running sums for the mean and covariance (the streaming statistics fpsolve keeps), no walls.

Both sides do Euler--Maruyama and streaming moments; fpsolve also checks the walls and
non-finite values every step.  Walker-steps per second are printed, with the ratio, and the
first-call time (compilation, or loading the cache) separately.

    python benchmarks/bench_langevin.py [--walkers 100000] [--steps 500]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _problems import BOX, C, D, K, drift  # noqa: E402

DT = 0.01
TARGET_RATE = 5e7  # walker-steps per second (issue)
TARGET_RATIO = 3.0  # against NumPy


def numpy_em(walkers: int, steps: int, burn_in: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    B = np.linalg.cholesky(2 * D)
    x = np.zeros((walkers, 2))
    s1 = np.zeros(2)
    s2 = np.zeros((2, 2))
    sq = np.sqrt(DT)
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        x = x - DT * (x @ K.T) + sq * (rng.standard_normal((walkers, 2)) @ B.T)
        if step > burn_in:
            s1 += x.sum(axis=0)
            s2 += x.T @ x
    seconds = time.perf_counter() - t0
    n = walkers * (steps - burn_in)
    m = s1 / n
    return seconds, s2 / n - np.outer(m, m)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walkers", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    W, n = args.walkers, args.steps

    t0 = time.perf_counter()
    import numba

    import fpsolve as fp

    grid = fp.Grid((-BOX, -BOX), (BOX, BOX), (128, 128))
    problem = fp.FokkerPlanck(grid, drift=drift, diffusion=D)

    @numba.njit
    def ou_drift(x, out):
        out[0] = -(K[0, 0] * x[0] + K[0, 1] * x[1])
        out[1] = -(K[1, 0] * x[0] + K[1, 1] * x[1])

    fields = fp.simulate.Fields(ou_drift, D, grid=grid)
    setup = time.perf_counter() - t0
    print(f"machine: {numba.config.NUMBA_NUM_THREADS} numba threads; {W} walkers x {n} steps, dt={DT}")
    print(f"import + problem setup: {setup:.2f} s")

    rows = []
    for name, target in (("fpsolve grid arrays", problem), ("fpsolve jitted callable", fields)):
        t = time.perf_counter()
        fp.simulate.langevin(target, (0.0, 0.0), dt=DT, n_steps=2, n_walkers=8, record_every=0, rng=1)
        first = time.perf_counter() - t
        t = time.perf_counter()
        run = fp.simulate.langevin(target, (0.0, 0.0), dt=DT, n_steps=n, n_walkers=W,
                                   burn_in=n // 5, record_every=0, rng=1, progress=False)
        seconds = time.perf_counter() - t
        err = np.abs(run.covariance() - C).max()
        rows.append((name, seconds, first, err))
    seconds_np, cov_np = numpy_em(W, n, n // 5)
    rows.append(("numpy vectorised EM", seconds_np, 0.0, np.abs(cov_np - C).max()))

    print(f"{'implementation':26s} {'walker-steps/s':>15s} {'vs numpy':>9s} {'first call':>11s} "
          f"{'max|C - C_exact|':>17s}")
    for name, seconds, first, err in rows:
        rate = W * n / seconds
        print(f"{name:26s} {rate:15.3e} {seconds_np / seconds:8.2f}x {first:10.2f}s {err:17.3e}")
    best = W * n / rows[0][1]
    print(f"target: >= {TARGET_RATE:.0e} walker-steps/s and >= {TARGET_RATIO:.0f}x numpy (grid path): "
          f"{'met' if best >= TARGET_RATE and rows[2][1] / rows[0][1] >= TARGET_RATIO else 'NOT met'}")
    print("(C error: EM's O(dt) stationary bias plus sampling noise; numpy has no walls; the machine "
          "may be shared, so rates vary between runs)")


if __name__ == "__main__":
    main()
