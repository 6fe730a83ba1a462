"""Kernels of the Langevin trajectory engine: random streams, fields, walls, stepping.

Random numbers
--------------
Every walker owns an independent xoshiro256** generator (Blackman & Vigna 2018) whose
256-bit state is seeded from ``(seed, walker)`` alone::

    h      = splitmix64(splitmix64(seed) + walker)       # a bijection of the walker index
    s[k]   = mix(h + (k + 1) * GAMMA),   k = 0..3         # the splitmix64 stream from h

so a walker's noise does not depend on which thread runs it, nor on how many walkers
there are.  Uniforms are ``(next() >> 11) * 2**-53`` in ``[0, 1)``; standard normals come in
normals from the 256-layer ziggurat of Marsaglia & Tsang (2000) in the 64-bit layout of
NumPy's generator (8 bits pick the layer, 1 bit the sign, 52 bits the abscissa; the wedges and
the tail cost extra uniforms in about 1% of draws).  Each step draws its ``d`` normals in
order, so ``standard_normals`` reproduces exactly the ``ξ`` a run used.

Arrays (``W`` walkers, ``d`` dimensions, ``N`` grid cells, ``R`` records)
-------------------------------------------------------------------------
``pos``        (W, d)     positions ``x``, updated in place
``rng``        (W, 4)     uint64 generator states, updated in place
``count``      (W,)       number of steps after burn-in in the streaming statistics
``mean``       (W, d)     Welford running mean of those steps
``m2``         (W, d, d)  Welford sum of outer products of deviations
``status``     (W,)       0 running, 1 non-finite position, 2 absorbed, 3 diffusion not PSD
``stop_step``  (W,)       the step at which a walker stopped (-1 while running)
``exit_wall``  (W,)       ``2 * axis + side`` (side 0 lower, 1 upper) of an absorbing exit, else -1
``records``    (W, R, d)  positions after steps ``burn_in + r * record_every`` (prefilled NaN)
``lower, upper`` (d,)     box; ``bc`` (d,) per axis: 0 reflecting, 1 periodic, 2 absorbing, 3 free
``shape, spacing`` (d,)   cells and cell widths of the grid holding the tables
``drift_table`` (d, N)    drift ``A`` at the cell centres (C order), interpolated multilinearly
``noise_table`` (d*d, N)  noise matrix ``B`` (row major, ``½ B Bᵀ = D``) at the cells; with
                          ``N == 1`` it is constant and never interpolated

Steps ``n`` count from 1: step ``n`` maps ``x_{n-1}`` to ``x_n``.  A kernel call advances every
running walker from step ``n_start`` to ``n_end``, so long runs go in chunks.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import jit, jit_inline, jit_parallel, jit_parallel_uncached

GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
TO_UNIT = 2.0**-53

RUNNING, NON_FINITE, ABSORBED, NOT_PSD = 0, 1, 2, 3
REFLECTING, PERIODIC, ABSORBING, FREE = 0, 1, 2, 3
PSD_RTOL = 1e-12  # a pivot above -PSD_RTOL * max|D| is round-off of a PSD tensor


# -- random streams ------------------------------------------------------------------------
@jit_inline
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return z ^ (z >> np.uint64(31))


@jit_inline
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@jit
def seed_walker(seed, walker, s):
    """Fill ``s`` (4 uint64) with the xoshiro256** state of ``walker`` for ``seed``."""
    h = _mix(_mix(np.uint64(seed) + GAMMA) + np.uint64(walker) + GAMMA)
    for k in range(4):
        s[k] = _mix(h + np.uint64(k + 1) * GAMMA)


@jit_inline
def _next(s):
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@jit_inline
def _uniform(s):
    return np.float64(_next(s) >> np.uint64(11)) * TO_UNIT


def _ziggurat_tables(n=256, r=3.6541528853610088, v=0.00492867323399):
    """Marsaglia--Tsang ziggurat tables for the normal density (256 layers, 52-bit mantissa).

    ``r`` is the start of the tail and ``v`` the area of every layer (Marsaglia & Tsang
    2000, with the layout of NumPy's ``random_standard_normal``).
    """
    m1 = 2.0**52
    ki = np.zeros(n, np.uint64)
    wi = np.zeros(n)
    fi = np.zeros(n)
    dn = r
    q = v / math.exp(-0.5 * dn * dn)
    ki[0] = np.uint64((dn / q) * m1)
    ki[1] = np.uint64(0)
    wi[0] = q / m1
    wi[n - 1] = dn / m1
    fi[0] = 1.0
    fi[n - 1] = math.exp(-0.5 * dn * dn)
    for i in range(n - 2, 0, -1):
        new = math.sqrt(-2.0 * math.log(v / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64((new / dn) * m1)
        dn = new
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / m1
    return ki, wi, fi, r


ZIG_K, ZIG_W, ZIG_F, ZIG_R = _ziggurat_tables()
ZIG_INV_R = 1.0 / ZIG_R
MANTISSA = np.uint64(0x000FFFFFFFFFFFFF)


@jit_inline
def _normal(s):
    """One standard normal from the ziggurat (one uint64 in 99% of calls)."""
    while True:
        r = _next(s)
        idx = np.int64(r & np.uint64(0xFF))
        r = r >> np.uint64(8)
        negative = (r & np.uint64(1)) != np.uint64(0)
        rabs = (r >> np.uint64(1)) & MANTISSA
        x = np.float64(rabs) * ZIG_W[idx]
        if negative:
            x = -x
        if rabs < ZIG_K[idx]:
            return x
        if idx == 0:
            while True:
                xx = -ZIG_INV_R * math.log1p(-_uniform(s))
                yy = -math.log1p(-_uniform(s))
                if yy + yy > xx * xx:
                    return -(ZIG_R + xx) if negative else ZIG_R + xx
        elif (ZIG_F[idx - 1] - ZIG_F[idx]) * _uniform(s) + ZIG_F[idx] < math.exp(-0.5 * x * x):
            return x


@jit_inline
def fill_normals(s, xi, d):
    """Fill ``xi[:d]`` with standard normals, in order."""
    for k in range(d):
        xi[k] = _normal(s)


@jit
def seed_states(seed, first, out):
    """Generator states of walkers ``first .. first + len(out) - 1`` into ``out`` (W, 4)."""
    for w in range(out.shape[0]):
        seed_walker(seed, first + w, out[w])


@jit
def standard_normals(seed, first, out):
    """The normals ``ξ`` a run with ``seed`` draws: ``out`` (W, n_steps, d) for walkers from ``first``."""
    s = np.empty(4, np.uint64)
    d = out.shape[2]
    for w in range(out.shape[0]):
        seed_walker(seed, first + w, s)
        for n in range(out.shape[1]):
            fill_normals(s, out[w, n], d)


# -- fields --------------------------------------------------------------------------------
@jit_inline
def _locate(x, lower, inv_spacing, shape, bc, i0, i1, frac, d):
    """Corner indices and fractions of the multilinear stencil around ``x``.

    Non-periodic axes extrapolate linearly from the two outermost cells in the half cell
    next to a wall (exact for linear fields); periodic axes wrap.  ``x`` is inside the box,
    so ``u >= -0.5`` and truncation equals ``floor`` wherever the index is not clamped.
    """
    for k in range(d):
        n = shape[k]
        u = (x[k] - lower[k]) * inv_spacing[k] - 0.5
        if bc[k] == PERIODIC:
            i = int(math.floor(u))
            f = u - i
            i = i % n
            i0[k] = i
            i1[k] = (i + 1) % n
        else:
            i = int(u)
            if i > n - 2:
                i = n - 2
            f = u - i
            i0[k] = i
            i1[k] = i + 1
        frac[k] = f


@jit_inline
def _interpolate(table, i0, i1, frac, strides, d, out):
    """Multilinear interpolation of every row of ``table`` (m, N) into ``out`` (m).

    Written out for ``d`` = 1, 2, 3 (the loop over ``2**d`` corners costs twice as much).
    """
    m = table.shape[0]
    if d == 1:
        f = frac[0]
        a = i0[0]
        b = i1[0]
        for j in range(m):
            out[j] = (1.0 - f) * table[j, a] + f * table[j, b]
    elif d == 2:
        fx = frac[0]
        fy = frac[1]
        x0 = i0[0] * strides[0]
        x1 = i1[0] * strides[0]
        y0 = i0[1]
        y1 = i1[1]
        w00 = (1.0 - fx) * (1.0 - fy)
        w01 = (1.0 - fx) * fy
        w10 = fx * (1.0 - fy)
        w11 = fx * fy
        for j in range(m):
            out[j] = (w00 * table[j, x0 + y0] + w01 * table[j, x0 + y1]
                      + w10 * table[j, x1 + y0] + w11 * table[j, x1 + y1])
    else:
        for j in range(m):
            out[j] = 0.0
        for c in range(1 << d):
            wgt = 1.0
            flat = 0
            for k in range(d):
                if (c >> k) & 1:
                    wgt *= frac[k]
                    flat += i1[k] * strides[k]
                else:
                    wgt *= 1.0 - frac[k]
                    flat += i0[k] * strides[k]
            for j in range(m):
                out[j] += wgt * table[j, flat]


@jit_inline
def factor_diffusion(D, B, d):
    """Lower-triangular ``B`` (d*d, row major) with ``B Bᵀ = 2 D``; 0 if ``D`` is PSD, else 3.

    Cholesky with zero columns where a pivot vanishes (semidefinite ``D``).
    """
    scale = 0.0
    for i in range(d):
        for j in range(d):
            scale = max(scale, abs(D[i, j]))
    for i in range(d):
        for j in range(d):
            B[i * d + j] = 0.0
    for j in range(d):
        s = 2.0 * D[j, j]
        for k in range(j):
            s -= B[j * d + k] * B[j * d + k]
        if s < -PSD_RTOL * 2.0 * scale:
            return NOT_PSD
        piv = math.sqrt(s) if s > PSD_RTOL * 2.0 * scale else 0.0
        B[j * d + j] = piv
        for i in range(j + 1, d):
            s = 2.0 * D[i, j]
            for k in range(j):
                s -= B[i * d + k] * B[j * d + k]
            B[i * d + j] = s / piv if piv > 0.0 else 0.0
    return RUNNING


# -- walls, statistics, records ------------------------------------------------------------
@jit_inline
def _fold(x, lower, upper, bc, d):
    """Mirror reflecting axes and wrap periodic ones into the box (absorbing axes untouched)."""
    for k in range(d):
        lo = lower[k]
        hi = upper[k]
        if x[k] >= lo and x[k] <= hi:
            continue
        length = hi - lo
        if bc[k] == REFLECTING:
            y = (x[k] - lo) % (2.0 * length)
            x[k] = lo + (2.0 * length - y if y > length else y)
        elif bc[k] == PERIODIC:
            x[k] = lo + (x[k] - lo) % length


@jit_inline
def _exit(x, lower, upper, bc, d):
    """``2 * axis + side`` of the first absorbing wall ``x`` lies beyond, else -1."""
    for k in range(d):
        if bc[k] == ABSORBING:
            if x[k] < lower[k]:
                return 2 * k
            if x[k] > upper[k]:
                return 2 * k + 1
    return -1


@jit_inline
def _finite(x, d):
    for k in range(d):
        if not math.isfinite(x[k]):
            return False
    return True


@jit_inline
def _after_step(x, n, w, lower, upper, bc, d, burn_in, record_every, records, c, mu, M2,
                delta, status, stop_step, exit_wall):
    """Walls, divergence, statistics and records after step ``n``; returns the new count."""
    if not _finite(x, d):
        status[w] = NON_FINITE
        stop_step[w] = n
        return c
    _fold(x, lower, upper, bc, d)
    wall = _exit(x, lower, upper, bc, d)
    if wall >= 0:
        status[w] = ABSORBED
        stop_step[w] = n
        exit_wall[w] = wall
        return c
    if n > burn_in:
        c += 1
        inv = 1.0 / c
        for i in range(d):
            delta[i] = x[i] - mu[i]
            mu[i] += delta[i] * inv
        for i in range(d):
            for j in range(d):
                M2[i * d + j] += delta[i] * (x[j] - mu[j])
    if record_every > 0 and n >= burn_in:
        q = n - burn_in
        if q % record_every == 0:
            r = q // record_every
            if r < records.shape[1]:
                for i in range(d):
                    records[w, r, i] = x[i]
    return c


@jit_inline
def _noise(B, xi, sq, d, g):
    for i in range(d):
        acc = 0.0
        for j in range(d):
            acc += B[i * d + j] * xi[j]
        g[i] = sq * acc


# -- steppers ------------------------------------------------------------------------------
@jit_parallel
def langevin_grid(pos, rng, count, mean, m2, status, stop_step, exit_wall, records,
                  n_start, n_end, burn_in, record_every, dt, scheme,
                  lower, upper, bc, shape, spacing, drift_table, noise_table):
    """Advance walkers with fields interpolated from grid tables; returns the number stopped.

    ``scheme`` 0: Euler--Maruyama (Itô), ``x += A(x) dt + B(x) √dt ξ``.
    ``scheme`` 1: stochastic Heun for additive noise (``noise_table`` constant),
    ``x̃ = x + A(x) dt + B √dt ξ``, ``x += ½ (A(x) + A(x̃)) dt + B √dt ξ`` (weak order 2).
    """
    W, d = pos.shape
    sq = math.sqrt(dt)
    inv_spacing = 1.0 / spacing
    strides = np.ones(d, np.int64)
    for k in range(d - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    constant = noise_table.shape[1] == 1
    n_stopped = 0
    for w in prange(W):
        if status[w] != RUNNING:
            continue
        x = pos[w].copy()
        s = rng[w].copy()
        mu = mean[w].copy()
        M2 = m2[w].copy().reshape(d * d)
        c = count[w]
        a = np.empty(d)
        a2 = np.empty(d)
        g = np.empty(d)
        xi = np.empty(d)
        xp = np.empty(d)
        delta = np.empty(d)
        B = noise_table[:, 0].copy()
        i0 = np.empty(d, np.int64)
        i1 = np.empty(d, np.int64)
        fr = np.empty(d)
        if n_start == 0 and burn_in == 0 and record_every > 0 and records.shape[1] > 0:
            for i in range(d):
                records[w, 0, i] = x[i]
        for n in range(n_start + 1, n_end + 1):
            _locate(x, lower, inv_spacing, shape, bc, i0, i1, fr, d)
            _interpolate(drift_table, i0, i1, fr, strides, d, a)
            if not constant:
                _interpolate(noise_table, i0, i1, fr, strides, d, B)
            fill_normals(s, xi, d)
            _noise(B, xi, sq, d, g)
            if scheme == 0:
                for i in range(d):
                    x[i] += a[i] * dt + g[i]
            else:
                for i in range(d):
                    xp[i] = x[i] + a[i] * dt + g[i]
                if _finite(xp, d):
                    _fold(xp, lower, upper, bc, d)
                    _locate(xp, lower, inv_spacing, shape, bc, i0, i1, fr, d)
                    _interpolate(drift_table, i0, i1, fr, strides, d, a2)
                    for i in range(d):
                        x[i] += 0.5 * (a[i] + a2[i]) * dt + g[i]
                else:
                    for i in range(d):
                        x[i] = xp[i]
            c = _after_step(x, n, w, lower, upper, bc, d, burn_in, record_every, records, c,
                            mu, M2, delta, status, stop_step, exit_wall)
            if status[w] != RUNNING:
                n_stopped += 1
                break
        pos[w] = x
        rng[w] = s
        mean[w] = mu
        m2[w] = M2.reshape(d, d)
        count[w] = c
    return n_stopped


@jit_parallel_uncached
def langevin_callable(drift, diffusion, pos, rng, count, mean, m2, status, stop_step, exit_wall,
                      records, n_start, n_end, burn_in, record_every, dt, scheme,
                      lower, upper, bc, noise_const, diffusion_callable):
    """Advance walkers with user fields ``drift(x, out)`` and ``diffusion(x, out)``.

    ``drift`` fills ``out`` (d,) with ``A(x)``; ``diffusion`` fills ``out`` (d, d) with ``D(x)``
    and is called only when ``diffusion_callable``; otherwise ``noise_const`` (d*d) is ``B``.
    Schemes as in :func:`langevin_grid`; returns the number of walkers that stopped.
    """
    W, d = pos.shape
    sq = math.sqrt(dt)
    n_stopped = 0
    for w in prange(W):
        if status[w] != RUNNING:
            continue
        x = pos[w].copy()
        s = rng[w].copy()
        mu = mean[w].copy()
        M2 = m2[w].copy().reshape(d * d)
        c = count[w]
        a = np.empty(d)
        a2 = np.empty(d)
        g = np.empty(d)
        xi = np.empty(d)
        xp = np.empty(d)
        delta = np.empty(d)
        Dm = np.empty((d, d))
        B = noise_const.copy()
        if n_start == 0 and burn_in == 0 and record_every > 0 and records.shape[1] > 0:
            for i in range(d):
                records[w, 0, i] = x[i]
        for n in range(n_start + 1, n_end + 1):
            drift(x, a)
            if diffusion_callable:
                diffusion(x, Dm)
                if factor_diffusion(Dm, B, d) != RUNNING:
                    status[w] = NOT_PSD
                    stop_step[w] = n
                    break
            fill_normals(s, xi, d)
            _noise(B, xi, sq, d, g)
            if scheme == 0:
                for i in range(d):
                    x[i] += a[i] * dt + g[i]
            else:
                for i in range(d):
                    xp[i] = x[i] + a[i] * dt + g[i]
                _fold(xp, lower, upper, bc, d)
                drift(xp, a2)
                for i in range(d):
                    x[i] += 0.5 * (a[i] + a2[i]) * dt + g[i]
            c = _after_step(x, n, w, lower, upper, bc, d, burn_in, record_every, records, c,
                            mu, M2, delta, status, stop_step, exit_wall)
            if status[w] != RUNNING:
                break
        if status[w] != RUNNING:
            n_stopped += 1
        pos[w] = x
        rng[w] = s
        mean[w] = mu
        m2[w] = M2.reshape(d, d)
        count[w] = c
    return n_stopped


@jit
def no_diffusion(x, out):
    """Placeholder ``diffusion`` for :func:`langevin_callable` when the noise is constant."""
    return None
