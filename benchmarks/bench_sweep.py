"""Sweep throughput: a (learning_rate, batch_size) diagram of grid solves on 1 and 2 local
workers and on a 2-worker Dask LocalCluster, and the per-point overhead of fp.sweep.

The diagram is ``fp.diagrams.tanhnet_slice`` with one with-replacement grid solve of
``--cells``² per point (``without_replacement=False``); the issue's size is ``--n 20 --cells
128``.  Each configuration writes its own zarr store, as a user's sweep would.  Reports the
whole diagram's wall time (what a user waits for, worker start-up included), points per
second, the scaling efficiency ``T₁ₜ / (2 T₂)`` against one worker on one core (one Numba
thread: two workers get one core each, since fp.sweep splits the cores among its workers) and
the speed-up ``T₁ / T₂`` over one worker using every core (what parallel points gain over
parallel kernels).  The overhead is measured with an empty
function: ``(T(400 points) − T(1 point)) / 399`` per point, with and without a store, against
a plain Python loop.

Run ``python benchmarks/bench_sweep.py [--n 20] [--cells 128]``; numbers depend on load
(``uptime`` is printed before and after).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

import fpsolve as fp
from fpsolve.diagrams import tanhnet_slice

BATCH_SIZES = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 100, 125, 150]


def empty(a: float, b: float) -> dict:
    return {"x": 0.0}


def load() -> str:
    return open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"


def timed(func, axes, settings, executor, store, **kw):
    if store is not None:
        shutil.rmtree(store, ignore_errors=True)
    t = time.perf_counter()
    ds = fp.sweep(
        func, axes, store=store, executor=executor, settings=settings, progress=False, **kw
    )
    return time.perf_counter() - t, ds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=20, help="points per axis (default 20, at most 20)"
    )
    parser.add_argument("--cells", type=int, default=128, help="grid cells per axis (default 128)")
    args = parser.parse_args()
    n = min(args.n, len(BATCH_SIZES))
    axes = {
        "learning_rate": [float(v) for v in np.geomspace(1e-7, 1e-5, n)],
        "batch_size": BATCH_SIZES[:: max(1, len(BATCH_SIZES) // n)][:n],
    }
    settings = {"cells": args.cells, "without_replacement": False}
    tmp = tempfile.mkdtemp(prefix="bench_sweep_")
    print(f"load before: {load()} (cpus: {os.cpu_count()})")
    t = time.perf_counter()
    tanhnet_slice(1e-6, 10, cells=args.cells, without_replacement=False)  # compile (cache) once
    print(f"warm-up point (compiles on a cold cache): {time.perf_counter() - t:.2f} s")

    n_points = n * n
    print(f"\n{n}x{n} diagram of {args.cells}^2 grid solves ({n_points} points)")
    rows = {}
    os.environ["NUMBA_NUM_THREADS"] = "1"  # the spawned worker's Numba: one thread, one core
    try:
        rows["1 process, 1 thread"], ds0 = timed(
            tanhnet_slice, axes, settings, "processes", f"{tmp}/p0.zarr", n_workers=1
        )
    finally:
        del os.environ["NUMBA_NUM_THREADS"]
    rows["1 process"], ds1 = timed(
        tanhnet_slice, axes, settings, "processes", f"{tmp}/p1.zarr", n_workers=1
    )
    rows["2 processes"], ds2 = timed(
        tanhnet_slice, axes, settings, "processes", f"{tmp}/p2.zarr", n_workers=2
    )
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("distributed not installed: no LocalCluster row")
    else:
        t0 = time.perf_counter()
        # (the cluster tests/test_sweep.py's _two_workers checks; a benchmark does not import tests)
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            start = time.perf_counter() - t0
            rows["Dask 2 workers"], ds3 = timed(
                tanhnet_slice, axes, settings, client, f"{tmp}/d2.zarr"
            )
            rows["Dask 2 workers"] += start
        same = np.array_equal(ds1.sigma_grid.values, ds3.sigma_grid.values, equal_nan=True)
        print(f"(LocalCluster start {start:.1f} s included; same sigma_grid as 1 process: {same})")
    same = np.array_equal(ds1.sigma_grid.values, ds2.sigma_grid.values, equal_nan=True)
    print(
        f"(2 processes give the same sigma_grid as 1: {same}; failed points: {ds1.attrs['n_failed']})"
    )
    same = np.array_equal(ds0.sigma_grid.values, ds1.sigma_grid.values, equal_nan=True)
    print(f"(1 thread gives the same sigma_grid as {os.cpu_count()}: {same})")
    t0, t1 = rows["1 process, 1 thread"], rows["1 process"]
    print(
        f"{'executor':<22} {'wall s':>8} {'points/s':>9} {'efficiency':>10} {'speed-up':>9}\n"
        f"{'':<22} {'':>8} {'':>9} {'T₁ₜ/(2 T)':>10} {'T₁/T':>9}"
    )
    for name, wall in rows.items():
        eff = f"{t0 / (2 * wall):10.0%}" if name.startswith(("2", "Dask")) else f"{'':>10}"
        print(f"{name:<22} {wall:8.1f} {n_points / wall:9.2f} {eff} {t1 / wall:9.2f}")

    print("\nper-point overhead of an empty function (20x20 points)")
    eaxes = {"a": [float(v) for v in range(20)], "b": [float(v) for v in range(20)]}
    one = {"a": [0.0], "b": [0.0]}
    t = time.perf_counter()
    for a in eaxes["a"]:
        for b in eaxes["b"]:
            empty(a, b)
    loop = (time.perf_counter() - t) / 400
    print(f"{'plain loop':<28} {loop * 1e3:8.3f} ms/point")
    for label, executor, kw, store in (
        ("serial, no store", "serial", {}, None),
        ("serial, store", "serial", {}, f"{tmp}/e.zarr"),
        ("2 processes, no store", "processes", {"n_workers": 2}, None),
        ("2 processes, store", "processes", {"n_workers": 2}, f"{tmp}/e.zarr"),
    ):
        t_one, _ = timed(empty, one, None, executor, store, **kw)
        t_all, _ = timed(empty, eaxes, None, executor, store, **kw)
        print(f"{label:<28} {(t_all - t_one) / 399 * 1e3:8.3f} ms/point  (start-up {t_one:.2f} s)")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nload after: {load()}")


if __name__ == "__main__":
    main()
