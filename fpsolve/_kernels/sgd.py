"""Kernels of the minibatch SGD / SGLD / SGWORLD trajectory engine.

Update (docs/theory.md §2, SGLD in the Welling--Teh form)::

    w ← w − η ∇L_B(w) + sqrt(2 η T) ξ,      ∇L_B = (1/b) Σ_{i∈B} ∇ℓ_i,

with the per-sample loss ``ℓ_i = scale · nll(y_i, f(w, x_i)) + ½ alpha |w|²`` of
:mod:`fpsolve._kernels.models` (docs/theory.md §6: ``scale = N``, ``alpha = N λ / σ²``).

Random numbers
--------------
Every chain owns two xoshiro256** streams (:mod:`fpsolve._kernels.random`): the *noise*
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
                     (``m2``: upper triangle only, :mod:`fpsolve._kernels.stats`; the caller
                     mirrors it).  Within a kernel call
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
from collections import namedtuple

import numpy as np
from numba import prange

from ._jit import jit, jit_inline, jit_parallel, jit_parallel_uncached
from .codes import (
    IID,
    NON_FINITE,
    PATH_CONSTANT,
    PATH_TANH_NET,
    RUNNING,
    WITH_REPLACEMENT,
    WITHOUT_REPLACEMENT,
)
from .models import builtin_point, nll_terms, tanh, tanh_net_unit
from .random import bounded, fill_normals, normal_of, seed_walker, xoshiro
from .stats import add_sample, merge_sums, welford

BATCH_STREAM = np.uint64(0xD1B54A32D192ED03)  # xor'ed into the seed for the batch streams


# The kernels take their arrays grouped (see :mod:`fpsolve._kernels.langevin` for why the
# inlined helpers take arrays, not these tuples, inside ``prange`` bodies).
Loss = namedtuple("Loss", "X Y params lik noise_var scale alpha")
Chains = namedtuple("Chains", "pos rng_noise rng_batch perm cursor count mean m2 ecount emean em2 "
                              "status stop_step records erecords")
Run = namedtuple("Run", "n_start n_end burn_in record_every epoch_record_every eta temperature "
                        "sampler batch_size bound specialised")
Sums = namedtuple("Sums", "ref S1 S2 e")  # the shifted sums of a call (stats.add_sample)
Scratch = namedtuple("Scratch", "xi zb yb tb")  # normals (d,), a batch's inputs, targets (b,), tanh (2 b,)


@jit
def batch_seed(seed):
    """Seed of the batch streams, derived from the run's seed."""
    return np.uint64(seed) ^ BATCH_STREAM


# -- batches: one copy, on the four-scalar generator state -----------------------------------
@jit_inline
def draw_batch(s0, s1, s2, s3, sampler, perm, cursor, N, b):
    """Draw the next batch into ``perm``; returns ``(offset, cursor, s0, s1, s2, s3)``.

    The batch is ``perm[offset:offset+b]``; the generator state travels as four scalars (in
    registers in a step loop).  Without replacement a Fisher--Yates shuffle starts each epoch.
    """
    off = 0
    if sampler == WITH_REPLACEMENT:
        for j in range(b):
            u, s0, s1, s2, s3 = xoshiro(s0, s1, s2, s3)
            k = j + bounded(u, N - j)
            t = perm[j]
            perm[j] = perm[k]
            perm[k] = t
    elif sampler == IID:
        for j in range(b):
            u, s0, s1, s2, s3 = xoshiro(s0, s1, s2, s3)
            perm[j] = bounded(u, N)
    else:
        if cursor >= N // b:
            for i in range(N - 1, 0, -1):
                u, s0, s1, s2, s3 = xoshiro(s0, s1, s2, s3)
                k = bounded(u, i + 1)
                t = perm[i]
                perm[i] = perm[k]
                perm[k] = t
            cursor = 0
        off = cursor * b
        cursor += 1
    return off, cursor, s0, s1, s2, s3


@jit
def next_batch(s, sampler, perm, cursor, N, b):
    """:func:`draw_batch` on a state array ``s`` (4 uint64); returns ``(offset, cursor)``."""
    off, cursor, s[0], s[1], s[2], s[3] = draw_batch(s[0], s[1], s[2], s[3], sampler, perm, cursor, N, b)
    return off, cursor


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


# -- the step: one copy, on scalars ----------------------------------------------------------
@jit_inline
def _sgld(w, g, z, eta, sq):
    """One SGLD coordinate: ``w + (sqrt(2 η T) ξ − η g)``."""
    return w + (sq * z - eta * g)


@jit_inline
def _gd(w, g, eta):
    """One SGD coordinate (``T = 0``): ``w − η g``."""
    return w - eta * g


@jit_inline
def _bounded_by(x, bound, d):
    """Whether every ``|x_i| <= bound`` (False for non-finite values)."""
    for i in range(d):
        if not abs(x[i]) <= bound:
            return False
    return True


@jit_inline
def _finish_gradient(g, w, scale, alpha, b, d):
    """``g ← (scale / b) g + alpha w``: the batch mean of the loss and the weight decay."""
    c = scale / b
    for j in range(d):
        g[j] = c * g[j] + alpha * w[j]


# -- minibatch gradients -------------------------------------------------------------------
@jit
def _grad_tanh_net(w, X, Y, perm, off, b, noise_var, scale, alpha, g, tb, d):
    """``∇L_B`` for ``f = β + Σ_h v_h tanh(a_h x + c_h)`` (Gaussian likelihood) into ``g``.

    ``tb`` (>= H) is scratch for the hidden activations.  The arithmetic of the field kernels,
    sample by sample: :func:`~fpsolve._kernels.models.tanh_net_unit` for ``∂f/∂w``,
    ``∇ℓ_i = (scale r_i) ∂f/∂w + alpha w`` with ``r_i = (f_i − y_i) / σ²``, summed over the
    batch in its order and divided by ``b``; so over the whole data in order it is
    ``Landscape.gradient`` bit for bit, and with ``H = 2`` it is :func:`_segment_net2`'s.
    """
    H = (d - 1) // 3
    for j in range(d):
        g[j] = 0.0
    for q in range(off, off + b):
        i = perm[q]
        z = X[i, 0]
        for h in range(H):  # vectorises
            tb[h] = tanh(w[h] * z + w[H + h])
        f = w[3 * H]
        for h in range(H):
            f += w[2 * H + h] * tb[h]
        c = scale * ((f - Y[i]) / noise_var)  # scale · nll_terms' r1
        for h in range(H):
            da, dc, dv = tanh_net_unit(w[2 * H + h], tb[h], z)
            g[h] += c * da + alpha * w[h]
            g[H + h] += c * dc + alpha * w[H + h]
            g[2 * H + h] += c * dv + alpha * w[2 * H + h]
        g[3 * H] += c * 1.0 + alpha * w[3 * H]
    for j in range(d):
        g[j] /= b


@jit_inline
def _grad_point(point, loss, w, perm, off, b, g, gf, hf, d):
    """``∇L_B`` through a point kernel ``point(w, x, params, grad, hess, 1)`` into ``g``."""
    X, Y, params, lik, noise_var = loss.X, loss.Y, loss.params, loss.lik, loss.noise_var
    for j in range(d):
        g[j] = 0.0
    for q in range(off, off + b):
        i = perm[q]
        f = point(w, X[i], params, gf, hf, 1)
        _, r1, _ = nll_terms(lik, Y[i], f, noise_var)
        for j in range(d):
            g[j] += r1 * gf[j]
    _finish_gradient(g, w, loss.scale, loss.alpha, b, d)


# -- the stepping loop ---------------------------------------------------------------------
@jit_inline
def _net2_gradient(w, X, Y, pc, off, b, zb, yb, tb, scale, alpha, noise_var):
    """``∇L_B`` of :func:`_grad_tanh_net` with ``H = 2`` on the scalars ``w = (a1, a2, c1, c2, v1,
    v2, beta)``, as a 7-tuple: the batch ``pc[off:off+b]`` is gathered into ``zb``, ``yb`` (b,)
    and its 2 b pre-activations into ``tb`` (2 b,), so that the tanh loop vectorises."""
    a1, a2, c1, c2, v1, v2, beta = w
    wd0 = alpha * a1  # the weight decay of ∇ℓ_i, the same for every sample
    wd1 = alpha * a2
    wd2 = alpha * c1
    wd3 = alpha * c2
    wd4 = alpha * v1
    wd5 = alpha * v2
    wd6 = alpha * beta
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
        c = scale * ((beta + v1 * t1 + v2 * t2 - yb[j]) / noise_var)
        da1, dc1, dv1 = tanh_net_unit(v1, t1, z)
        da2, dc2, dv2 = tanh_net_unit(v2, t2, z)
        g0 += c * da1 + wd0
        g1 += c * da2 + wd1
        g2 += c * dc1 + wd2
        g3 += c * dc2 + wd3
        g4 += c * dv1 + wd4
        g5 += c * dv2 + wd5
        g6 += c * 1.0 + wd6
    return g0 / b, g1 / b, g2 / b, g3 / b, g4 / b, g5 / b, g6 / b


@jit
def _segment_net2(loss, run, x, sn, sb, pc, cur, n0, n1, sums, k, scratch):
    """A segment of :func:`_chain` for the paper's 7-parameter TanhNet (two hidden units).

    The batches of :func:`draw_batch`, the arithmetic of :func:`_grad_tanh_net` (the same
    :func:`~fpsolve._kernels.models.tanh_net_unit`, sums in the same order) and the step of
    :func:`_sgld`/:func:`_gd`, but the batch generator's state lives in registers, the batch
    is gathered into ``zb``, ``yb`` (b,) and its 2 b pre-activations into ``tb`` (2 b,) so that
    the tanh loop vectorises, and the only functions the loop calls with arrays are inlined
    ones: Numba counts references, with atomic instructions, on real calls taking arrays,
    which alone cost a fifth of the step.  A test pins it to the general loop bit for bit.
    """
    X, Y, noise_var, scale, alpha = loss.X, loss.Y, loss.noise_var, loss.scale, loss.alpha
    eta, sampler, b, bound = run.eta, run.sampler, run.batch_size, run.bound
    ref, S1, S2, e = sums
    xi, zb, yb, tb = scratch
    sq = math.sqrt(2.0 * eta * run.temperature)
    noisy = run.temperature > 0.0
    stats = n0 >= run.burn_in
    d = 7
    N = Y.shape[0]
    s0 = sb[0]
    s1 = sb[1]
    s2 = sb[2]
    s3 = sb[3]
    last = n1
    for n in range(n0 + 1, n1 + 1):
        off, cur, s0, s1, s2, s3 = draw_batch(s0, s1, s2, s3, sampler, pc, cur, N, b)
        a1, a2, c1, c2, v1, v2, beta = x[0], x[1], x[2], x[3], x[4], x[5], x[6]
        g0, g1, g2, g3, g4, g5, g6 = _net2_gradient((a1, a2, c1, c2, v1, v2, beta), X, Y, pc, off, b,
                                                    zb, yb, tb, scale, alpha, noise_var)
        if noisy:
            for i in range(d):
                xi[i] = normal_of(sn)
            x[0] = _sgld(a1, g0, xi[0], eta, sq)
            x[1] = _sgld(a2, g1, xi[1], eta, sq)
            x[2] = _sgld(c1, g2, xi[2], eta, sq)
            x[3] = _sgld(c2, g3, xi[3], eta, sq)
            x[4] = _sgld(v1, g4, xi[4], eta, sq)
            x[5] = _sgld(v2, g5, xi[5], eta, sq)
            x[6] = _sgld(beta, g6, xi[6], eta, sq)
        else:
            x[0] = _gd(a1, g0, eta)
            x[1] = _gd(a2, g1, eta)
            x[2] = _gd(c1, g2, eta)
            x[3] = _gd(c2, g3, eta)
            x[4] = _gd(v1, g4, eta)
            x[5] = _gd(v2, g5, eta)
            x[6] = _gd(beta, g6, eta)
        if not _bounded_by(x, bound, d):  # non-finite, or beyond the divergence bound
            last = n - 1
            break
        if stats:
            k = add_sample(x, k, ref, S1, S2, e, d)
    sb[0] = s0
    sb[1] = s1
    sb[2] = s2
    sb[3] = s3
    return last, cur, k


@jit_inline
def _segment(point, path, loss, run, state, cur, n0, n1, sums, k, work):
    """A segment of :func:`_chain` for any model, step by step: steps ``n0 + 1 .. n1`` of the
    chain ``state = (x, sn, sb, pc)`` (weights, noise and batch streams, index buffer) with the
    work vectors ``work = (g, gf, hf, xi)``; returns ``(last, cur, k)`` as :func:`_segment_net2`.
    (Inlined: a real call would receive the user's kernel as a first-class function, an
    experimental Numba feature.)
    """
    X, Y, lik, noise_var, scale, alpha = loss.X, loss.Y, loss.lik, loss.noise_var, loss.scale, loss.alpha
    eta, sampler, b = run.eta, run.sampler, run.batch_size
    x, sn, sb, pc = state
    g, gf, hf, xi = work
    ref, S1, S2, e = sums
    d = x.shape[0]
    N = Y.shape[0]
    sq = math.sqrt(2.0 * eta * run.temperature)
    noisy = run.temperature > 0.0
    stats = n0 >= run.burn_in
    last = n1
    for m in range(n0 + 1, n1 + 1):
        off, cur = next_batch(sb, sampler, pc, cur, N, b)
        if path == PATH_TANH_NET:
            _grad_tanh_net(x, X, Y, pc, off, b, noise_var, scale, alpha, g, gf, d)
        elif path == PATH_CONSTANT:
            acc = 0.0
            for q in range(off, off + b):
                _, r1, _ = nll_terms(lik, Y[pc[q]], x[0], noise_var)
                acc += r1
            g[0] = scale * acc / b + alpha * x[0]
        else:
            if point is None:  # pruned at compile time: the built-ins, from the disk cache
                _grad_point(builtin_point, loss, x, pc, off, b, g, gf, hf, d)
            else:
                _grad_point(point, loss, x, pc, off, b, g, gf, hf, d)
        if noisy:
            fill_normals(sn, xi, d)
            for i in range(d):
                x[i] = _sgld(x[i], g[i], xi[i], eta, sq)
        else:
            for i in range(d):
                x[i] = _gd(x[i], g[i], eta)
        if not _bounded_by(x, run.bound, d):  # non-finite, or beyond the divergence bound
            last = m - 1
            break
        if stats:
            k = add_sample(x, k, ref, S1, S2, e, d)
    return last, cur, k


@jit_inline
def _next_record(n_start, first, every):
    """Index and step of the first record after step ``n_start`` among records taken at steps
    ``first + r * every``."""
    r = 0 if n_start < first else (n_start - first) // every + 1
    return r, first + r * every


@jit_inline
def _put(out, c, r, x):
    """Record ``r`` of chain ``c``: ``out[c, r] = x``."""
    for i in range(x.shape[0]):
        out[c, r, i] = x[i]


@jit_inline
def _load_chain(chains, c):
    """Copies of chain ``c``'s state ``(x, sn, sb, pc, cur)`` (weights, noise and batch streams,
    index buffer, epoch cursor) and statistics ``(mu, M2, cnt, emu, eM2, ecnt)`` (``M2`` flat)."""
    d = chains.pos.shape[1]
    state = (chains.pos[c].copy(), chains.rng_noise[c].copy(), chains.rng_batch[c].copy(),
             chains.perm[c].copy(), chains.cursor[c])
    moments = (chains.mean[c].copy(), chains.m2[c].copy().reshape(d * d), chains.count[c],
               chains.emean[c].copy(), chains.em2[c].copy().reshape(d * d), chains.ecount[c])
    return state, moments


@jit_inline
def _store_chain(chains, c, state, moments):
    """Write chain ``c``'s state and statistics back (the inverse of :func:`_load_chain`)."""
    x, sn, sb, pc, cur = state
    mu, M2, cnt, emu, eM2, ecnt = moments
    d = x.shape[0]
    chains.pos[c] = x
    chains.rng_noise[c] = sn
    chains.rng_batch[c] = sb
    chains.perm[c] = pc
    chains.cursor[c] = cur
    chains.mean[c] = mu
    chains.m2[c] = M2.reshape(d, d)
    chains.count[c] = cnt
    chains.emean[c] = emu
    chains.em2[c] = eM2.reshape(d, d)
    chains.ecount[c] = ecnt


@jit
def _chain(c, point, path, loss, chains, run):
    """Advance chain ``c`` over ``run.n_start .. run.n_end``; returns 1 if it stopped, else 0.

    The steps between events (the end of burn-in, a record, an epoch end with
    ``without_replacement``) run as one segment with no bookkeeping per step; the events are
    handled between segments.  A segment returns the last step taken (short of its end when ``w``
    became non-finite at the next one; ``x`` then holds that non-finite ``w``), the epoch cursor
    and the count of the shifted sums.  ``run.specialised`` False runs the TanhNet with two
    hidden units through the general loop too (for the test that pins the two together).
    """
    n_start, n_end, burn_in, record_every = run.n_start, run.n_end, run.burn_in, run.record_every
    epoch_record_every, b = run.epoch_record_every, run.batch_size
    records, erecords = chains.records, chains.erecords
    d = chains.pos.shape[1]
    M = loss.Y.shape[0] // b
    epochs = run.sampler == WITHOUT_REPLACEMENT
    e0 = ((burn_in + M - 1) // M) * M  # the first epoch end in the epoch records
    stopped = 0
    (x, sn, sb, pc, cur), (mu, M2, cnt, emu, eM2, ecnt) = _load_chain(chains, c)
    delta = np.empty(d)
    scratch = Scratch(np.empty(d), np.empty(b), np.empty(b), np.empty(2 * b))
    work = (np.empty(d), np.zeros(d), np.zeros((1, 1)), scratch.xi)  # g, gf, hf, xi of _segment
    # the steps n > burn_in of this call, as sums of x − ref (ref: x after the first of them)
    sums = Sums(np.zeros(d), np.zeros(d), np.zeros(d * d), np.empty(d))
    ref, S1, S2, e = sums
    k = 0
    # the next record after step n_start: index and step
    n_rec = records.shape[1] if record_every > 0 else 0
    n_erec = erecords.shape[1] if epochs and epoch_record_every != 0 else 0
    every, e_every = max(record_every, 1), max(epoch_record_every, 1) * M
    ri, next_rec = _next_record(n_start, burn_in, every)
    ei, next_erec = _next_record(n_start, e0, e_every)
    if n_start == 0:
        if burn_in == 0 and n_rec > 0:
            _put(records, c, 0, x)
        if e0 == 0 and n_erec > 0:
            _put(erecords, c, 0, x)
    n = n_start
    while n < n_end:
        stop = n_end  # the next event
        if n < burn_in:
            stop = min(stop, burn_in)
        if ri < n_rec:
            stop = min(stop, next_rec)
        if epochs:
            stop = min(stop, (n // M + 1) * M)
        if path == PATH_TANH_NET and d == 7 and run.specialised:
            last, cur, k = _segment_net2(loss, run, x, sn, sb, pc, cur, n, stop, sums, k, scratch)
        else:
            last, cur, k = _segment(point, path, loss, run, (x, sn, sb, pc), cur, n, stop, sums, k, work)
        if last < stop:
            chains.status[c] = NON_FINITE
            chains.stop_step[c] = last + 1
            stopped = 1
            break
        n = stop
        if n == next_rec and ri < n_rec:
            _put(records, c, ri, x)
            ri += 1
            next_rec += every
        if epochs and cur == M:  # the step that ended an epoch
            if n > burn_in:
                ecnt = welford(x, ecnt, emu, eM2, delta, d)
            if n == next_erec and ei < n_erec:
                _put(erecords, c, ei, x)
                ei += 1
                next_erec += e_every
    cnt = merge_sums(cnt, mu, M2, k, ref, S1, S2, delta, d)
    _store_chain(chains, c, (x, sn, sb, pc, cur), (mu, M2, cnt, emu, eM2, ecnt))
    return stopped


def _advance_chains(point, path, loss, chains, run):
    """Advance every running chain over ``run``; returns the number that stopped in this call.

    ``point`` is a user's point kernel, or None for the built-in models (``builtin_point`` on
    ``path`` 2).
    """
    status = chains.status
    n_stopped = 0
    for c in prange(chains.pos.shape[0]):
        if status[c] == RUNNING:
            n_stopped += _chain(c, point, path, loss, chains, run)
    return n_stopped


# One driver, compiled twice: a user's kernel arrives as an argument (compiled once per process,
# in memory); the built-ins pass None, so ``_chain`` uses the global ``builtin_point`` and the
# driver loads from the disk cache (its only cached build, so one cache entry).
sgd_point = jit_parallel_uncached(_advance_chains)
sgd_builtin = jit_parallel(_advance_chains)
