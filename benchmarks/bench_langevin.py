"""Langevin walkers: fpsolve's parallel Numba engine against a NumPy-vectorised Euler--Maruyama.

The 2-D non-equilibrium OU problem (drift -K x, K = [[1, 1.5], [-0.5, 1]], D = diag(0.5, 0.25),
reflecting box [-6, 6]^2) with 10^5 walkers, dt = 0.01, in one run:

- fpsolve, fields from the problem's 256^2 grid arrays (bilinear interpolation), no records;
- fpsolve, the same drift as a jitted callable (fp.simulate.Fields);
- NumPy: x += -dt x K^T + sqrt(dt) xi B^T per step over all walkers, with ``rng.standard_normal``,
  running sums for the mean and covariance (the streaming statistics fpsolve keeps), no walls.

Both sides do Euler--Maruyama and streaming moments; fpsolve also checks the walls and
non-finite values every step.  The implementations run interleaved ``--repeat`` times and the
medians of walker-steps per second are printed, with the ratio, the first-call time
(compilation, or loading the cache), the jitted-callable path's time over the grid path's
(goal: at most 1.5) and the machine's load average before and after.

``--before DIR`` (a checkout of an older fpsolve) also times that checkout's kernels
(``DIR/fpsolve/_kernels``, imported under another name) on the same walker arrays as today's,
interleaved in this process: best of ``--repeat`` in walker-steps per wall second and per CPU
second of the process (the latter is less sensitive to other processes taking the cores), the
ratios, and whether the two give the same bits.

    python benchmarks/bench_langevin.py [--walkers 100000] [--steps 500] [--cells 256] [--repeat 3]
                                        [--before /tmp/fpsolve-before]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _problems import BOX, C, D, K, drift, print_load_after, print_machine  # noqa: E402

DT = 0.01
TARGET_RATE = 1e8  # walker-steps per second on the two cores (issue 14, goal 5)
TARGET_RATIO = 3.0  # against NumPy
TARGET_CALLABLE = 1.5  # the jitted-callable path at most this many times slower than the grid path


def load_kernels(checkout: Path, name: str = "_before_kernels"):
    """``checkout/fpsolve/_kernels`` imported as package ``name`` (its modules import each other
    relatively, so today's fpsolve stays untouched); returns its ``langevin`` module."""
    folder = checkout / "fpsolve" / "_kernels"
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{name}.langevin")


def kernel_arrays(lk, problem, W: int, n_records: int = 0):
    """Walker state at the origin (seed 1) and the grid tables, as the driver builds them."""
    from fpsolve._kernels import random as rk
    from fpsolve.simulate.langevin import noise_matrix

    d = 2
    rng = np.empty((W, 4), np.uint64)
    rk.seed_states(np.uint64(1), 0, rng)
    walkers = lk.Walkers(np.zeros((W, d)), rng, np.zeros(W, np.int64), np.zeros((W, d)),
                         np.zeros((W, d)), np.zeros((W, d, d)), np.zeros(W, np.int64),
                         np.full(W, -1, np.int64), np.full(W, -1, np.int64),
                         np.full((W, n_records, d), np.nan))
    box = lk.Box(np.array(problem.grid.lower), np.array(problem.grid.upper), np.zeros(d, np.int64))
    drift_table = np.ascontiguousarray(problem.drift_field.reshape(d, -1).T)
    noise_table = np.ascontiguousarray(noise_matrix(problem.diffusion_field).reshape(d * d, 1).T)
    shape = np.array(problem.grid.shape, np.int64)
    tables = lk.Tables(shape, 1.0 / np.array(problem.grid.spacing), np.array([shape[1], 1], np.int64),
                       drift_table, noise_table)
    return walkers, box, tables


def compare_before(checkout: Path, problem, fields, W: int, n: int, repeat: int) -> None:
    """Today's kernels against ``checkout``'s, same arrays, interleaved, best of ``repeat``."""
    import fpsolve._kernels.langevin as new

    old = load_kernels(checkout)
    B = np.ascontiguousarray(np.linalg.cholesky(2 * D).reshape(4))

    def grid_run(lk):
        walkers, box, tables = kernel_arrays(lk, problem, W)
        span = lk.Span(0, n, n // 5, 0, DT, 0)
        return lambda: lk.langevin_grid(walkers, span, box, tables), walkers

    def callable_run(lk):
        walkers, box, _ = kernel_arrays(lk, problem, W)
        span = lk.Span(0, n, n // 5, 0, DT, 0)
        return lambda: lk.langevin_callable(fields.drift, lk.no_diffusion, walkers, span, box, B,
                                            False), walkers

    cases = [(f"{path} {label}", make, lk) for path, make in (("grid", grid_run), ("callable", callable_run))
             for label, lk in (("before", old), ("today", new))]
    for _, make, lk in cases:  # compile (or load the cache) outside the timings
        make(lk)[0]()
    best = {name: (np.inf, np.inf) for name, _, _ in cases}
    finals = {}
    for _ in range(repeat):
        for name, make, lk in cases:
            call, walkers = make(lk)
            wall, cpu = time.perf_counter(), time.process_time()
            call()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
            finals[name] = walkers
    print(f"kernels against {checkout} (best of {repeat}, {W} walkers x {n} steps, load "
          f"{os.getloadavg()[0]:.2f}):")
    print(f"{'kernel':18s} {'steps/wall-s':>13s} {'steps/cpu-s':>12s} {'x before (wall, cpu)':>21s} {'same bits':>10s}")
    for name, _, lk in cases:
        ref = name.replace("today", "before")
        same = all(np.array_equal(getattr(finals[name], f), getattr(finals[ref], f))
                   for f in ("pos", "rng", "count", "sum1", "sum2"))
        print(f"{name:18s} {W * n / best[name][0]:13.3e} {W * n / best[name][1]:12.3e} "
              f"{best[ref][0] / best[name][0]:9.2f} {best[ref][1] / best[name][1]:9.2f}x {str(same):>10s}")


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
    parser.add_argument("--cells", type=int, default=256, help="grid cells per axis")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (medians)")
    parser.add_argument("--no-callable", action="store_true", help="skip the jitted-callable path")
    parser.add_argument("--before", type=Path, help="an older fpsolve checkout whose kernels to compare")
    args = parser.parse_args()
    W, n, m = args.walkers, args.steps, args.cells

    t0 = time.perf_counter()
    import numba

    import fpsolve as fp

    grid = fp.Grid((-BOX, -BOX), (BOX, BOX), (m, m))
    problem = fp.FokkerPlanck(grid, drift=drift, diffusion=D)

    @numba.njit
    def ou_drift(x, out):
        out[0] = -(K[0, 0] * x[0] + K[0, 1] * x[1])
        out[1] = -(K[1, 0] * x[0] + K[1, 1] * x[1])

    fields = fp.simulate.Fields(ou_drift, D, grid=grid)
    setup = time.perf_counter() - t0
    load0 = print_machine(f" (layer {numba.config.THREADING_LAYER!r}); {W} walkers x {n} steps, "
                          f"dt={DT}, {m}^2 grid")
    print(f"import + problem setup: {setup:.2f} s")

    targets = [("fpsolve grid arrays", problem)]
    if not args.no_callable:
        targets.append(("fpsolve jitted callable", fields))
    first = {}
    for name, target in targets:
        t = time.perf_counter()
        fp.simulate.langevin(target, (0.0, 0.0), dt=DT, n_steps=2, n_walkers=8, record_every=0, rng=1)
        first[name] = time.perf_counter() - t
    first["numpy vectorised EM"] = 0.0

    times: dict[str, list[float]] = {name: [] for name in first}
    errors: dict[str, float] = {}
    for _ in range(args.repeat):  # interleaved, so a change in the machine's load hits all alike
        for name, target in targets:
            t = time.perf_counter()
            run = fp.simulate.langevin(target, (0.0, 0.0), dt=DT, n_steps=n, n_walkers=W,
                                       burn_in=n // 5, record_every=0, rng=1, progress=False)
            times[name].append(time.perf_counter() - t)
            errors[name] = np.abs(run.covariance() - C).max()
        seconds_np, cov_np = numpy_em(W, n, n // 5)
        times["numpy vectorised EM"].append(seconds_np)
        errors["numpy vectorised EM"] = np.abs(cov_np - C).max()
    med = {name: float(np.median(v)) for name, v in times.items()}
    np_s = med["numpy vectorised EM"]

    print(f"{'implementation':26s} {'walker-steps/s':>15s} {'vs numpy':>9s} {'first call':>11s} "
          f"{'max|C - C_exact|':>17s}   (medians of {args.repeat})")
    for name, seconds in med.items():
        print(f"{name:26s} {W * n / seconds:15.3e} {np_s / seconds:8.2f}x {first[name]:10.2f}s "
              f"{errors[name]:17.3e}")
    grid_s = med["fpsolve grid arrays"]
    met = W * n / grid_s >= TARGET_RATE and np_s / grid_s >= TARGET_RATIO
    print(f"target: >= {TARGET_RATE:.0e} walker-steps/s and >= {TARGET_RATIO:.0f}x numpy (grid path): "
          f"{'met' if met else 'NOT met'}")
    if not args.no_callable:
        slower = med["fpsolve jitted callable"] / grid_s
        print(f"jitted callable / grid arrays: {slower:.2f}x the time (target <= {TARGET_CALLABLE}): "
              f"{'met' if slower <= TARGET_CALLABLE else 'NOT met'}")
    if args.before is not None:
        compare_before(args.before, problem, fields, W, n, args.repeat)
    print_load_after(load0, "; another process's load takes cores from the threads, so rates vary "
                            "between runs")
    print("(C error: EM's O(dt) stationary bias plus sampling noise; numpy has no walls)")


if __name__ == "__main__":
    main()
