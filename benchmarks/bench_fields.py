"""Landscape fields: loss, gradient and Σ₁ of the 2-parameter tanh model at every grid node.

The paper's 200 points (docs/theory.md §6 loss), ``f = w2 tanh(w1 x)`` (``fp.models.TanhUnit()``),
on a 512² grid over (w1, w2).  Prints fpsolve's Numba kernels beside a NumPy-vectorised
evaluation of the same fields (in blocks of grid rows, to bound memory), their largest
relative difference, the ratio, and the cold start (import + first call, with the Numba
disk cache warm) of a fresh process.

    python benchmarks/bench_fields.py [--n 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

import fpsolve as fp

SIGMA, LAMBDA = 0.1, 1e-3


def numpy_fields(x, y, w1, w2, rows: int = 16):
    """Loss (n1, n2), gradient (n1, n2, 2) and Σ₁ (n1, n2, 2, 2) by NumPy broadcasting."""
    n = x.size
    alpha = n * LAMBDA / SIGMA**2
    n1, n2 = w1.size, w2.size
    loss = np.empty((n1, n2))
    grad = np.empty((n1, n2, 2))
    sig = np.empty((n1, n2, 2, 2))
    W2 = w2[None, :, None]
    for s in range(0, n1, rows):
        W1 = w1[s:s + rows, None, None]
        t = np.tanh(W1 * x)  # (r, 1, N)
        r = W2 * t - y  # (r, n2, N)
        loss[s:s + rows] = n * np.mean(r**2, axis=2) / (2 * SIGMA**2) + 0.5 * alpha * (W1[..., 0] ** 2 + W2[..., 0] ** 2)
        g1 = n / SIGMA**2 * r * W2 * (1 - t**2) * x + alpha * W1
        g2 = n / SIGMA**2 * r * t + alpha * W2
        m1, m2 = g1.mean(axis=2), g2.mean(axis=2)
        grad[s:s + rows, :, 0], grad[s:s + rows, :, 1] = m1, m2
        d1, d2 = g1 - m1[..., None], g2 - m2[..., None]
        sig[s:s + rows, :, 0, 0] = np.mean(d1 * d1, axis=2)
        sig[s:s + rows, :, 0, 1] = sig[s:s + rows, :, 1, 0] = np.mean(d1 * d2, axis=2)
        sig[s:s + rows, :, 1, 1] = np.mean(d2 * d2, axis=2)
    return loss, grad, sig


def cold_start() -> dict:
    code = """
import time, json
t0 = time.perf_counter()
import numpy as np, fpsolve as fp
x, y, _ = fp.datasets.load_adhikari2023()
land = fp.Landscape(fp.models.TanhUnit(), x, y, noise_std=0.1, weight_decay=1e-3)
t1 = time.perf_counter()
land.fields(np.ones((4, 2)), hessian=False)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_call": t2 - t1}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    x, y, _ = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhUnit(), x, y, noise_std=SIGMA, weight_decay=LAMBDA)
    w1 = np.linspace(-3.0, 3.0, args.n)
    w2 = np.linspace(-3.0, 3.0, args.n)
    W = np.stack(np.meshgrid(w1, w2, indexing="ij"), -1).reshape(-1, 2)
    land.fields(W[:8], hessian=False)  # load the kernels

    ours, theirs = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        f = land.fields(W, hessian=False)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        loss, grad, sig = numpy_fields(x, y, w1, w2)
        theirs.append(time.perf_counter() - t)
    rel = max(
        np.max(np.abs(f.loss - loss.ravel()) / np.abs(loss).max()),
        np.max(np.abs(f.gradient - grad.reshape(-1, 2))) / np.abs(grad).max(),
        np.max(np.abs(f.gradient_covariance - sig.reshape(-1, 2, 2))) / np.abs(sig).max(),
    )
    cold = cold_start()
    print(f"fields of TanhUnit (2 parameters), N = {x.size} samples, {args.n}x{args.n} grid "
          f"(loss, gradient, Sigma_1 at every node), best of {args.repeats}")
    print(f"  fpsolve (Numba)    {min(ours):8.3f} s")
    print(f"  NumPy vectorised   {min(theirs):8.3f} s")
    print(f"  ratio NumPy / fpsolve  {min(theirs) / min(ours):6.2f}x")
    print(f"  max relative difference {rel:.2e}")
    print(f"  cold start: import + Landscape {cold['import']:.3f} s, first field call {cold['first_call']:.3f} s")


if __name__ == "__main__":
    main()
