"""Runs one implementation at one size in a fresh process; prints one JSON line."""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np

from _impls import IMPLEMENTATIONS, IMPLEMENTATIONS_1D
from _problems import exact_1d, total_variation


def main() -> None:
    impl, dim, n, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    func = (IMPLEMENTATIONS if dim == 2 else IMPLEMENTATIONS_1D)[impl]
    func(160 if dim == 2 else 64)  # load libraries and every compiled kernel outside the timing
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = func(n)
        times.append(time.perf_counter() - t0)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if dim == 2:
        tv = total_variation(p, n)
    else:
        h = 5.0 / n
        tv = 0.5 * float(np.abs(p - exact_1d(n)).sum() * h)
    print(json.dumps({"time": min(times), "tv": tv, "peak_mb": (rss1 - rss0) / 1024.0,
                      "negative": bool(p.min() < 0)}))


if __name__ == "__main__":
    main()
