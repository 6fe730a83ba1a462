"""3-D stationary states (issue 14, goal 4): the 3-D NESS OU (K = [[1, .8, 0], [-.8, 1, .3],
[0, -.3, 1]], D = 0.5 I) and the isotropic OU (drift -x, D = 0.5 I) on [-5, 5]^3, reflecting.

Each case runs in a fresh process after a warm-up solve at 16^3; prints the time, the solver path,
the peak resident memory of the process (``ru_maxrss``), and the errors against the exact Gaussian
(total variation of the density, relative error of σ, the entropy production, and the largest
current error relative to the largest current), and with ``--before DIR`` the same for an older
checkout and the ratio.

    python benchmarks/bench_3d.py [--sizes 64 96 128] [--before /tmp/fpsolve-before]

Odd sizes (``--sizes 63 95 127``) check that odd cell counts take the multigrid path too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from _fresh import run_worker

ROOT = Path(__file__).resolve().parent.parent
BOX = 5.0
KS = {"ness": [[1.0, 0.8, 0.0], [-0.8, 1.0, 0.3], [0.0, -0.3, 1.0]],
      "isotropic": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]}


def worker(case: str, n: int) -> None:
    import resource
    import warnings

    import numpy as np
    import scipy.linalg as sla

    import fpsolve as fp

    warnings.simplefilter("ignore")
    K = np.array(KS[case])
    D = 0.5 * np.eye(3)

    def problem(m):
        grid = fp.Grid((-BOX,) * 3, (BOX,) * 3, (m,) * 3)
        return fp.FokkerPlanck(grid, lambda x: -np.einsum("ij,j...->i...", K, x), D)

    fp.stationary(problem(16))
    pr = problem(n)
    t0 = time.perf_counter()
    state = fp.stationary(pr)
    t = time.perf_counter() - t0
    C = sla.solve_continuous_lyapunov(-K, -2.0 * D)
    x = pr.grid.mesh()
    q = np.einsum("i...,ij,j...->...", x, np.linalg.inv(C), x)
    exact = np.exp(-0.5 * q) / np.sqrt((2 * np.pi) ** 3 * np.linalg.det(C))
    tv = 0.5 * float(np.abs(state.density - exact).sum() * pr.grid.cell_volume)
    J = np.einsum("ij,j...->i...", -K, x) * exact + np.einsum("ij,jk,k...->i...", D, np.linalg.inv(C), x) * exact
    flux = np.abs(np.einsum("ij,j...->i...", -K, x) * exact).max()  # the drift flux sets the scale
    cur = float(np.abs(state.current - J).max() / flux)
    Q = 0.5 * (K @ C - C @ K.T)
    sigma = float(-np.trace(Q @ np.linalg.inv(D) @ Q @ np.linalg.inv(C)))
    sig_err = abs(state.entropy_production - sigma) / sigma if sigma > 1e-12 else abs(state.entropy_production)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB (Linux: kB)
    print(json.dumps({"time": t, "path": state.info.method[:60], "tv": tv, "current": cur,
                      "sigma": sig_err, "peak_mb": peak}))


def measure(path: Path, case: str, n: int, timeout: float) -> dict:
    return run_worker(__file__, path, (case, n), timeout)


def fmt(r: dict) -> str:
    if "error" in r:
        return r["error"][:80]
    return (f"{r['time']:7.2f} s  peak {r['peak_mb']:6.0f} MB  TV {r['tv']:.1e}  current {r['current']:.1e}  "
            f"σ {r['sigma']:.1e}  [{r['path']}]")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--cases", nargs="+", default=list(KS))
    parser.add_argument("--before", type=Path)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    for case in args.cases:
        for n in args.sizes:
            load = os.getloadavg()[0]
            now = measure(ROOT, case, n, args.timeout)
            print(f"{case:9s} {n:3d}^3 now    {fmt(now)}   load {load:.1f}", flush=True)
            if args.before is not None:
                old = measure(args.before, case, n, args.timeout)
                print(f"{'':9s} {n:3d}^3 before {fmt(old)}", flush=True)
                if "error" not in now and "error" not in old:
                    print(f"{'':9s}        speed-up {old['time'] / now['time']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
