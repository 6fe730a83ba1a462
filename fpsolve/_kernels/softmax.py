"""Kernels of softmax (multinomial logistic) regression: per-sample losses and gradients, and
minibatch SGD chains.

Arrays (``N`` samples, ``p`` features, ``K`` classes, ``d = K (p + 1)`` parameters)
----------------------------------------------------------------------------------------
``w``        (d,)      weights, class-major: ``w[c (p+1) + j]`` multiplies feature ``j`` of class
                       ``c``; ``j = p`` is the class bias
``X``        (N, p)    inputs
``Y``        (N,)      class labels ``0 … K-1`` (int64)
``decay``    float     ``λ``: every per-sample loss carries ``½ λ |w|²``

Per-sample loss ``ℓ_i = log Σ_c e^{z_c} − z_{y_i} + ½ λ |w|²`` with logits ``z_c = W_c · (x_i, 1)``;
its gradient is ``(π_c − [c = y_i]) (x_i, 1) + λ w`` with ``π = softmax(z)``.

The minibatch draws reuse the SGD engine's batch sampler (``next_batch``, with-replacement
scheme: ``b`` distinct indices, fresh every step) and its xoshiro256** seeding, imported.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import prange

from ._jit import jit, jit_inline, jit_parallel
from .codes import WITH_REPLACEMENT
from .random import seed_walker
from .sgd import next_batch

# Grouped arguments of :func:`sgd_chains` (as the SGD kernels' ``Loss`` and ``Run``): the data
# X (N, p), integer classes Y (N,), the number of classes K and the weight decay; the run's
# learning rate, batch size, step counts and seed; the records' projection ``basis @ (w −
# center)`` (``basis`` (m, d), or (0, d) for ``w`` itself).
SoftmaxData = namedtuple("SoftmaxData", "X Y K decay")
SoftmaxRun = namedtuple("SoftmaxRun", "eta batch_size n_steps burn_in record_every seed")
Projection = namedtuple("Projection", "center basis")


@jit_inline
def _probabilities(w, x, p, K, z):
    """Softmax probabilities into ``z`` (K); returns ``log Σ_c e^{z_c}``."""
    top = -np.inf
    for c in range(K):
        base = c * (p + 1)
        s = w[base + p]
        for j in range(p):
            s += w[base + j] * x[j]
        z[c] = s
        if s > top:
            top = s
    total = 0.0
    for c in range(K):
        z[c] = math.exp(z[c] - top)
        total += z[c]
    for c in range(K):
        z[c] /= total
    return top + math.log(total)


@jit
def per_sample(w, X, Y, K, loss, grad, prob):
    """Cross-entropy ``loss`` (N,), its gradient ``grad`` (N, d) and ``prob`` (N, K), no decay term."""
    N, p = X.shape
    z = np.empty(K)
    for i in range(N):
        lse = _probabilities(w, X[i], p, K, z)
        y = Y[i]
        base = y * (p + 1)
        zy = w[base + p]
        for j in range(p):
            zy += w[base + j] * X[i, j]
        loss[i] = lse - zy
        for c in range(K):
            r = z[c] - (1.0 if c == y else 0.0)
            prob[i, c] = z[c]
            b = c * (p + 1)
            for j in range(p):
                grad[i, b + j] = r * X[i, j]
            grad[i, b + p] = r


@jit_inline
def _record(w, center, basis, out):
    """``out = w`` (empty basis) or ``basis @ (w − center)``."""
    d = w.shape[0]
    if basis.shape[0] == 0:
        for k in range(d):
            out[k] = w[k]
        return
    for a in range(basis.shape[0]):
        s = 0.0
        for k in range(d):
            s += basis[a, k] * (w[k] - center[k])
        out[a] = s


@jit_parallel
def sgd_chains(W0, data, run, projection, records, perm):
    """Minibatch SGD ``w ← w − η (∇ mean_{i∈B} CE_i + λ w)`` for every chain (row of ``W0``)
    (``data``: :data:`SoftmaxData`, ``run``: :data:`SoftmaxRun`, ``projection``: :data:`Projection`).

    ``records`` (n_chains, R, m) receives, after steps ``burn_in, burn_in + record_every, …``,
    either ``w`` itself (``basis`` of shape (0, d), ``m = d``) or its projection
    ``basis @ (w − center)`` (``basis`` (m, d)), so a long run in many dimensions keeps only the
    coordinates it needs.  ``perm`` (n_chains, N) index buffers.  A non-finite weight leaves
    ``nan`` in the remaining records of that chain.
    """
    X, Y, K, decay = data.X, data.Y, data.K, data.decay
    eta, b, n_steps, burn_in = run.eta, run.batch_size, run.n_steps, run.burn_in
    record_every, seed = run.record_every, run.seed
    center, basis = projection.center, projection.basis
    n_chains, d = W0.shape
    N, p = X.shape
    R = records.shape[1]
    for c in prange(n_chains):
        s = np.empty(4, dtype=np.uint64)
        seed_walker(seed, c, s)
        for i in range(N):
            perm[c, i] = i
        w = W0[c].copy()
        g = np.empty(d)
        z = np.empty(K)
        r = 0
        if burn_in == 0:
            _record(w, center, basis, records[c, 0])
            r = 1
        cursor = 0
        for n in range(1, n_steps + 1):
            off, cursor = next_batch(s, WITH_REPLACEMENT, perm[c], cursor, N, b)
            for k in range(d):
                g[k] = 0.0
            for q in range(b):
                i = perm[c, off + q]
                _probabilities(w, X[i], p, K, z)
                y = Y[i]
                for cl in range(K):
                    res = z[cl] - (1.0 if cl == y else 0.0)
                    base = cl * (p + 1)
                    for j in range(p):
                        g[base + j] += res * X[i, j]
                    g[base + p] += res
            finite = True
            for k in range(d):
                w[k] -= eta * (g[k] / b + decay * w[k])
                if not math.isfinite(w[k]):
                    finite = False
            if not finite:
                for rr in range(r, R):
                    for k in range(d):
                        records[c, rr, k] = np.nan
                break
            if n >= burn_in and (n - burn_in) % record_every == 0 and r < R:
                _record(w, center, basis, records[c, r])
                r += 1
