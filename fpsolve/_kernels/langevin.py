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
order, so ``standard_normals`` reproduces exactly the ``ξ`` a run used.  The generator state
travels as four scalars (``_next`` returns the output and the new state), so in the step loops
it lives in registers.

Arrays (``W`` walkers, ``d`` dimensions, ``N`` grid cells, ``R`` records)
-------------------------------------------------------------------------
``pos``        (W, d)     positions ``x``, updated in place
``rng``        (W, 4)     uint64 generator states, updated in place
``count``      (W,)       number of steps after burn-in in the streaming statistics
``ref``        (W, d)     the walker's position after step ``burn_in + 1`` (set by the kernel)
``sum1``       (W, d)     ``Σ (x − ref)`` over those steps
``sum2``       (W, d, d)  ``Σ (x − ref)(x − ref)ᵀ``, upper triangle only (the driver turns the
                          shifted sums into mean and Welford ``M2``; no division per step)
``status``     (W,)       0 running, 1 non-finite position, 2 absorbed, 3 diffusion not PSD
``stop_step``  (W,)       the step at which a walker stopped (-1 while running)
``exit_wall``  (W,)       ``2 * axis + side`` (side 0 lower, 1 upper) of an absorbing exit, else -1
``records``    (W, R, d)  positions after steps ``burn_in + r * record_every`` (prefilled NaN)
``lower, upper`` (d,)     box; ``bc`` (d,) per axis: 0 reflecting, 1 periodic, 2 absorbing, 3 free
``shape, spacing`` (d,)   cells and cell widths of the grid holding the tables
``drift_table`` (N, d)    drift ``A`` at the cell centres (cells in C order), interpolated
                          multilinearly; cell-major, so a cell's components share a cache line
``noise_table`` (N, d*d)  noise matrix ``B`` (row major, ``½ B Bᵀ = D``) at the cells; with
                          ``N == 1`` it is constant and never interpolated

Steps ``n`` count from 1: step ``n`` maps ``x_{n-1}`` to ``x_n``.  A kernel call advances every
running walker from step ``n_start`` to ``n_end``, so long runs go in chunks.  Each walker runs
its whole step loop in one ``prange`` iteration; two-dimensional grid problems (the common
case) take :func:`_walk_2d`, with every per-walker quantity a scalar.
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
def _next(s0, s1, s2, s3):
    """One xoshiro256** output and the next state (held in four scalars, so in registers)."""
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@jit_inline
def _uniform(s0, s1, s2, s3):
    r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
    return np.float64(np.int64(r >> np.uint64(11))) * TO_UNIT, s0, s1, s2, s3


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
# Indexed by the low 9 bits (layer and sign) of a draw: the sign goes into the layer's width,
# so the fast path has no branch on it (rabs * -w == -(rabs * w) exactly).
ZIG_KS = np.concatenate((ZIG_K, ZIG_K))
ZIG_WS = np.concatenate((ZIG_W, -ZIG_W))


@jit
def _normal_slow(idx, x, negative, s0, s1, s2, s3):
    """The ziggurat after a first draw missed its rectangle (about 1% of draws): wedge or tail."""
    while True:
        if idx == 0:
            while True:
                u1, s0, s1, s2, s3 = _uniform(s0, s1, s2, s3)
                u2, s0, s1, s2, s3 = _uniform(s0, s1, s2, s3)
                xx = -ZIG_INV_R * math.log1p(-u1)
                yy = -math.log1p(-u2)
                if yy + yy > xx * xx:
                    return (-(ZIG_R + xx) if negative else ZIG_R + xx), s0, s1, s2, s3
        else:
            u, s0, s1, s2, s3 = _uniform(s0, s1, s2, s3)
            if (ZIG_F[idx - 1] - ZIG_F[idx]) * u + ZIG_F[idx] < math.exp(-0.5 * x * x):
                return x, s0, s1, s2, s3
        r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
        idx = np.int64(r & np.uint64(0xFF))
        r = r >> np.uint64(8)
        negative = (r & np.uint64(1)) != np.uint64(0)
        rabs = (r >> np.uint64(1)) & MANTISSA
        x = np.float64(np.int64(rabs)) * ZIG_W[idx]
        if negative:
            x = -x
        if rabs < ZIG_K[idx]:
            return x, s0, s1, s2, s3


@jit_inline
def _normal(s0, s1, s2, s3):
    """One standard normal from the ziggurat and the next state (one uint64 in 99% of calls).

    The rectangle test is inlined and branch-free up to it (the sign is in ``ZIG_WS``); the
    wedges and the tail are a call to :func:`_normal_slow`.
    """
    r, s0, s1, s2, s3 = _next(s0, s1, s2, s3)
    layer = r & np.uint64(0x1FF)  # 8 bits pick the layer, the 9th the sign
    rabs = (r >> np.uint64(9)) & MANTISSA
    x = np.float64(np.int64(rabs)) * ZIG_WS[layer]
    if rabs < ZIG_KS[layer]:
        return x, s0, s1, s2, s3
    return _normal_slow(np.int64(layer & np.uint64(0xFF)), x, layer > np.uint64(0xFF),
                        s0, s1, s2, s3)


@jit_inline
def fill_normals(s, xi, d):
    """Fill ``xi[:d]`` with standard normals, in order, advancing the state array ``s`` (4,)."""
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for k in range(d):
        xi[k], s0, s1, s2, s3 = _normal(s0, s1, s2, s3)
    s[0], s[1], s[2], s[3] = s0, s1, s2, s3


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
def _cell(x, lo, inv_h, n, periodic):
    """Lower and upper stencil index and fraction of ``x`` on one axis of ``n`` cells.

    Non-periodic axes extrapolate linearly from the two outermost cells in the half cell
    next to a wall (exact for linear fields): the index is clamped to ``[0, n - 2]`` in
    floating point before the truncation, which is then a ``floor`` and cannot overflow.
    Periodic axes wrap (``x`` is inside the box, so ``floor(u) >= -1``).
    """
    u = (x - lo) * inv_h - 0.5
    if periodic:
        fl = math.floor(u)
        i = int(fl)
        f = u - fl
        if i < 0:
            i += n
        j = i + 1
        if j >= n:
            j -= n
        return i, j, f
    i = int(min(max(u, 0.0), n - 2.0))
    return i, i + 1, u - i


@jit_inline
def _locate(x, lower, inv_spacing, shape, bc, i0, i1, frac, d):
    """Corner indices and fractions of the multilinear stencil around ``x`` (see :func:`_cell`)."""
    for k in range(d):
        i0[k], i1[k], frac[k] = _cell(x[k], lower[k], inv_spacing[k], shape[k], bc[k] == PERIODIC)


@jit_inline
def _interpolate(table, i0, i1, frac, strides, d, out):
    """Multilinear interpolation of every column of ``table`` (N, m) into ``out`` (m).

    Written out for ``d = 1``; ``d = 2`` runs in :func:`_walk_2d`; otherwise the ``2**d``
    corners in the order of the bits of ``c`` (axis 0 the lowest bit).
    """
    m = table.shape[1]
    if d == 1:
        f = frac[0]
        a = i0[0]
        b = i1[0]
        for j in range(m):
            out[j] = (1.0 - f) * table[a, j] + f * table[b, j]
        return
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
            out[j] += wgt * table[flat, j]


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
def _fold1(x, lo, hi, bc):
    """Mirror (reflecting) or wrap (periodic) one coordinate into ``[lo, hi]``."""
    if x >= lo and x <= hi:
        return x
    length = hi - lo
    if bc == REFLECTING:
        y = (x - lo) % (2.0 * length)
        return lo + (2.0 * length - y if y > length else y)
    if bc == PERIODIC:
        return lo + (x - lo) % length
    return x


@jit_inline
def _fold(x, lower, upper, bc, d):
    """Mirror reflecting axes and wrap periodic ones into the box (absorbing axes untouched)."""
    for k in range(d):
        x[k] = _fold1(x[k], lower[k], upper[k], bc[k])


@jit_inline
def _exit1(x, lo, hi, bc, k):
    """``2 * k + side`` if ``x`` lies beyond an absorbing wall of axis ``k``, else -1."""
    if bc == ABSORBING:
        if x < lo:
            return 2 * k
        if x > hi:
            return 2 * k + 1
    return -1


@jit_inline
def _exit(x, lower, upper, bc, d):
    """``2 * axis + side`` of the first absorbing wall ``x`` lies beyond, else -1."""
    for k in range(d):
        e = _exit1(x[k], lower[k], upper[k], bc[k], k)
        if e >= 0:
            return e
    return -1


@jit_inline
def _finite(x, d):
    for k in range(d):
        if not math.isfinite(x[k]):
            return False
    return True


@jit_inline
def _first_record(n_start, burn_in, record_every):
    """The first step after ``n_start`` whose position is recorded (``record_every`` > 0)."""
    lo = max(n_start + 1, burn_in)
    return lo + (record_every - (lo - burn_in) % record_every) % record_every


@jit_inline
def _after_step(x, n, w, lower, upper, bc, d, burn_in, c, ref, s1, s2, dev,
                status, stop_step, exit_wall):
    """Walls, divergence and statistics after step ``n``; returns the new count (-1: stopped).

    Statistics are sums of deviations from the walker's first position after burn-in,
    ``s1 += x - ref`` and the upper triangle of ``s2 += (x - ref)(x - ref)ᵀ`` (no division).
    """
    if not _finite(x, d):
        status[w] = NON_FINITE
        stop_step[w] = n
        return -1
    _fold(x, lower, upper, bc, d)
    wall = _exit(x, lower, upper, bc, d)
    if wall >= 0:
        status[w] = ABSORBED
        stop_step[w] = n
        exit_wall[w] = wall
        return -1
    if n > burn_in:
        if c == 0:
            for i in range(d):
                ref[i] = x[i]
        c += 1
        for i in range(d):
            dev[i] = x[i] - ref[i]
            s1[i] += dev[i]
        for i in range(d):
            for j in range(i, d):
                s2[i * d + j] += dev[i] * dev[j]
    return c


@jit_inline
def _noise(B, xi, sq, d, g):
    for i in range(d):
        acc = 0.0
        for j in range(d):
            acc += B[i * d + j] * xi[j]
        g[i] = sq * acc


# -- steppers ------------------------------------------------------------------------------
@jit_inline
def _corners_2d(x, y, lx, ly, hix, hiy, nx, ny, px, py):
    """Flat indices (unsigned, so no negative-index wraparound) and weights of the 4 corners."""
    i0, i1, fx = _cell(x, lx, hix, nx, px)
    j0, j1, fy = _cell(y, ly, hiy, ny, py)
    c00 = np.uint64(i0 * ny + j0)
    c01 = np.uint64(i0 * ny + j1)
    c10 = np.uint64(i1 * ny + j0)
    c11 = np.uint64(i1 * ny + j1)
    w00 = (1.0 - fx) * (1.0 - fy)
    w01 = (1.0 - fx) * fy
    w10 = fx * (1.0 - fy)
    w11 = fx * fy
    return c00, c01, c10, c11, w00, w01, w10, w11


@jit_inline
def _bilinear(table, m, k, c00, c01, c10, c11, w00, w01, w10, w11):
    """Column ``k`` of the flat cell-major table with ``m`` columns at the 4 corners."""
    mm = np.uint64(m)
    kk = np.uint64(k)
    return (w00 * table[c00 * mm + kk] + w01 * table[c01 * mm + kk]
            + w10 * table[c10 * mm + kk] + w11 * table[c11 * mm + kk])


@jit
def _walk_2d(w, pos, rng, count, ref, sum1, sum2, status, stop_step, exit_wall, records,
             n_start, n_end, burn_in, record_every, dt, scheme,
             lower, upper, bc, shape, inv_spacing, drift_table, noise_table):
    """Walker ``w`` of a 2-D grid problem from step ``n_start`` to ``n_end``; 1 if it stopped.

    :func:`_walk` written out for two axes with every per-walker quantity a scalar, so the
    position, the generator state and the sums stay in registers through the step loop, and
    the walls are looked at only when a step leaves the box.  The floating-point operations
    are those of :func:`_walk` in the same order.
    """
    sq = math.sqrt(dt)
    lx, ly = lower[0], lower[1]
    hx, hy = upper[0], upper[1]
    bx, by = bc[0], bc[1]
    px, py = bx == PERIODIC, by == PERIODIC
    hix, hiy = inv_spacing[0], inv_spacing[1]
    nx, ny = shape[0], shape[1]
    A = drift_table.reshape(drift_table.size)
    Bt = noise_table.reshape(noise_table.size)
    constant = noise_table.shape[0] == 1
    b00, b01, b10, b11 = Bt[0], Bt[1], Bt[2], Bt[3]
    x, y = pos[w, 0], pos[w, 1]
    s0, s1, s2, s3 = rng[w, 0], rng[w, 1], rng[w, 2], rng[w, 3]
    c = count[w]
    rx, ry = ref[w, 0], ref[w, 1]
    t0, t1 = sum1[w, 0], sum1[w, 1]
    q00, q01, q11 = sum2[w, 0, 0], sum2[w, 0, 1], sum2[w, 1, 1]
    n_rec = _first_record(n_start, burn_in, record_every) if record_every > 0 else n_end + 1
    r_rec = (n_rec - burn_in) // record_every if record_every > 0 else 0
    n_records = records.shape[1]
    if n_start == 0 and burn_in == 0 and record_every > 0 and n_records > 0:
        records[w, 0, 0] = x
        records[w, 0, 1] = y
    stopped = 0
    for n in range(n_start + 1, n_end + 1):
        # the normals first: fewer values live across the (rare) call into _normal_slow
        z0, s0, s1, s2, s3 = _normal(s0, s1, s2, s3)
        z1, s0, s1, s2, s3 = _normal(s0, s1, s2, s3)
        c00, c01, c10, c11, w00, w01, w10, w11 = _corners_2d(x, y, lx, ly, hix, hiy, nx, ny, px, py)
        a0 = _bilinear(A, 2, 0, c00, c01, c10, c11, w00, w01, w10, w11)
        a1 = _bilinear(A, 2, 1, c00, c01, c10, c11, w00, w01, w10, w11)
        if not constant:
            b00 = _bilinear(Bt, 4, 0, c00, c01, c10, c11, w00, w01, w10, w11)
            b01 = _bilinear(Bt, 4, 1, c00, c01, c10, c11, w00, w01, w10, w11)
            b10 = _bilinear(Bt, 4, 2, c00, c01, c10, c11, w00, w01, w10, w11)
            b11 = _bilinear(Bt, 4, 3, c00, c01, c10, c11, w00, w01, w10, w11)
        g0 = sq * (0.0 + b00 * z0 + b01 * z1)
        g1 = sq * (0.0 + b10 * z0 + b11 * z1)
        if scheme == 0:
            x += a0 * dt + g0
            y += a1 * dt + g1
        else:
            xp = x + a0 * dt + g0
            yp = y + a1 * dt + g1
            if math.isfinite(xp) and math.isfinite(yp):
                xp = _fold1(xp, lx, hx, bx)
                yp = _fold1(yp, ly, hy, by)
                c00, c01, c10, c11, w00, w01, w10, w11 = _corners_2d(xp, yp, lx, ly, hix, hiy,
                                                                     nx, ny, px, py)
                e0 = _bilinear(A, 2, 0, c00, c01, c10, c11, w00, w01, w10, w11)
                e1 = _bilinear(A, 2, 1, c00, c01, c10, c11, w00, w01, w10, w11)
                x += 0.5 * (a0 + e0) * dt + g0
                y += 0.5 * (a1 + e1) * dt + g1
            else:
                x = xp
                y = yp
        if not (x >= lx and x <= hx and y >= ly and y <= hy):
            # outside the (finite) box, or not finite: the walls
            if not (math.isfinite(x) and math.isfinite(y)):
                status[w] = NON_FINITE
                stop_step[w] = n
                stopped = 1
                break
            x = _fold1(x, lx, hx, bx)
            y = _fold1(y, ly, hy, by)
            wall = _exit1(x, lx, hx, bx, 0)
            if wall < 0:
                wall = _exit1(y, ly, hy, by, 1)
            if wall >= 0:
                status[w] = ABSORBED
                stop_step[w] = n
                exit_wall[w] = wall
                stopped = 1
                break
        if n > burn_in:
            if c == 0:
                rx = x
                ry = y
            c += 1
            dx = x - rx
            dy = y - ry
            t0 += dx
            t1 += dy
            q00 += dx * dx
            q01 += dx * dy
            q11 += dy * dy
        if n == n_rec:
            if r_rec < n_records:
                records[w, r_rec, 0] = x
                records[w, r_rec, 1] = y
            r_rec += 1
            n_rec += record_every
    pos[w, 0], pos[w, 1] = x, y
    rng[w, 0], rng[w, 1], rng[w, 2], rng[w, 3] = s0, s1, s2, s3
    count[w] = c
    ref[w, 0], ref[w, 1] = rx, ry
    sum1[w, 0], sum1[w, 1] = t0, t1
    sum2[w, 0, 0], sum2[w, 0, 1], sum2[w, 1, 1] = q00, q01, q11
    return stopped


@jit
def _walk(w, pos, rng, count, ref, sum1, sum2, status, stop_step, exit_wall, records,
          n_start, n_end, burn_in, record_every, dt, scheme,
          lower, upper, bc, shape, inv_spacing, strides, drift_table, noise_table):
    """Walker ``w`` of a grid problem (any ``d``) from ``n_start`` to ``n_end``; 1 if it stopped."""
    d = pos.shape[1]
    sq = math.sqrt(dt)
    constant = noise_table.shape[0] == 1
    x = pos[w].copy()
    s = rng[w].copy()
    c = count[w]
    rf = ref[w].copy()
    s1 = sum1[w].copy()
    s2 = sum2[w].copy().reshape(d * d)
    a = np.empty(d)
    a2 = np.empty(d)
    g = np.empty(d)
    xi = np.empty(d)
    xp = np.empty(d)
    dev = np.empty(d)
    B = noise_table[0].copy()
    i0 = np.empty(d, np.int64)
    i1 = np.empty(d, np.int64)
    fr = np.empty(d)
    n_rec = _first_record(n_start, burn_in, record_every) if record_every > 0 else n_end + 1
    r_rec = (n_rec - burn_in) // record_every if record_every > 0 else 0
    n_records = records.shape[1]
    if n_start == 0 and burn_in == 0 and record_every > 0 and n_records > 0:
        for i in range(d):
            records[w, 0, i] = x[i]
    stopped = 0
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
        cn = _after_step(x, n, w, lower, upper, bc, d, burn_in, c, rf, s1, s2, dev,
                         status, stop_step, exit_wall)
        if cn < 0:
            stopped = 1
            break
        c = cn
        if n == n_rec:
            if r_rec < n_records:
                for i in range(d):
                    records[w, r_rec, i] = x[i]
            r_rec += 1
            n_rec += record_every
    pos[w] = x
    rng[w] = s
    count[w] = c
    ref[w] = rf
    sum1[w] = s1
    sum2[w] = s2.reshape(d, d)
    return stopped


@jit_parallel
def langevin_grid(pos, rng, count, ref, sum1, sum2, status, stop_step, exit_wall, records,
                  n_start, n_end, burn_in, record_every, dt, scheme,
                  lower, upper, bc, shape, spacing, drift_table, noise_table):
    """Advance walkers with fields interpolated from grid tables; returns the number stopped.

    ``drift_table`` (N, d) and ``noise_table`` (N, d*d), or (1, d*d) for a constant ``B``, hold
    the fields cell by cell (C order), so one cell's values share a cache line.
    ``scheme`` 0: Euler--Maruyama (Itô), ``x += A(x) dt + B(x) √dt ξ``.
    ``scheme`` 1: stochastic Heun for additive noise (``noise_table`` constant),
    ``x̃ = x + A(x) dt + B √dt ξ``, ``x += ½ (A(x) + A(x̃)) dt + B √dt ξ`` (weak order 2).
    Every walker runs its own loop over the steps (:func:`_walk_2d` for two axes, else
    :func:`_walk`), so walkers are independent of each other and of the threads.
    """
    W, d = pos.shape
    inv_spacing = 1.0 / spacing
    strides = np.ones(d, np.int64)
    for k in range(d - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    n_stopped = 0
    if d == 2:
        for w in prange(W):
            if status[w] == RUNNING:
                n_stopped += _walk_2d(np.int64(w), pos, rng, count, ref, sum1, sum2, status,
                                      stop_step, exit_wall, records, n_start, n_end, burn_in,
                                      record_every, dt, scheme, lower, upper, bc, shape,
                                      inv_spacing, drift_table, noise_table)
    else:
        for w in prange(W):
            if status[w] == RUNNING:
                n_stopped += _walk(np.int64(w), pos, rng, count, ref, sum1, sum2, status,
                                   stop_step, exit_wall, records, n_start, n_end, burn_in,
                                   record_every, dt, scheme, lower, upper, bc, shape,
                                   inv_spacing, strides, drift_table, noise_table)
    return n_stopped


@jit_parallel_uncached
def langevin_callable(drift, diffusion, pos, rng, count, ref, sum1, sum2, status, stop_step,
                      exit_wall, records, n_start, n_end, burn_in, record_every, dt, scheme,
                      lower, upper, bc, noise_const, diffusion_callable):
    """Advance walkers with user fields ``drift(x, out)`` and ``diffusion(x, out)``.

    ``drift`` fills ``out`` (d,) with ``A(x)``; ``diffusion`` fills ``out`` (d, d) with ``D(x)``
    and is called only when ``diffusion_callable``; otherwise ``noise_const`` (d*d) is ``B``.
    Schemes as in :func:`langevin_grid`; returns the number of walkers that stopped.
    (The step loop stays in the ``prange`` body: a version calling a per-walker function with
    the user's fields as arguments compiled in half the time but ran about 8 times slower.)
    """
    W, d = pos.shape
    sq = math.sqrt(dt)
    n_stopped = 0
    for w in prange(W):
        if status[w] != RUNNING:
            continue
        x = pos[w].copy()
        s = rng[w].copy()
        c = count[w]
        rf = ref[w].copy()
        s1 = sum1[w].copy()
        s2 = sum2[w].copy().reshape(d * d)
        a = np.empty(d)
        a2 = np.empty(d)
        g = np.empty(d)
        xi = np.empty(d)
        xp = np.empty(d)
        dev = np.empty(d)
        Dm = np.empty((d, d))
        B = noise_const.copy()
        n_rec = _first_record(n_start, burn_in, record_every) if record_every > 0 else n_end + 1
        r_rec = (n_rec - burn_in) // record_every if record_every > 0 else 0
        n_records = records.shape[1]
        if n_start == 0 and burn_in == 0 and record_every > 0 and n_records > 0:
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
            cn = _after_step(x, n, w, lower, upper, bc, d, burn_in, c, rf, s1, s2, dev,
                             status, stop_step, exit_wall)
            if cn < 0:
                break
            c = cn
            if n == n_rec:
                if r_rec < n_records:
                    for i in range(d):
                        records[w, r_rec, i] = x[i]
                r_rec += 1
                n_rec += record_every
        if status[w] != RUNNING:
            n_stopped += 1
        pos[w] = x
        rng[w] = s
        count[w] = c
        ref[w] = rf
        sum1[w] = s1
        sum2[w] = s2.reshape(d, d)
    return n_stopped


@jit
def no_diffusion(x, out):
    """Placeholder ``diffusion`` for :func:`langevin_callable` when the noise is constant."""
    return None
