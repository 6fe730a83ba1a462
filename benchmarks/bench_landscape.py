"""Stationary states of landscape-derived problems: the mission's path (issue 14, goal 1).

``f = w2 tanh(w1 x)`` (``fp.models.TanhUnit()``) on the paper's 200 points, noise σ = 0.1,
weight decay 1e-3; ``fp.SGD(learning_rate=3e-4, batch_size=10, temperature=1e-2)`` with and
without replacement (SGLD / SGWORLD), ``fp.stationary(sgd.fokker_planck(land, grid))`` on
(-0.3, 0.3)^2.  Every case runs in a fresh process after a warm-up solve at 32^2 (Numba's
cache loaded, not compiled), best of ``--repeats``.  Prints the time, the assembly and solve
parts, the solver's own error estimate, a refinement check (total variation between the
densities on n^2 and (2n)^2, the finer averaged onto the coarser cells) and, with
``--before DIR`` (a checkout of an older fpsolve), the same figures for that code and the ratios.

    python benchmarks/bench_landscape.py [--sizes 128 512] [--before /tmp/fpsolve-before]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from _fresh import run_worker

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCHEMES = ("with_replacement", "without_replacement")
BOX = 0.3


def _problem(fp, scheme: str, n: int):
    x, y, _ = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhUnit(), x, y, noise_std=0.1, weight_decay=1e-3)
    sgd = fp.SGD(learning_rate=3e-4, batch_size=10, temperature=1e-2, scheme=scheme, epoch_noise="leading_order")
    grid = fp.Grid((-BOX, -BOX), (BOX, BOX), (n, n))
    return sgd.fokker_planck(land, grid)


def worker(scheme: str, n: int, repeats: int, refine: bool) -> None:
    import numpy as np

    import fpsolve as fp

    fp.stationary(_problem(fp, scheme, 32))  # load every kernel outside the timing
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        state = fp.stationary(_problem(fp, scheme, n))
        t = time.perf_counter() - t0
        if best is None or t < best[0]:
            best = (t, state)
    t, state = best
    out = {"time": t, "assembly": state.info.assembly_seconds, "solve": state.info.solve_seconds,
           "estimate": state.info.error_estimate, "order": str(state.info.order),
           "method": state.info.method}
    if refine:
        fine = fp.stationary(_problem(fp, scheme, 2 * n)).density
        coarse = fine.reshape(n, 2, n, 2).mean(axis=(1, 3))
        h = 2 * BOX / n
        out["refinement_tv"] = 0.5 * float(np.abs(state.density - coarse).sum() * h * h)
    print(json.dumps(out))


def measure(path: Path, scheme: str, n: int, repeats: int, refine: bool, timeout: float) -> dict:
    return run_worker(__file__, path, (scheme, n, repeats, int(refine)), timeout)


def fmt(r: dict) -> str:
    if "error" in r:
        return f"{r['error'][:70]}"
    est = "none" if r["estimate"] is None else f"{r['estimate']:.1e}"
    ref = f"   refinement TV {r['refinement_tv']:.1e}" if "refinement_tv" in r else ""
    return (f"{r['time']:8.3f} s (assembly {r['assembly']:7.3f}, solve {r['solve']:7.3f})   "
            f"estimate {est}{ref}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), bool(int(sys.argv[5])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 512])
    parser.add_argument("--schemes", nargs="+", default=list(SCHEMES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--refine", action="store_true", help="add the n vs 2n refinement check")
    parser.add_argument("--before", type=Path, help="an older fpsolve checkout to compare against")
    parser.add_argument("--before-max", type=int, default=64, help="largest size run on --before")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average), {os.cpu_count()} cores")
    for scheme in args.schemes:
        for n in args.sizes:
            now = measure(ROOT, scheme, n, args.repeats, args.refine, args.timeout)
            print(f"{scheme:20s} {n:4d}^2  now    {fmt(now)}", flush=True)
            if args.before is not None and n <= args.before_max:
                old = measure(args.before, scheme, n, 1, args.refine, args.timeout)
                print(f"{'':20s} {n:4d}^2  before {fmt(old)}", flush=True)
                if "error" not in now and "error" not in old:
                    print(f"{'':20s}         speed-up {old['time'] / now['time']:.1f}x", flush=True)


if __name__ == "__main__":
    main()
