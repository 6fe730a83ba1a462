"""Stationary solve: fpsolve against a plain SciPy Scharfetter-Gummel build and fplanck.

One run on this machine; every measurement runs in a fresh process (so peak memory is per
solve), after a warm-up solve in that process (so library loading and Numba's cache load are
not counted; the cold start is measured separately), and reports the best of three solves.  Prints times, ratios,
total-variation errors against the exact density, peak memory, the time to reach
TV <= 5e-6, and the import and first-solve times of a fresh process.

    python benchmarks/bench_stationary.py [--quick] [--metastable]

The metastable family (double well at barrier/D = 100, gradient and rotational) times the robust
path against the fast path alone in the same process, with the split error of each.
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


def double_well(n: int, barrier: float, gamma: float, tilt: float = 0.0):
    """U = b (x² − 1)² + t D x + y² / 2 on (−1.6, −0.8)–(1.6, 0.8), D = 0.01, b = barrier · D,
    drift −(I − γR)∇U.  Without rotation the discrete state is exactly exp(−U/D) at the cell
    centres; untilted, the split is 1/2 by symmetry."""
    import numpy as np

    import fpsolve as fp

    D = 0.01
    b = barrier * D
    grid = fp.Grid((-1.6, -0.8), (1.6, 0.8), (n, n))

    def drift(x):
        gx, gy = 4 * b * x[0] * (x[0] ** 2 - 1) + tilt * D, x[1]
        return -np.stack((gx + gamma * gy, gy - gamma * gx))

    return fp.FokkerPlanck(grid, drift, D)


def _best(func, repeats: int = 3):
    import time

    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t0)
    return best, out


def metastable_family(sizes) -> None:
    """Time to a correct split: the robust path (fp.stationary) against the fast path alone
    (multigrid / sparse LU, what fp.stationary ran before it had a componentwise test), same
    process, best of three; and the overhead of the checks on a smooth single-basin problem."""
    import warnings

    import numpy as np

    import fpsolve as fp
    from fpsolve.solve import steady_state
    from fpsolve.solve.operator import assemble

    warnings.simplefilter("ignore")
    print(f"\n== metastable double well (barrier/D = 100), relative split error; load "
          f"{os.getloadavg()[0]:.2f} ==")
    for gamma, tilt, name in ((0.0, 3.0, "tilted gradient"), (1.0, 0.0, "rotational NESS")):
        for n in sizes:
            problem = double_well(n, 100.0, gamma, tilt)
            x = problem.grid.mesh()[0]
            if gamma == 0.0:  # the exact discrete state: exp(-U/D) at the centres, in log space
                D, b = 0.01, 1.0
                log_p = -(b * (x ** 2 - 1) ** 2 + tilt * D * x + 0.5 * problem.grid.mesh()[1] ** 2) / D
                w = np.exp(log_p - log_p.max())
                exact = float(w[x < 0].sum() / w.sum())
            else:
                exact = 0.5
            fp.stationary(problem, order=2)  # compile and warm caches
            t_robust, state = _best(lambda: fp.stationary(problem, order=2))
            err_robust = abs(float(state.density[x < 0].sum() * problem.grid.cell_volume) / exact - 1)

            def fast():
                return steady_state._fast_solve(problem, assemble(problem))

            t_fast, out = _best(fast)
            raw, failure = out[0], out[-1]
            if failure is None:
                p = np.maximum(raw, 0)
                err_fast = f"{abs(p[x.ravel() < 0].sum() / p.sum() / exact - 1):.2e}"
            else:
                err_fast = f"fails ({failure[:40]})"
            print(f"  {name:28s} {n}^2: robust ({state.info.path}) {t_robust:7.3f} s, split error "
                  f"{err_robust:.1e} | fast path {t_fast:7.3f} s, split error {err_fast} | "
                  f"ratio {t_robust / t_fast:5.2f}")
    smooth_overhead(sizes)


def smooth_overhead(sizes) -> None:
    """The cost of the checks on a smooth single-basin problem (the NESS OU): fp.stationary(order=2)
    against assembly plus the fast solve alone, interleaved (one of each per round, so load drifts
    hit both), best of 60 rounds up to 256² (a 128² solve takes ~35 ms: 15 rounds left the best
    times ±5 % apart on this shared machine), of 9 above."""
    import time
    import warnings

    import numpy as np

    import fpsolve as fp
    from fpsolve.solve import steady_state
    from fpsolve.solve.operator import assemble

    warnings.simplefilter("ignore")
    K = np.array([[1.0, 1.5], [-0.5, 1.0]])
    print(f"\n== smooth single basin (NESS OU): fp.stationary(order=2) against its fast solve alone, "
          f"interleaved, best of 60 (9 above 256^2); load {os.getloadavg()[0]:.2f} ==")
    for n in sizes:
        repeats = 60 if n <= 256 else 9
        grid = fp.Grid((-6, -6), (6, 6), (n, n))
        problem = fp.FokkerPlanck(grid, lambda x: -np.einsum("ij,j...->i...", K, x), np.diag([0.5, 0.25]))
        state = fp.stationary(problem, order=2)
        full, fast = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fp.stationary(problem, order=2)
            t1 = time.perf_counter()
            steady_state._fast_solve(problem, assemble(problem))
            t2 = time.perf_counter()
            full.append(t1 - t0)
            fast.append(t2 - t1)
        print(f"  {n}^2: fp.stationary(order=2) {min(full):.3f} s ({state.info.path}, checks included), "
              f"assembly + fast solve alone {min(fast):.3f} s: overhead x{min(full) / min(fast):.3f}; "
              f"load {os.getloadavg()[0]:.2f}")


def fmt(r: dict) -> str:
    if "error" in r:
        return f"failed: {r['error'][:60]}"
    neg = "  NEGATIVE DENSITY" if r["negative"] else ""
    return f"{r['time']:8.3f} s   TV {r['tv']:.2e}   peak {r['peak_mb']:7.1f} MB{neg}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128^2 and 256^2 only, no 1024^2 sweep")
    parser.add_argument("--metastable", action="store_true", help="only the double-well family")
    parser.add_argument("--overhead", action="store_true", help="only the checks' overhead on the smooth OU")
    args = parser.parse_args()
    if args.metastable:
        metastable_family((256, 512))
        return
    if args.overhead:
        smooth_overhead((128, 512))
        return
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

    metastable_family((256,) if args.quick else (256, 512))

    print("\n== cold start (fresh process, 128^2 OU) ==")
    first = cold_start()
    second = cold_start()
    print(f"  first process : import {first['import']:.3f} s, first solve {first['first_solve']:.3f} s"
          " (compiles kernels if the Numba cache is empty)")
    print(f"  second process: import {second['import']:.3f} s, first solve {second['first_solve']:.3f} s"
          " (Numba cache warm)")


if __name__ == "__main__":
    main()
