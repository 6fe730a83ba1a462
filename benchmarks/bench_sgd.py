"""Minibatch SGD on the paper's 7-parameter network: fpsolve's Numba engine against a NumPy loop.

The data of Adhikari et al. (2023) (N = 200, σ = 0.1, λ = 1e-3, docs/theory.md §6), b = 10,
η = 1e-7, batches with replacement (a fresh subset of b distinct indices every step), started at
the minimum, no records (streaming mean and covariance only), in one run:

- fpsolve, one chain;
- fpsolve, two chains in parallel (threads);
- NumPy, one step per loop iteration: ``rng.choice(N, b, replace=False)``, the batch gradient
  vectorised over the b samples, running sums for the mean and covariance.

Steps per second (chain-steps for two chains) are printed with the ratio to NumPy, the
first-call time (compilation, or loading the disk cache) separately, and the time the paper's
3·10⁷-step stationary run would take.

    python benchmarks/bench_sgd.py [--steps 3000000] [--numpy-steps 20000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

ETA = 1e-7
BATCH = 10
PAPER_STEPS = 30_000_000
TARGET_RATE = 3e6  # steps per second on one chain (issue)
TARGET_RATIO = 50.0  # against the NumPy loop


def numpy_sgd(x, y, w0, steps, noise_std=0.1, weight_decay=1e-3, seed=0):
    """Plain per-step NumPy SGD on ``f = w5 tanh(w1 x + w3) + w6 tanh(w2 x + w4) + w7``."""
    rng = np.random.default_rng(seed)
    N = x.size
    scale = N / noise_std**2  # ∇ℓ_i = N (f − y) ∇f / σ² + α w
    alpha = N * weight_decay / noise_std**2
    w = w0.copy()
    s1 = np.zeros(7)
    s2 = np.zeros((7, 7))
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = rng.choice(N, BATCH, replace=False)
        z, t = x[idx], y[idx]
        t1 = np.tanh(w[0] * z + w[2])
        t2 = np.tanh(w[1] * z + w[3])
        r = (w[4] * t1 + w[5] * t2 + w[6] - t) * scale
        s_1 = r * w[4] * (1 - t1 * t1)
        s_2 = r * w[5] * (1 - t2 * t2)
        g = np.array([(s_1 * z).mean(), (s_2 * z).mean(), s_1.mean(), s_2.mean(),
                      (r * t1).mean(), (r * t2).mean(), r.mean()]) + alpha * w
        w -= ETA * g
        s1 += w
        s2 += np.outer(w, w)
    seconds = time.perf_counter() - t0
    return seconds, w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3_000_000)
    parser.add_argument("--numpy-steps", type=int, default=20_000)
    args = parser.parse_args()
    n = args.steps

    t0 = time.perf_counter()
    import numba

    import fpsolve as fp

    x, y, w_min = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1, weight_decay=1e-3)
    sgd = fp.SGD(learning_rate=ETA, batch_size=BATCH, scheme="with_replacement")
    setup = time.perf_counter() - t0
    print(f"machine: {numba.config.NUMBA_NUM_THREADS} numba threads; paper's net, N = {land.n_samples}, "
          f"b = {BATCH}, eta = {ETA:g}; {n} steps per chain")
    print(f"import + landscape setup: {setup:.2f} s")

    t = time.perf_counter()
    fp.simulate.sgd(land, sgd, w_min, n_steps=10, record_every=0, rng=1)
    first = time.perf_counter() - t
    rows = []
    for chains in (1, 2):
        t = time.perf_counter()
        run = fp.simulate.sgd(land, sgd, w_min, n_steps=n, n_chains=chains, record_every=0, rng=1,
                              progress=False)
        seconds = time.perf_counter() - t
        assert run.status == "completed"
        rows.append((f"fpsolve, {chains} chain{'s' if chains > 1 else ''}", chains * n / seconds,
                     first if chains == 1 else 0.0))
    seconds_np, _ = numpy_sgd(x, y, w_min, args.numpy_steps)
    rate_np = args.numpy_steps / seconds_np
    rows.append(("numpy per-step loop", rate_np, 0.0))

    print(f"{'implementation':22s} {'steps/s':>12s} {'vs numpy':>10s} {'first call':>11s}")
    for name, rate, first_call in rows:
        print(f"{name:22s} {rate:12.3e} {rate / rate_np:9.1f}x {first_call:10.2f}s")
    one = rows[0][1]
    print(f"paper's {PAPER_STEPS:.0e}-step stationary run: {PAPER_STEPS / one:.1f} s with fpsolve (one chain), "
          f"{PAPER_STEPS / rate_np / 3600:.1f} h with the numpy loop")
    met = one >= TARGET_RATE and one / rate_np >= TARGET_RATIO
    print(f"target: >= {TARGET_RATE:.0e} steps/s on one chain and >= {TARGET_RATIO:.0f}x numpy: "
          f"{'met' if met else 'NOT met'} (the machine may be shared, so rates vary between runs)")


if __name__ == "__main__":
    main()
