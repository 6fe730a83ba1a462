"""Kernels of the minibatch SGD / SGLD / SGWORLD trajectory engine.

Update (THEORY.md §2, SGLD in the Welling--Teh form)::

    w ← w − η ∇L_B(w) + sqrt(2 η T) ξ,      ∇L_B = (1/b) Σ_{i∈B} ∇ℓ_i,

with the per-sample loss ``ℓ_i = scale · nll(y_i, f(w, x_i)) + ½ alpha |w|²`` of
:mod:`fpsolve._kernels.models` (THEORY.md §6: ``scale = N``, ``alpha = N λ / σ²``).

Random numbers
--------------
Every chain owns two xoshiro256** streams (:mod:`fpsolve._kernels.langevin`): the *noise*
stream ``seed_walker(seed, chain)`` gives the ``d`` normals ``ξ`` of every step (only when
``T > 0``; the same normals ``fp.simulate.standard_normals(seed, …)`` returns), and the
*batch* stream ``seed_walker(batch_seed(seed), chain)`` draws the minibatches.  Both depend on
``(seed, chain)`` only, so a chain's path does not depend on the thread count or on the
number of chains, and the batches of a run can be regenerated without the model
(:func:`draw_batches`).

Samplers (``N`` samples, batch size ``b``, per-chain index buffer ``perm`` (N,) holding a
permutation of ``0..N-1``; the batch of a step is ``perm[off : off + b]``)
-------------------------------------------------------------------------------------------
``WITH_REPLACEMENT``  partial Fisher--Yates: ``b`` swaps bring a uniformly random subset of
                      ``b`` distinct indices to ``perm[:b]`` (any permutation in the buffer
                      is a valid start), O(b) per step
``IID``               ``perm[j] = ⌊u N⌋`` for ``j < b`` (repeats possible)
``WITHOUT_REPLACEMENT`` a full Fisher--Yates shuffle when an epoch starts (``cursor == M``,
                      ``M = N / b``), then batch ``cursor`` is ``perm[cursor b : (cursor+1) b]``

Arrays (``C`` chains, ``d`` parameters, ``N`` samples, ``R`` records, ``E`` epoch records)
-------------------------------------------------------------------------------------------
``pos``          (C, d)     weights, updated in place
``rng_noise``    (C, 4)     noise streams;  ``rng_batch`` (C, 4) batch streams
``perm``         (C, N)     index buffers;  ``cursor`` (C,) next batch of the epoch (WOR)
``count, mean, m2``  (C,), (C, d), (C, d, d)  Welford statistics of ``w_n``, ``n > burn_in``
                     (``m2``: lower triangle only; the caller mirrors it).  Within a kernel call
                     the steps add to shifted sums ``Σ(w − w_ref)``, ``Σ(w − w_ref)(w − w_ref)ᵀ``
                     (``w_ref`` the first such ``w`` of the call; no division per step), merged
                     into the triple at the end of the call (Chan et al.)
``ecount, emean, em2`` the same for the epoch ends ``n = k M > burn_in`` (WOR)
``status``       (C,)       0 running, 1 non-finite or beyond ``bound`` (some ``|w_i| > bound``;
                             ``bound`` = the largest float means non-finite only)
``stop_step``    (C,)       the step at which a chain stopped (-1 while running)
``records``      (C, R, d)  ``w`` after steps ``burn_in + r * record_every`` (prefilled NaN)
``erecords``     (C, E, d)  ``w`` after steps ``e0 + r * epoch_record_every * M`` (prefilled NaN)
``X, Y``         (N, p), (N,)  data;  ``params`` model constants (``params[0]`` built-in code)

Model paths: ``path`` 0 is the hand-written TanhNet loop (scalar input, Gaussian likelihood;
with two hidden units, ``d = 7``, its own stepping loop :func:`_segment_net2`), 1 the Gaussian
mean (``f = w[0]``), 2 any point kernel ``point(w, x, params, grad, hess, 1)``.  :func:`_chain`
handles the events (end of burn-in, records, epoch ends) between record-free segments of steps.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import jit, jit_inline, jit_parallel, jit_parallel_uncached
from .langevin import _next as _next4
from .langevin import _next as _xoshiro  # the scalar-state generator, kept in registers
from .langevin import _normal as _normal4
from .langevin import fill_normals, seed_walker
from .models import _nll, builtin_point, tanh

WITH_REPLACEMENT, IID, WITHOUT_REPLACEMENT = 0, 1, 2
PATH_TANH_NET, PATH_CONSTANT, PATH_POINT = 0, 1, 2
RUNNING, NON_FINITE = 0, 1
BATCH_STREAM = np.uint64(0xD1B54A32D192ED03)  # xor'ed into the seed for the batch streams
TO_UNIT = 2.0**-53


@jit_inline
def _next(s):
    """One xoshiro256** output from a state array ``s`` (4 uint64), updated in place."""
    r, s[0], s[1], s[2], s[3] = _next4(s[0], s[1], s[2], s[3])
    return r


@jit_inline
def _normal(s):
    """One standard normal from a state array ``s`` (4 uint64), updated in place."""
    x, s[0], s[1], s[2], s[3] = _normal4(s[0], s[1], s[2], s[3])
    return x


@jit
def batch_seed(seed):
    """Seed of the batch streams, derived from the run's seed."""
    return np.uint64(seed) ^ BATCH_STREAM


@jit_inline
def _bounded(u, n):
    """A uniform integer in ``0..n-1`` from the 64-bit output ``u`` (bias below ``n · 2⁻⁵³``)."""
    return np.int64(np.float64(u >> np.uint64(11)) * TO_UNIT * n)


@jit
def _index(s, n):
    """A uniform integer in ``0..n-1`` from the state array ``s`` (see :func:`_bounded`)."""
    return _bounded(_next(s), n)


@jit
def _shuffle(s, perm, N):
    for i in range(N - 1, 0, -1):
        j = _index(s, i + 1)
        t = perm[i]
        perm[i] = perm[j]
        perm[j] = t


@jit
def next_batch(s, sampler, perm, cursor, N, b):
    """Draw the next batch into ``perm``; returns ``(offset, cursor)``: the batch is ``perm[offset:offset+b]``."""
    if sampler == WITH_REPLACEMENT or sampler == IID:
        s0 = s[0]
        s1 = s[1]
        s2 = s[2]
        s3 = s[3]
        if sampler == WITH_REPLACEMENT:
            for j in range(b):
                u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                k = j + _bounded(u, N - j)
                t = perm[j]
                perm[j] = perm[k]
                perm[k] = t
        else:
            for j in range(b):
                u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                perm[j] = _bounded(u, N)
        s[0] = s0
        s[1] = s1
        s[2] = s2
        s[3] = s3
        return 0, cursor
    M = N // b
    if cursor >= M:
        _shuffle(s, perm, N)
        cursor = 0
    return cursor * b, cursor + 1


@jit
def seed_chains(seed, rng_noise, rng_batch, perm):
    """Generator states and identity index buffers of chains ``0..C-1``."""
    bseed = batch_seed(seed)
    for c in range(rng_noise.shape[0]):
        seed_walker(seed, c, rng_noise[c])
        seed_walker(bseed, c, rng_batch[c])
        for i in range(perm.shape[1]):
            perm[c, i] = i


@jit
def draw_batches(seed, chain, sampler, N, out):
    """The batches ``out`` (n_steps, b) that chain ``chain`` of a run with ``seed`` draws."""
    b = out.shape[1]
    s = np.empty(4, np.uint64)
    seed_walker(batch_seed(seed), chain, s)
    perm = np.arange(N)
    cursor = N // b
    for n in range(out.shape[0]):
        off, cursor = next_batch(s, sampler, perm, cursor, N, b)
        for j in range(b):
            out[n, j] = perm[off + j]


# -- minibatch gradients -------------------------------------------------------------------
@jit
def _grad_tanh_net(w, X, Y, perm, off, b, inv_var, scale, alpha, g, tb, d):
    """``∇L_B`` for ``f = Σ_h v_h tanh(a_h x + c_h) + β`` (Gaussian likelihood) into ``g``.

    ``tb`` (>= H) is scratch for the hidden activations.
    """
    H = (d - 1) // 3
    for j in range(d):
        g[j] = 0.0
    for q in range(off, off + b):
        i = perm[q]
        z = X[i, 0]
        f = w[3 * H]
        for h in range(H):  # vectorises
            tb[h] = tanh(w[h] * z + w[H + h])
        for h in range(H):
            f += w[2 * H + h] * tb[h]
        r = (f - Y[i]) * inv_var
        for h in range(H):
            t = tb[h]
            rs = r * w[2 * H + h] * (1.0 - t * t)
            g[h] += rs * z
            g[H + h] += rs
            g[2 * H + h] += r * t
        g[3 * H] += r
    c = scale / b
    for j in range(d):
        g[j] = c * g[j] + alpha * w[j]


@jit_inline
def _grad_point(point, params, w, X, Y, perm, off, b, lik, noise_var, scale, alpha, g, gf, hf, d):
    for j in range(d):
        g[j] = 0.0
    for q in range(off, off + b):
        i = perm[q]
        f = point(w, X[i], params, gf, hf, 1)
        _, r1, _ = _nll(lik, Y[i], f, noise_var)
        for j in range(d):
            g[j] += r1 * gf[j]
    c = scale / b
    for j in range(d):
        g[j] = c * g[j] + alpha * w[j]


# -- the stepping loop ---------------------------------------------------------------------
@jit_inline
def _welford(x, c, mu, M2, delta, d):
    c += 1
    inv = 1.0 / c
    for i in range(d):
        delta[i] = x[i] - mu[i]
        mu[i] += delta[i] * inv
    for i in range(d):
        di = delta[i]
        for j in range(i + 1):
            M2[i * d + j] += di * (x[j] - mu[j])
    return c


@jit
def _shifted_sums(x, ref, S1, S2, e, d):
    """``S1 += x − ref``, ``S2 += (x − ref)(x − ref)ᵀ`` (lower triangle): no division per step."""
    for i in range(d):
        e[i] = x[i] - ref[i]
        S1[i] += e[i]
    for i in range(d):
        ei = e[i]
        for j in range(i + 1):
            S2[i * d + j] += ei * e[j]


@jit_inline
def _merge_sums(c, mu, M2, k, ref, S1, S2, delta, d):
    """Merge ``k`` steps summed by :func:`_shifted_sums` into the Welford triple ``(c, mu, M2)``.

    The block's mean and squared deviations are ``ref + S1 / k`` and ``S2 − S1 S1ᵀ / k`` (exact
    up to rounding of order ``|x̄ − ref|² / var`` ulp, small because ``ref`` is a point of the
    block); blocks combine by Chan et al.'s pairwise update.
    """
    if k == 0:
        return c
    inv = 1.0 / k
    n = c + k
    f = c * (k / n)
    for i in range(d):
        delta[i] = (ref[i] + S1[i] * inv) - mu[i]
    for i in range(d):
        for j in range(i + 1):
            M2[i * d + j] += (S2[i * d + j] - S1[i] * S1[j] * inv) + delta[i] * delta[j] * f
    w = k / n
    for i in range(d):
        mu[i] += delta[i] * w
    return n


@jit
def _segment_net2(X, Y, noise_var, scale, alpha, x, sn, sb, pc, cur, n0, n1, stats, ref, S1, S2, e,
                  k, eta, sq, noisy, sampler, b, xi, zb, yb, tb, bound):
    """A segment of :func:`_chain` for the paper's 7-parameter TanhNet (two hidden units).

    The same random streams as :func:`next_batch` and the arithmetic of :func:`_grad_tanh_net`,
    but the batch generator's state lives in registers, the batch is gathered into ``zb``,
    ``yb`` (b,) and its 2 b pre-activations into ``tb`` (2 b,) so that the tanh loop vectorises,
    and nothing in the loop calls a function that takes an array (Numba counts references, with
    atomic instructions, on such calls: that alone cost a fifth of the step).
    """
    d = 7
    N = Y.shape[0]
    M = N // b
    inv_var = 1.0 / noise_var
    c_b = scale / b
    s0 = sb[0]
    s1 = sb[1]
    s2 = sb[2]
    s3 = sb[3]
    last = n1
    for n in range(n0 + 1, n1 + 1):
        # the batch: next_batch, inline
        off = 0
        if sampler == WITH_REPLACEMENT:
            for j in range(b):
                u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                q = j + _bounded(u, N - j)
                t = pc[j]
                pc[j] = pc[q]
                pc[q] = t
        elif sampler == IID:
            for j in range(b):
                u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                pc[j] = _bounded(u, N)
        else:
            if cur >= M:  # _shuffle
                for i in range(N - 1, 0, -1):
                    u, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                    q = _bounded(u, i + 1)
                    t = pc[i]
                    pc[i] = pc[q]
                    pc[q] = t
                cur = 0
            off = cur * b
            cur += 1
        # the gradient (_grad_tanh_net with H = 2)
        a1 = x[0]
        a2 = x[1]
        c1 = x[2]
        c2 = x[3]
        v1 = x[4]
        v2 = x[5]
        beta = x[6]
        for j in range(b):
            i = pc[off + j]
            z = X[i, 0]
            zb[j] = z
            yb[j] = Y[i]
            tb[j] = a1 * z + c1
            tb[b + j] = a2 * z + c2
        for j in range(2 * b):
            tb[j] = tanh(tb[j])
        g0 = 0.0
        g1 = 0.0
        g2 = 0.0
        g3 = 0.0
        g4 = 0.0
        g5 = 0.0
        g6 = 0.0
        for j in range(b):
            z = zb[j]
            t1 = tb[j]
            t2 = tb[b + j]
            r = (v1 * t1 + v2 * t2 + beta - yb[j]) * inv_var
            r1 = r * v1 * (1.0 - t1 * t1)
            r2 = r * v2 * (1.0 - t2 * t2)
            g0 += r1 * z
            g1 += r2 * z
            g2 += r1
            g3 += r2
            g4 += r * t1
            g5 += r * t2
            g6 += r
        g0 = c_b * g0 + alpha * a1
        g1 = c_b * g1 + alpha * a2
        g2 = c_b * g2 + alpha * c1
        g3 = c_b * g3 + alpha * c2
        g4 = c_b * g4 + alpha * v1
        g5 = c_b * g5 + alpha * v2
        g6 = c_b * g6 + alpha * beta
        if noisy:
            for i in range(d):
                xi[i] = _normal(sn)
            x[0] = a1 + (sq * xi[0] - eta * g0)
            x[1] = a2 + (sq * xi[1] - eta * g1)
            x[2] = c1 + (sq * xi[2] - eta * g2)
            x[3] = c2 + (sq * xi[3] - eta * g3)
            x[4] = v1 + (sq * xi[4] - eta * g4)
            x[5] = v2 + (sq * xi[5] - eta * g5)
            x[6] = beta + (sq * xi[6] - eta * g6)
        else:
            x[0] = a1 - eta * g0
            x[1] = a2 - eta * g1
            x[2] = c1 - eta * g2
            x[3] = c2 - eta * g3
            x[4] = v1 - eta * g4
            x[5] = v2 - eta * g5
            x[6] = beta - eta * g6
        finite = True
        for i in range(d):
            if not abs(x[i]) <= bound:  # non-finite, or beyond the divergence bound
                finite = False
        if not finite:
            last = n - 1
            break
        if stats:  # _shifted_sums, inline
            if k == 0:
                for i in range(d):
                    ref[i] = x[i]
            else:
                for i in range(d):
                    e[i] = x[i] - ref[i]
                    S1[i] += e[i]
                for i in range(d):
                    ei = e[i]
                    for j in range(i + 1):
                        S2[i * d + j] += ei * e[j]
            k += 1
    sb[0] = s0
    sb[1] = s1
    sb[2] = s2
    sb[3] = s3
    return last, cur, k


@jit
def _chain(c, point, path, params, X, Y, lik, noise_var, scale, alpha,
           pos, rng_noise, rng_batch, perm, cursor, count, mean, m2, ecount, emean, em2,
           status, stop_step, records, erecords, n_start, n_end, burn_in, record_every,
           epoch_record_every, eta, temperature, sampler, b, bound):
    """Advance chain ``c`` from step ``n_start`` to ``n_end``; returns 1 if it stopped, else 0.

    The steps between events (the end of burn-in, a record, an epoch end with
    ``without_replacement``) run as one segment with no bookkeeping per step; the events are
    handled between segments.  A segment returns the last step taken (short of its end when ``w``
    became non-finite at the next one; ``x`` then holds that non-finite ``w``), the epoch cursor
    and the count of the shifted sums.
    """
    d = pos.shape[1]
    N = Y.shape[0]
    M = N // b
    inv_var = 1.0 / noise_var
    sq = math.sqrt(2.0 * eta * temperature)
    noisy = temperature > 0.0
    epochs = sampler == WITHOUT_REPLACEMENT
    n_erec = erecords.shape[1]
    e0 = ((burn_in + M - 1) // M) * M  # the first epoch end in the epoch records
    stopped = 0
    x = pos[c].copy()
    sn = rng_noise[c].copy()
    sb = rng_batch[c].copy()
    pc = perm[c].copy()
    cur = cursor[c]
    mu = mean[c].copy()
    M2 = m2[c].copy().reshape(d * d)
    cnt = count[c]
    emu = emean[c].copy()
    eM2 = em2[c].copy().reshape(d * d)
    ecnt = ecount[c]
    g = np.empty(d)
    gf = np.zeros(d)
    hf = np.zeros((1, 1))
    xi = np.empty(d)
    delta = np.empty(d)
    zb = np.empty(b)
    yb = np.empty(b)
    tb = np.empty(2 * b)
    # the steps n > burn_in of this call, as sums of x − ref (ref: x after the first of them)
    ref = np.zeros(d)
    S1 = np.zeros(d)
    S2 = np.zeros(d * d)
    e = np.empty(d)
    k = 0
    # the next record after step n_start: index and step
    n_rec = records.shape[1] if record_every > 0 else 0
    every = max(record_every, 1)
    ri = 0 if n_start < burn_in else (n_start - burn_in) // every + 1
    next_rec = burn_in + ri * every
    if not epochs or epoch_record_every == 0:
        n_erec = 0
    e_every = max(epoch_record_every, 1) * M
    ei = 0 if n_start < e0 else (n_start - e0) // e_every + 1
    next_erec = e0 + ei * e_every
    if n_start == 0:
        if burn_in == 0 and n_rec > 0:
            for i in range(d):
                records[c, 0, i] = x[i]
        if e0 == 0 and n_erec > 0:
            for i in range(d):
                erecords[c, 0, i] = x[i]
    n = n_start
    while n < n_end:
        stop = n_end  # the next event
        if n < burn_in:
            stop = min(stop, burn_in)
        if ri < n_rec:
            stop = min(stop, next_rec)
        if epochs:
            stop = min(stop, (n // M + 1) * M)
        if path == PATH_TANH_NET and d == 7:
            last, cur, k = _segment_net2(X, Y, noise_var, scale, alpha, x, sn, sb, pc, cur, n, stop,
                                         n >= burn_in, ref, S1, S2, e, k, eta, sq, noisy, sampler,
                                         b, xi, zb, yb, tb, bound)
        else:  # the other models, step by step (written here: a separate function would
            # receive the user's kernel as a first-class function, an experimental Numba feature)
            stats = n >= burn_in
            last = stop
            for m in range(n + 1, stop + 1):
                off, cur = next_batch(sb, sampler, pc, cur, N, b)
                if path == PATH_TANH_NET:  # d == 7 runs in _segment_net2
                    _grad_tanh_net(x, X, Y, pc, off, b, inv_var, scale, alpha, g, gf, d)
                elif path == PATH_CONSTANT:
                    acc = 0.0
                    for q in range(off, off + b):
                        _, r1, _ = _nll(lik, Y[pc[q]], x[0], noise_var)
                        acc += r1
                    g[0] = scale * acc / b + alpha * x[0]
                else:
                    if point is None:  # pruned at compile time: the built-ins, from the disk cache
                        _grad_point(builtin_point, params, x, X, Y, pc, off, b, lik, noise_var,
                                    scale, alpha, g, gf, hf, d)
                    else:
                        _grad_point(point, params, x, X, Y, pc, off, b, lik, noise_var, scale,
                                    alpha, g, gf, hf, d)
                if noisy:
                    fill_normals(sn, xi, d)
                    for i in range(d):
                        x[i] += sq * xi[i] - eta * g[i]
                else:
                    for i in range(d):
                        x[i] -= eta * g[i]
                finite = True
                for i in range(d):
                    if not abs(x[i]) <= bound:  # non-finite, or beyond the divergence bound
                        finite = False
                if not finite:
                    last = m - 1
                    break
                if stats:
                    if k == 0:
                        for i in range(d):
                            ref[i] = x[i]
                    else:
                        _shifted_sums(x, ref, S1, S2, e, d)
                    k += 1
        if last < stop:
            status[c] = NON_FINITE
            stop_step[c] = last + 1
            stopped = 1
            break
        n = stop
        if n == next_rec and ri < n_rec:
            for i in range(d):
                records[c, ri, i] = x[i]
            ri += 1
            next_rec += every
        if epochs and cur == M:  # the step that ended an epoch
            if n > burn_in:
                ecnt = _welford(x, ecnt, emu, eM2, delta, d)
            if n == next_erec and ei < n_erec:
                for i in range(d):
                    erecords[c, ei, i] = x[i]
                ei += 1
                next_erec += e_every
    cnt = _merge_sums(cnt, mu, M2, k, ref, S1, S2, delta, d)
    pos[c] = x
    rng_noise[c] = sn
    rng_batch[c] = sb
    perm[c] = pc
    cursor[c] = cur
    mean[c] = mu
    m2[c] = M2.reshape(d, d)
    count[c] = cnt
    emean[c] = emu
    em2[c] = eM2.reshape(d, d)
    ecount[c] = ecnt
    return stopped


# The two drivers differ only in where the point kernel comes from.  A user's kernel arrives as
# an argument (compiled once per process, in memory); the built-ins use the global
# ``builtin_point`` and load from the disk cache.
@jit_parallel_uncached
def sgd_point(point, path, params, X, Y, lik, noise_var, scale, alpha,
              pos, rng_noise, rng_batch, perm, cursor, count, mean, m2, ecount, emean, em2,
              status, stop_step, records, erecords, n_start, n_end, burn_in, record_every,
              epoch_record_every, eta, temperature, sampler, b, bound):
    """Advance every running chain from ``n_start`` to ``n_end`` with a user's point kernel.

    Returns the number of chains that stopped in this call.
    """
    n_stopped = 0
    for c in prange(pos.shape[0]):
        if status[c] == RUNNING:
            n_stopped += _chain(c, point, path, params, X, Y, lik, noise_var, scale, alpha,
                                pos, rng_noise, rng_batch, perm, cursor, count, mean, m2, ecount,
                                emean, em2, status, stop_step, records, erecords, n_start, n_end,
                                burn_in, record_every, epoch_record_every, eta, temperature,
                                sampler, b, bound)
    return n_stopped


@jit_parallel
def sgd_builtin(path, params, X, Y, lik, noise_var, scale, alpha,
                pos, rng_noise, rng_batch, perm, cursor, count, mean, m2, ecount, emean, em2,
                status, stop_step, records, erecords, n_start, n_end, burn_in, record_every,
                epoch_record_every, eta, temperature, sampler, b, bound):
    """:func:`sgd_point` for the built-in models (``builtin_point`` on ``path`` 2)."""
    n_stopped = 0
    for c in prange(pos.shape[0]):
        if status[c] == RUNNING:
            n_stopped += _chain(c, None, path, params, X, Y, lik, noise_var, scale,
                                alpha, pos, rng_noise, rng_batch, perm, cursor, count, mean, m2,
                                ecount, emean, em2, status, stop_step, records, erecords,
                                n_start, n_end, burn_in, record_every, epoch_record_every, eta,
                                temperature, sampler, b, bound)
    return n_stopped
