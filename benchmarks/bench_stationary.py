"""Stationary solve: fpsolve against a plain SciPy Scharfetter-Gummel build and fplanck.

One run on this machine; every measurement runs in a fresh process (so peak memory is per
solve), after a warm-up solve in that process (so library loading and Numba's cache load are
not counted; the cold start is measured separately), and reports the best of three solves.  Prints times, ratios,
total-variation errors against the exact density, peak memory, the time to reach
TV <= 5e-6, and the import and first-solve times of a fresh process.

    python benchmarks/bench_stationary.py [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _problems import TV_TARGET  # noqa: E402


def measure(impl: str, n: int, dim: int = 2, repeats: int = 1) -> dict:
    env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, str(HERE / "_worker.py"), impl, str(dim), str(n), str(repeats)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_start(n: int = 128) -> dict:
    code = f"""
import time, json
t0 = time.perf_counter()
import fpsolve as fp
t1 = time.perf_counter()
import numpy as np
grid = fp.Grid((-6, -6), (6, 6), ({n}, {n}))
K = np.array([[1.0, 1.5], [-0.5, 1.0]])
state = fp.stationary(fp.FokkerPlanck(grid, lambda x: -np.einsum('ij,j...->i...', K, x), np.diag([0.5, 0.25])))
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first_solve": t2 - t1}}))
"""
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     check=True).stdout.strip().splitlines()[-1])


def fmt(r: dict) -> str:
    if "error" in r:
        return f"failed: {r['error'][:60]}"
    neg = "  NEGATIVE DENSITY" if r["negative"] else ""
    return f"{r['time']:8.3f} s   TV {r['tv']:.2e}   peak {r['peak_mb']:7.1f} MB{neg}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128^2 and 256^2 only, no 1024^2 sweep")
    args = parser.parse_args()
    have_fplanck = importlib.util.find_spec("fplanck") is not None
    impls = ["fpsolve", "scipy-sg"] + (["fplanck"] if have_fplanck else [])
    if not have_fplanck:
        print("fplanck not installed (pip install fplanck): skipped")

    print("\n== 2-D non-equilibrium OU, [-6, 6]^2, K = [[1, 1.5], [-0.5, 1]], D = diag(0.5, 0.25) ==")
    sizes = (128, 256) if args.quick else (128, 256, 512)
    for n in sizes:
        # best of 3 (fplanck: one run at 512^2, it takes tens of seconds)
        results = {impl: measure(impl, n, repeats=1 if (impl == "fplanck" and n >= 512) else 3)
                   for impl in impls}
        print(f"\n{n} x {n}")
        for impl, r in results.items():
            print(f"  {impl:9s} {fmt(r)}")
        ours = results["fpsolve"]
        for impl, r in results.items():
            if impl != "fpsolve" and "error" not in r and "error" not in ours:
                print(f"  fpsolve vs {impl}: {r['time'] / ours['time']:6.1f}x faster, "
                      f"{r['tv'] / ours['tv']:8.1f}x smaller TV error")

    print(f"\n== time to accuracy: smallest grid reaching TV <= {TV_TARGET:g} ==")
    ladder = {"fpsolve": (64, 96, 128, 160, 192, 256),
              "scipy-sg": (256, 384, 512, 768) if args.quick else (256, 384, 512, 768, 1024),
              "fplanck": (128, 192, 256, 384)}
    for impl in impls:
        reached = None
        for n in ladder[impl]:
            r = measure(impl, n)
            if "error" in r:
                print(f"  {impl:9s} {n}^2 {fmt(r)}")
                break
            if r["tv"] <= TV_TARGET:
                reached = (n, r)
                break
        if reached:
            n, r = reached
            print(f"  {impl:9s} {n:5d}^2 {fmt(r)}")
        else:
            print(f"  {impl:9s} not reached up to {ladder[impl][-1]}^2")

    print("\n== 1-D double well, 2e4 cells ==")
    n1 = 20000
    r1 = {impl: measure(impl, n1, dim=1, repeats=5) for impl in ("fpsolve", "scipy-sg")}
    for impl, r in r1.items():
        print(f"  {impl:9s} {fmt(r)}")
    if "error" not in r1["fpsolve"] and "error" not in r1["scipy-sg"]:
        print(f"  fpsolve vs scipy-sg: {r1['scipy-sg']['time'] / r1['fpsolve']['time']:.1f}x faster")

    print("\n== cold start (fresh process, 128^2 OU) ==")
    first = cold_start()
    second = cold_start()
    print(f"  first process : import {first['import']:.3f} s, first solve {first['first_solve']:.3f} s"
          " (compiles kernels if the Numba cache is empty)")
    print(f"  second process: import {second['import']:.3f} s, first solve {second['first_solve']:.3f} s"
          " (Numba cache warm)")


if __name__ == "__main__":
    main()
