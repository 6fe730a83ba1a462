"""Trajectory entropy production: fpsolve's Numba kernel against a NumPy-vectorised evaluation.

The 2-D non-equilibrium OU steady state (drift -K x, K = [[1, 1.5], [-0.5, 1]], D = diag(0.5, 0.25),
reflecting box [-6, 6]^2, 256^2 grid) and stationary Langevin walkers recorded every step.
Both sides evaluate the same formulas (the midpoint rule for ``Δs_tot = Σ (D⁻¹v)(x_mid)·Δx`` and
``Δs_sys = ln p(x_start) − ln p(x_end)``, ``D⁻¹v`` and ``ln p`` interpolated bilinearly from the
cell centres, per window of ``--window`` intervals):

- fpsolve: ``fp.thermo.entropy_production(run, state, window)``, streaming over the records
  (its allocations are the (walkers, windows) outputs and a few length-d vectors per walker);
- NumPy: the same interpolation vectorised over a chunk of ``--chunk`` walkers and all their
  records at once (chunked, else its temporaries would be several copies of the trajectory).

The two run interleaved ``--repeat`` times; medians, the ratio, the largest difference between
the two results, the first call (compilation or loading the cache), the growth of the
process's peak memory during each, and the load average are printed.

    python benchmarks/bench_thermo.py [--walkers 100000] [--records 1000] [--window 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _problems import BOX, C, D, drift, print_load_after, print_machine  # noqa: E402

DT = 0.01
TARGET_RATIO = 5.0  # against NumPy (issue)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def numpy_ds(records: np.ndarray, window: int, table: np.ndarray, grid, chunk: int):
    """Midpoint Δs_tot and Δs_sys per window, bilinear fields, NumPy-vectorised over walker chunks."""
    lower = np.array(grid.lower)
    h = np.array(grid.spacing)
    n = np.array(grid.shape)
    W, R, d = records.shape
    n_win = (R - 1) // window
    out = np.empty((W, n_win))
    sys_out = np.empty((W, n_win))

    def interp(x):  # x (..., 2) -> (..., 3): bilinear, clamped stencil as in the engine
        u = (x - lower) / h - 0.5
        i = np.clip(np.floor(u), 0, n - 2).astype(np.int64)
        f = u - i
        i = np.clip(i, 0, n - 2)
        f0, f1 = f[..., 0:1], f[..., 1:2]
        flat = i[..., 0] * n[1] + i[..., 1]
        return ((1 - f0) * (1 - f1) * table[flat] + (1 - f0) * f1 * table[flat + 1]
                + f0 * (1 - f1) * table[flat + n[1]] + f0 * f1 * table[flat + n[1] + 1])

    for s in range(0, W, chunk):
        x = records[s:s + chunk, : n_win * window + 1]
        dx = np.diff(x, axis=1)
        mid = x[:, :-1] + 0.5 * dx
        inc = np.einsum("wrk,wrk->wr", interp(mid)[..., :d], dx)
        out[s:s + chunk] = inc.reshape(x.shape[0], n_win, window).sum(axis=2)
        log_p = interp(x[:, ::window])[..., d]
        sys_out[s:s + chunk] = log_p[:, :-1] - log_p[:, 1:]
    return out, sys_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walkers", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--cells", type=int, default=256)
    parser.add_argument("--chunk", type=int, default=2000, help="walkers per NumPy chunk")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    W, R, m = args.walkers, args.records, args.cells

    t0 = time.perf_counter()
    import numba  # noqa: F401 - its import time counts in the setup line

    import fpsolve as fp
    from fpsolve.thermo import _solve_fields, _table

    grid = fp.Grid((-BOX, -BOX), (BOX, BOX), (m, m))
    problem = fp.FokkerPlanck(grid, drift=drift, diffusion=D)
    state = fp.stationary(problem)
    x0 = np.random.default_rng(1).multivariate_normal(np.zeros(2), C, W)
    run = fp.simulate.langevin(problem, x0, dt=DT, n_steps=R - 1, rng=2, progress=False,
                               max_record_bytes=8 * 1024**3)
    setup = time.perf_counter() - t0
    gib = run.weights.nbytes / 1024**3
    load0 = print_machine(f"; {W} walkers x {R} records (trajectory {gib:.2f} GiB), "
                          f"window {args.window}, {m}^2 grid")
    print(f"import + stationary solve + simulation: {setup:.2f} s")

    t = time.perf_counter()
    small = fp.thermo.entropy_production(run.weights[:8, :21], state, window=args.window, dt=DT)
    first = time.perf_counter() - t
    table = _table([_solve_fields(problem.diffusion_at_cells(), state.velocity),
                    np.log(np.maximum(state.density, np.finfo(float).tiny))[None]])
    assert small.total.shape[0] == 8

    times = {"fpsolve kernel": [], "numpy vectorised": []}
    growth = {}
    for _ in range(args.repeat):
        before = peak_mib()
        t = time.perf_counter()
        ds = fp.thermo.entropy_production(run, state, window=args.window)
        times["fpsolve kernel"].append(time.perf_counter() - t)
        growth["fpsolve kernel"] = max(growth.get("fpsolve kernel", 0.0), peak_mib() - before)
        before = peak_mib()
        t = time.perf_counter()
        ref, ref_sys = numpy_ds(run.weights, args.window, table, grid, args.chunk)
        times["numpy vectorised"].append(time.perf_counter() - t)
        growth["numpy vectorised"] = max(growth.get("numpy vectorised", 0.0), peak_mib() - before)
    med = {k: float(np.median(v)) for k, v in times.items()}
    diff = max(float(np.abs(ds.total - ref).max()), float(np.abs(ds.system - ref_sys).max()))
    n_int = W * (R - 1)
    print(f"{'implementation':20s} {'intervals/s':>12s} {'vs numpy':>9s} {'peak RSS growth':>16s}   "
          f"(medians of {args.repeat})")
    for k, s in med.items():
        print(f"{k:20s} {n_int / s:12.3e} {med['numpy vectorised'] / s:8.2f}x {growth[k]:13.0f} MiB")
    ratio = med["numpy vectorised"] / med["fpsolve kernel"]
    print(f"first call (compile or cache load): {first:.2f} s; max |Δs_fpsolve − Δs_numpy| = {diff:.2e}")
    print(f"target: >= {TARGET_RATIO:.0f}x numpy: {'met' if ratio >= TARGET_RATIO else 'NOT met'} ({ratio:.1f}x); "
          f"outputs {3 * ds.total.nbytes / 1024**2:.0f} MiB (total, system, medium)")
    print_load_after(load0)
    print("(peak RSS growth: later runs reuse freed memory, so the first repeat sets it; NumPy's "
          "temporaries scale with --chunk, the kernel's with nothing but its outputs)")


if __name__ == "__main__":
    main()
