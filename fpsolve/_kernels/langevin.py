"""Kernels of the Langevin trajectory engine: random streams, fields, walls, stepping.

Random numbers come from :mod:`fpsolve._kernels.random` (a xoshiro256** stream per walker,
seeded from ``(seed, walker)``; ``d`` ziggurat normals per step, in order) and the streaming
moments from :mod:`fpsolve._kernels.stats`; the status, boundary and method codes are those of
:mod:`fpsolve._kernels.codes`.

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
its whole step loop inside one ``prange`` iteration; two-dimensional problems (the common case)
take two walkers per iteration, stepped in lockstep with every per-walker quantity a scalar
(:func:`_walk_2d_pair`, :func:`_callable_pair_2d`): one walker's step is a chain of dependent
operations, and the partner's independent step fills the processor's idle cycles.  Pairing, the
thread count and the chunking change no bit of any walker's trajectory.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import prange

from ._jit import jit, jit_inline, jit_parallel, jit_parallel_uncached
from .codes import (
    ABSORBED,
    ABSORBING,
    EULER_MARUYAMA,
    NON_FINITE,
    NOT_PSD,
    PERIODIC,
    REFLECTING,
    RUNNING,
)
from .random import fill_normals, normal
from .stats import add_sample

PSD_RTOL = 1e-12  # a pivot above -PSD_RTOL * max|D| is round-off of a PSD tensor


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
def locate(x, lower, inv_spacing, shape, bc, i0, i1, frac, d):
    """Corner indices and fractions of the multilinear stencil around ``x`` (see :func:`_cell`)."""
    for k in range(d):
        i0[k], i1[k], frac[k] = _cell(x[k], lower[k], inv_spacing[k], shape[k], bc[k] == PERIODIC)


@jit_inline
def interpolate(table, i0, i1, frac, strides, d, out):
    """Multilinear interpolation of every column of ``table`` (N, m) into ``out`` (m).

    Written out for ``d = 1``; otherwise the ``2**d`` corners in C order (the bits of ``c``,
    the last axis the lowest bit), the order of :func:`bilinear`, so that for ``d = 2`` this
    is the 2-D stencil of :func:`_walk_2d` bit for bit.
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
            if (c >> (d - 1 - k)) & 1:
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


# -- walls ---------------------------------------------------------------------------------
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


# -- grouped arguments ---------------------------------------------------------------------
# The kernels take their arrays grouped (fields by name, so two arrays cannot be swapped
# silently).  With Numba 0.6x a write made through a namedtuple (or a plain tuple, even one
# unpacked first) in the body of an ``inline="always"`` function inlined into a ``prange`` body
# is lost (checked with 0.68.1); reads are fine, and so are writes made inside a plain ``jit``
# function called from there (LLVM still inlines it; Numba's parfor passes never see its body).
# So every write to a walker array goes through one of the plain ``jit`` functions below
# (:func:`_store`, :func:`_stop`, :func:`_put`, :func:`_store_2d`, :func:`_put_2d`), and the
# inlined walker loops of :func:`langevin_callable` take ``walkers`` whole; a test checks that
# their writes land.
Walkers = namedtuple("Walkers", "pos rng count ref sum1 sum2 status stop_step exit_wall records")
Span = namedtuple("Span", "n_start n_end burn_in record_every dt method")
Box = namedtuple("Box", "lower upper bc")
Tables = namedtuple("Tables", "shape inv_spacing strides drift_table noise_table")


# -- records, and the walls after a step ----------------------------------------------------
@jit_inline
def _first_record(n_start, burn_in, record_every):
    """The first step after ``n_start`` whose position is recorded (``record_every`` > 0)."""
    lo = max(n_start + 1, burn_in)
    return lo + (record_every - (lo - burn_in) % record_every) % record_every


@jit_inline
def _record_cursor(n_start, n_end, burn_in, record_every):
    """The next recorded step after ``n_start`` and its record index (none: ``n_end + 1``, 0)."""
    if record_every > 0:
        n_rec = _first_record(n_start, burn_in, record_every)
        return n_rec, (n_rec - burn_in) // record_every
    return n_end + 1, 0


@jit_inline
def _records_start(n_start, burn_in, record_every, n_records):
    """Whether record 0 is the start itself (``burn_in == 0``), written before step 1."""
    return n_start == 0 and burn_in == 0 and record_every > 0 and n_records > 0


@jit
def _put(records, w, r, x):
    """Record ``r`` of walker ``w``: ``records[w, r] = x`` (a plain ``jit``: see ``Walkers``)."""
    for i in range(x.shape[0]):
        records[w, r, i] = x[i]


@jit
def _stop(walkers, w, code, n, wall):
    """Walker ``w`` stopped at step ``n`` with status ``code`` (``wall``: ``2 * axis + side`` of
    an absorbing exit, else -1)."""
    walkers.status[w] = code
    walkers.stop_step[w] = n
    walkers.exit_wall[w] = wall


@jit_inline
def _record(records, w, n, n_rec, r_rec, record_every, x):
    """Write ``x`` as record ``r_rec`` if step ``n`` is recorded; returns the next cursor."""
    if n == n_rec:
        if r_rec < records.shape[1]:
            _put(records, w, r_rec, x)
        r_rec += 1
        n_rec += record_every
    return n_rec, r_rec


@jit_inline
def _walls(x, lower, upper, bc, d):
    """Divergence and walls after a step (reflect, wrap, absorb): ``(status, wall)``, ``status``
    ``RUNNING``, ``NON_FINITE`` or ``ABSORBED`` (``wall``: ``2 * axis + side``, else -1)."""
    if not _finite(x, d):
        return NON_FINITE, -1
    _fold(x, lower, upper, bc, d)
    wall = _exit(x, lower, upper, bc, d)
    if wall >= 0:
        return ABSORBED, wall
    return RUNNING, -1


@jit_inline
def _noise(s, B, xi, sq, d, g):
    """The step's noise ``g = B √dt ξ`` (``ξ``: the next ``d`` normals of the state array ``s``)."""
    fill_normals(s, xi, d)
    for i in range(d):
        acc = 0.0
        for j in range(d):
            acc += B[i * d + j] * xi[j]
        g[i] = sq * acc


# -- the step: one copy, on scalars, used by every walker loop -------------------------------
@jit_inline
def _euler(x, a, g, dt):
    """Euler--Maruyama, one coordinate: ``x + (A dt + g)`` with ``g = (B √dt ξ)_i``."""
    return x + (a * dt + g)


@jit_inline
def _predict(x, a, g, dt):
    """The Heun predictor, one coordinate: ``x̃ = x + A dt + g``."""
    return x + a * dt + g


@jit_inline
def _heun(x, a, e, g, dt):
    """The Heun corrector, one coordinate: ``x + (½ (A(x) + A(x̃)) dt + g)``."""
    return x + (0.5 * (a + e) * dt + g)


@jit_inline
def _euler_all(x, a, g, dt, d):
    for i in range(d):
        x[i] = _euler(x[i], a[i], g[i], dt)


@jit_inline
def _predict_all(x, a, g, dt, xp, d):
    for i in range(d):
        xp[i] = _predict(x[i], a[i], g[i], dt)


@jit_inline
def _heun_all(x, a, a2, g, dt, d):
    for i in range(d):
        x[i] = _heun(x[i], a[i], a2[i], g[i], dt)


# -- one walker's state: loaded into local copies, stored back ------------------------------
@jit
def _load(walkers, w):
    """Copies of walker ``w``'s position, generator state and sums (``sum2`` flat, d*d)."""
    d = walkers.pos.shape[1]
    return (walkers.pos[w].copy(), walkers.rng[w].copy(), walkers.ref[w].copy(),
            walkers.sum1[w].copy(), walkers.sum2[w].copy().reshape(d * d))


# (same shape as sgd._store_chain: each engine writes back the fields of its own state)
@jit
def _store(walkers, w, x, s, c, rf, s1, s2):
    """Write walker ``w``'s local state back (the inverse of :func:`_load`)."""
    d = x.shape[0]
    walkers.pos[w] = x
    walkers.rng[w] = s
    walkers.count[w] = c
    walkers.ref[w] = rf
    walkers.sum1[w] = s1
    walkers.sum2[w] = s2.reshape(d, d)


@jit_inline
def _scratch(d):
    """Per-walker work vectors: drift, drift at the predictor, noise, normals, predictor, deviation."""
    return np.empty(d), np.empty(d), np.empty(d), np.empty(d), np.empty(d), np.empty(d)


# -- steppers ------------------------------------------------------------------------------
@jit_inline
def corners_2d(x, y, lx, ly, hix, hiy, nx, ny, px, py):
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
def bilinear(table, m, k, c00, c01, c10, c11, w00, w01, w10, w11):
    """Column ``k`` of the flat cell-major table with ``m`` columns at the 4 corners."""
    mm = np.uint64(m)
    kk = np.uint64(k)
    return (w00 * table[c00 * mm + kk] + w01 * table[c01 * mm + kk]
            + w10 * table[c10 * mm + kk] + w11 * table[c11 * mm + kk])


@jit_inline
def _step_2d(walker, A, Bt, constant, noise, geometry, stepping):
    """One step of a 2-D grid walker on scalars: ``walker = (x, y, s0, s1, s2, s3)`` (position
    and generator state) after it.

    ``geometry`` is ``(lx, ly, hx, hy, bx, by, px, py, hix, hiy, nx, ny)`` (box, boundary codes,
    periodic flags, inverse spacings, cells); ``noise = (b00, b01, b10, b11)`` is the constant
    noise matrix, used when ``constant``; ``stepping = (dt, sq, method)`` (``sq = √dt``).  The
    tuples are taken apart in the inlined body, so they cost nothing.  The walls come after, in
    :func:`_walls_2d`.
    """
    x, y, s0, s1, s2, s3 = walker
    b00, b01, b10, b11 = noise
    dt, sq, method = stepping
    lx, ly, hx, hy, bx, by, px, py, hix, hiy, nx, ny = geometry
    # the normals first: fewer values live across the (rare) call into _normal_slow
    z0, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
    z1, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
    c00, c01, c10, c11, w00, w01, w10, w11 = corners_2d(x, y, lx, ly, hix, hiy, nx, ny, px, py)
    a0 = bilinear(A, 2, 0, c00, c01, c10, c11, w00, w01, w10, w11)
    a1 = bilinear(A, 2, 1, c00, c01, c10, c11, w00, w01, w10, w11)
    if not constant:
        b00 = bilinear(Bt, 4, 0, c00, c01, c10, c11, w00, w01, w10, w11)
        b01 = bilinear(Bt, 4, 1, c00, c01, c10, c11, w00, w01, w10, w11)
        b10 = bilinear(Bt, 4, 2, c00, c01, c10, c11, w00, w01, w10, w11)
        b11 = bilinear(Bt, 4, 3, c00, c01, c10, c11, w00, w01, w10, w11)
    g0 = sq * (0.0 + b00 * z0 + b01 * z1)
    g1 = sq * (0.0 + b10 * z0 + b11 * z1)
    if method == EULER_MARUYAMA:
        return _euler(x, a0, g0, dt), _euler(y, a1, g1, dt), s0, s1, s2, s3
    xp = _predict(x, a0, g0, dt)
    yp = _predict(y, a1, g1, dt)
    if not (math.isfinite(xp) and math.isfinite(yp)):
        return xp, yp, s0, s1, s2, s3
    xp = _fold1(xp, lx, hx, bx)
    yp = _fold1(yp, ly, hy, by)
    c00, c01, c10, c11, w00, w01, w10, w11 = corners_2d(xp, yp, lx, ly, hix, hiy, nx, ny, px, py)
    e0 = bilinear(A, 2, 0, c00, c01, c10, c11, w00, w01, w10, w11)
    e1 = bilinear(A, 2, 1, c00, c01, c10, c11, w00, w01, w10, w11)
    return _heun(x, a0, e0, g0, dt), _heun(y, a1, e1, g1, dt), s0, s1, s2, s3


@jit_inline
def _inside_2d(x, y, geometry):
    """Whether ``(x, y)`` is inside the (finite) box; False for a non-finite position."""
    return x >= geometry[0] and x <= geometry[2] and y >= geometry[1] and y <= geometry[3]


@jit_inline
def _escaped_2d(x, y, geometry):
    """Whether ``(x, y)`` is outside the box or not finite (the walls must look at it)."""
    return not (_inside_2d(x, y, geometry) and math.isfinite(x) and math.isfinite(y))


@jit_inline
def _walls_2d(x, y, geometry):
    """The walls for a position outside the box: ``(x, y, status, wall)`` after folding.

    ``status`` is ``RUNNING``, ``NON_FINITE`` or ``ABSORBED`` (``wall``: ``2 * axis + side``, else -1).
    """
    lx, ly, hx, hy, bx, by = geometry[0], geometry[1], geometry[2], geometry[3], geometry[4], geometry[5]
    if not (math.isfinite(x) and math.isfinite(y)):
        return x, y, NON_FINITE, -1
    x = _fold1(x, lx, hx, bx)
    y = _fold1(y, ly, hy, by)
    wall = _exit1(x, lx, hx, bx, 0)
    if wall < 0:
        wall = _exit1(y, ly, hy, by, 1)
    if wall >= 0:
        return x, y, ABSORBED, wall
    return x, y, RUNNING, -1


@jit_inline
def _sample_2d(x, y, c, rx, ry, t0, t1, q00, q01, q11):
    """:func:`stats.add_sample` on scalars (the first sample's zero deviation is added)."""
    if c == 0:
        rx = x
        ry = y
    c += 1
    dx = x - rx
    dy = y - ry
    return c, rx, ry, t0 + dx, t1 + dy, q00 + dx * dx, q01 + dx * dy, q11 + dy * dy


@jit_inline
def _load_2d(walkers, w):
    """Walker ``w`` of a 2-D problem as 14 scalars: ``x, y, s0, s1, s2, s3`` (position and
    generator state), then its sums ``c, rx, ry, t0, t1, q00, q01, q11`` (as :func:`_sample_2d`
    takes them).  One flat tuple: unpacking a nested one in a ``prange`` body fails Numba's
    array analysis (0.68.1: "Dimension mismatch")."""
    pos, rng, ref, sum1, sum2 = walkers.pos, walkers.rng, walkers.ref, walkers.sum1, walkers.sum2
    return (pos[w, 0], pos[w, 1], rng[w, 0], rng[w, 1], rng[w, 2], rng[w, 3], walkers.count[w],
            ref[w, 0], ref[w, 1], sum1[w, 0], sum1[w, 1], sum2[w, 0, 0], sum2[w, 0, 1], sum2[w, 1, 1])


@jit
def _store_2d(walkers, w, walker, sums):
    """Write walker ``w``'s scalars back (the inverse of :func:`_load_2d`)."""
    x, y, s0, s1, s2, s3 = walker
    c, rx, ry, t0, t1, q00, q01, q11 = sums
    pos, rng, ref, sum1, sum2 = walkers.pos, walkers.rng, walkers.ref, walkers.sum1, walkers.sum2
    pos[w, 0], pos[w, 1] = x, y
    rng[w, 0], rng[w, 1], rng[w, 2], rng[w, 3] = s0, s1, s2, s3
    walkers.count[w] = c
    ref[w, 0], ref[w, 1] = rx, ry
    sum1[w, 0], sum1[w, 1] = t0, t1
    sum2[w, 0, 0], sum2[w, 0, 1], sum2[w, 1, 1] = q00, q01, q11


@jit
def _put_2d(records, w, r, x, y):
    """Record ``r`` of a 2-D walker ``w``: ``records[w, r] = (x, y)``."""
    records[w, r, 0] = x
    records[w, r, 1] = y


@jit_inline
def _post_step_2d(records, w, x, y, sums, n, burn_in, n_rec, r_rec):
    """After step ``n`` of a running 2-D walker ``w`` at ``(x, y)``: the sample (after burn-in)
    and the record ``r_rec`` if it falls due at this step (``n == n_rec``); returns the sums."""
    if n > burn_in:
        c, rx, ry, t0, t1, q00, q01, q11 = sums
        sums = _sample_2d(x, y, c, rx, ry, t0, t1, q00, q01, q11)
    if n == n_rec and r_rec < records.shape[1]:
        _put_2d(records, w, r_rec, x, y)
    return sums


@jit_inline
def _geometry_2d(box, tables):
    """The scalars :func:`_step_2d` and :func:`_walls_2d` read, and the flat tables."""
    bx, by = box.bc[0], box.bc[1]
    geometry = (box.lower[0], box.lower[1], box.upper[0], box.upper[1], bx, by,
                bx == PERIODIC, by == PERIODIC, tables.inv_spacing[0], tables.inv_spacing[1],
                tables.shape[0], tables.shape[1])
    A = tables.drift_table.reshape(tables.drift_table.size)
    Bt = tables.noise_table.reshape(tables.noise_table.size)
    return geometry, A, Bt, tables.noise_table.shape[0] == 1


@jit
def _walk_2d(w, walkers, span, box, tables):
    """Walker ``w`` of a 2-D grid problem over ``span``; 1 if it stopped.

    :func:`_walk` written out for two axes with every per-walker quantity a scalar, so the
    position, the generator state and the sums stay in registers through the step loop, and
    the walls are looked at only when a step leaves the box.  It calls the same step
    (:func:`_euler`, :func:`_predict`, :func:`_heun`), so the floating-point operations are
    those of :func:`_walk` in the same order (a test pins the two bit for bit).
    """
    records = walkers.records
    n_start, n_end, burn_in, record_every, dt, method = span
    stepping = (dt, math.sqrt(dt), method)
    geometry, A, Bt, constant = _geometry_2d(box, tables)
    noise = (Bt[0], Bt[1], Bt[2], Bt[3])
    x, y, s0, s1, s2, s3, c, rx, ry, t0, t1, q00, q01, q11 = _load_2d(walkers, w)
    n_rec, r_rec = _record_cursor(n_start, n_end, burn_in, record_every)
    n_records = records.shape[1]
    if _records_start(n_start, burn_in, record_every, n_records):
        _put_2d(records, w, 0, x, y)
    stopped = 0
    for n in range(n_start + 1, n_end + 1):
        x, y, s0, s1, s2, s3 = _step_2d((x, y, s0, s1, s2, s3), A, Bt, constant, noise, geometry,
                                        stepping)
        if not _inside_2d(x, y, geometry):
            x, y, code, wall = _walls_2d(x, y, geometry)
            if code != RUNNING:
                _stop(walkers, w, code, n, wall)
                stopped = 1
                break
        if n > burn_in:
            c, rx, ry, t0, t1, q00, q01, q11 = _sample_2d(x, y, c, rx, ry, t0, t1, q00, q01, q11)
        if n == n_rec:
            if r_rec < n_records:
                _put_2d(records, w, r_rec, x, y)
            r_rec += 1
            n_rec += record_every
    _store_2d(walkers, w, (x, y, s0, s1, s2, s3),
              (c, rx, ry, t0, t1, q00, q01, q11))
    return stopped


@jit
def _walk_2d_pair(w, v, walkers, span, box, tables):
    """Walkers ``w`` and ``v`` (both running) of a 2-D grid problem over ``span``; the number
    that stopped.

    The two walkers advance in lockstep: each step of one depends on the step before it (a
    chain of about 70 cycles through the interpolation), and the other walker's step is
    independent work the processor overlaps with it.  Each walker goes through exactly the
    operations of :func:`_walk_2d` (the same inlined :func:`_step_2d`, :func:`_walls_2d`,
    :func:`_sample_2d`), so pairing changes no bit; when one stops, the other finishes that
    step here and the rest of the span in :func:`_walk_2d`.  The loop is compiled for the
    common cases with the method and the constant noise known (so their branches leave the
    loop: worth about 10 %), else for any.
    """
    constant = tables.noise_table.shape[0] == 1
    if span.method == EULER_MARUYAMA:
        if constant:
            return _pair_2d(w, v, walkers, span, box, tables, EULER_MARUYAMA, True)
        return _pair_2d(w, v, walkers, span, box, tables, EULER_MARUYAMA, False)
    return _pair_2d(w, v, walkers, span, box, tables, span.method, constant)


@jit
def _finish_pair(w, v, walkers, span, box, tables, n_stop, codes):
    """After a paired step ``n_stop`` that stopped ``w`` or ``v`` (``codes = (code_w, wall_w,
    code_v, wall_v)``): the stopped ones' status, the other one on by itself through
    :func:`_walk_2d`; the number that stopped."""
    code_w, wall_w, code_v, wall_v = codes
    n_stopped = 0
    rest = Span(n_stop, span.n_end, span.burn_in, span.record_every, span.dt, span.method)
    for u, code, wall in ((w, code_w, wall_w), (v, code_v, wall_v)):
        if code != RUNNING:
            _stop(walkers, u, code, n_stop, wall)
            n_stopped += 1
        elif n_stop < span.n_end:
            n_stopped += _walk_2d(u, walkers, rest, box, tables)
    return n_stopped


@jit_inline
def _pair_2d(w, v, walkers, span, box, tables, method, constant):
    """The loop of :func:`_walk_2d_pair` with ``method`` and ``constant`` given."""
    records = walkers.records
    n_start, n_end, burn_in, record_every, dt = span[0], span[1], span[2], span[3], span[4]
    stepping = (dt, math.sqrt(dt), method)
    geometry, A, Bt, _ = _geometry_2d(box, tables)
    noise = (Bt[0], Bt[1], Bt[2], Bt[3])
    x, y, s0, s1, s2, s3, c, rx, ry, t0, t1, q00, q01, q11 = _load_2d(walkers, w)
    X, Y, S0, S1, S2, S3, C, RX, RY, T0, T1, Q00, Q01, Q11 = _load_2d(walkers, v)
    n_rec, r_rec = _record_cursor(n_start, n_end, burn_in, record_every)
    n_records = records.shape[1]
    if _records_start(n_start, burn_in, record_every, n_records):
        _put_2d(records, w, 0, x, y)
        _put_2d(records, v, 0, X, Y)
    code_w = RUNNING
    code_v = RUNNING
    wall_w = -1
    wall_v = -1
    n_stop = n_end
    for n in range(n_start + 1, n_end + 1):
        x, y, s0, s1, s2, s3 = _step_2d((x, y, s0, s1, s2, s3), A, Bt, constant, noise, geometry,
                                        stepping)
        X, Y, S0, S1, S2, S3 = _step_2d((X, Y, S0, S1, S2, S3), A, Bt, constant, noise, geometry,
                                        stepping)
        if not _inside_2d(x, y, geometry):
            x, y, code_w, wall_w = _walls_2d(x, y, geometry)
        if not _inside_2d(X, Y, geometry):
            X, Y, code_v, wall_v = _walls_2d(X, Y, geometry)
        if code_w != RUNNING or code_v != RUNNING:
            n_stop = n  # the running one (if any) finishes step n below
            break
        if n > burn_in:
            c, rx, ry, t0, t1, q00, q01, q11 = _sample_2d(x, y, c, rx, ry, t0, t1, q00, q01, q11)
            C, RX, RY, T0, T1, Q00, Q01, Q11 = _sample_2d(X, Y, C, RX, RY, T0, T1, Q00, Q01, Q11)
        if n == n_rec:
            if r_rec < n_records:
                _put_2d(records, w, r_rec, x, y)
                _put_2d(records, v, r_rec, X, Y)
            r_rec += 1
            n_rec += record_every
    stopping = code_w != RUNNING or code_v != RUNNING
    if stopping and code_w == RUNNING:  # the running one finishes step n_stop
        c, rx, ry, t0, t1, q00, q01, q11 = _post_step_2d(
            records, w, x, y, (c, rx, ry, t0, t1, q00, q01, q11), n_stop, burn_in, n_rec, r_rec)
    if stopping and code_v == RUNNING:
        C, RX, RY, T0, T1, Q00, Q01, Q11 = _post_step_2d(
            records, v, X, Y, (C, RX, RY, T0, T1, Q00, Q01, Q11), n_stop, burn_in, n_rec, r_rec)
    _store_2d(walkers, w, (x, y, s0, s1, s2, s3),
              (c, rx, ry, t0, t1, q00, q01, q11))
    _store_2d(walkers, v, (X, Y, S0, S1, S2, S3),
              (C, RX, RY, T0, T1, Q00, Q01, Q11))
    if not stopping:
        return 0
    return _finish_pair(w, v, walkers, span, box, tables, n_stop, (code_w, wall_w, code_v, wall_v))


@jit
def _walk(w, walkers, span, box, tables):
    """Walker ``w`` of a grid problem (any ``d``) over ``span``; 1 if it stopped."""
    records = walkers.records
    n_start, n_end, burn_in, record_every, dt, method = span
    lower, upper, bc = box
    shape, inv_spacing, strides, drift_table, noise_table = tables
    d = walkers.pos.shape[1]
    sq = math.sqrt(dt)
    constant = noise_table.shape[0] == 1
    x, s, rf, s1, s2 = _load(walkers, w)
    c = walkers.count[w]
    a, a2, g, xi, xp, dev = _scratch(d)
    B = noise_table[0].copy()
    i0 = np.empty(d, np.int64)
    i1 = np.empty(d, np.int64)
    fr = np.empty(d)
    n_rec, r_rec = _record_cursor(n_start, n_end, burn_in, record_every)
    if _records_start(n_start, burn_in, record_every, records.shape[1]):
        _put(records, w, 0, x)
    stopped = 0
    for n in range(n_start + 1, n_end + 1):
        locate(x, lower, inv_spacing, shape, bc, i0, i1, fr, d)
        interpolate(drift_table, i0, i1, fr, strides, d, a)
        if not constant:
            interpolate(noise_table, i0, i1, fr, strides, d, B)
        _noise(s, B, xi, sq, d, g)
        if method == EULER_MARUYAMA:
            _euler_all(x, a, g, dt, d)
        else:
            _predict_all(x, a, g, dt, xp, d)
            if _finite(xp, d):
                _fold(xp, lower, upper, bc, d)
                locate(xp, lower, inv_spacing, shape, bc, i0, i1, fr, d)
                interpolate(drift_table, i0, i1, fr, strides, d, a2)
                _heun_all(x, a, a2, g, dt, d)
            else:
                for i in range(d):
                    x[i] = xp[i]
        code, wall = _walls(x, lower, upper, bc, d)
        if code != RUNNING:
            _stop(walkers, w, code, n, wall)
            stopped = 1
            break
        if n > burn_in:
            c = add_sample(x, c, rf, s1, s2, dev, d)
        n_rec, r_rec = _record(records, w, n, n_rec, r_rec, record_every, x)
    _store(walkers, w, x, s, c, rf, s1, s2)
    return stopped


@jit_parallel
def langevin_grid(walkers, span, box, tables):
    """Advance walkers with fields interpolated from grid tables; returns the number stopped.

    ``tables.drift_table`` (N, d) and ``tables.noise_table`` (N, d*d), or (1, d*d) for a
    constant ``B``, hold the fields cell by cell (C order), so one cell's values share a cache
    line; ``strides`` are the C-order strides of the cells.
    ``span.method`` 0 (``EULER_MARUYAMA``): Euler--Maruyama (Itô), ``x += A(x) dt + B(x) √dt ξ``.
    ``span.method`` 1 (``HEUN``): stochastic Heun for additive noise (``noise_table``
    constant), ``x̃ = x + A(x) dt + B √dt ξ``, ``x += ½ (A(x) + A(x̃)) dt + B √dt ξ`` (weak
    order 2).  Every walker runs its own loop over the steps (:func:`_walk_2d` for two axes,
    else :func:`_walk`), so walkers are independent of each other and of the threads.
    """
    W, d = walkers.pos.shape
    status = walkers.status
    n_stopped = 0
    if d == 2:  # pairs of walkers in lockstep (see _walk_2d_pair), a lone one by itself
        for p in prange((W + 1) // 2):
            w = np.int64(2 * p)
            v = w + 1
            if v < W and status[w] == RUNNING and status[v] == RUNNING:
                n_stopped += _walk_2d_pair(w, v, walkers, span, box, tables)
            else:
                for u in range(w, min(v + 1, W)):
                    if status[u] == RUNNING:
                        n_stopped += _walk_2d(u, walkers, span, box, tables)
    else:
        for w in prange(W):
            if status[w] == RUNNING:
                n_stopped += _walk(np.int64(w), walkers, span, box, tables)
    return n_stopped


@jit_inline
def _walk_callable(drift, diffusion, w, walkers, span, box, noise_const, diffusion_callable):
    """Walker ``w`` with the user's fields (any ``d``) over ``span``; 1 if it stopped.

    (Inlined into the ``prange`` body of :func:`langevin_callable`: it writes to ``walkers``
    only through plain ``jit`` functions, see ``Walkers``.)
    """
    n_start, n_end, burn_in, record_every, dt, method = span
    lower, upper, bc = box
    records = walkers.records
    d = walkers.pos.shape[1]
    sq = math.sqrt(dt)
    x, s, rf, s1, s2 = _load(walkers, w)
    c = walkers.count[w]
    a, a2, g, xi, xp, dev = _scratch(d)
    Dm = np.empty((d, d))
    B = noise_const.copy()
    n_rec, r_rec = _record_cursor(n_start, n_end, burn_in, record_every)
    if _records_start(n_start, burn_in, record_every, records.shape[1]):
        _put(records, w, 0, x)
    stopped = 0
    for n in range(n_start + 1, n_end + 1):
        drift(x, a)
        if diffusion_callable:
            diffusion(x, Dm)
            if factor_diffusion(Dm, B, d) != RUNNING:
                _stop(walkers, w, NOT_PSD, n, -1)
                stopped = 1
                break
        _noise(s, B, xi, sq, d, g)
        if method == EULER_MARUYAMA:
            _euler_all(x, a, g, dt, d)
        else:
            _predict_all(x, a, g, dt, xp, d)
            _fold(xp, lower, upper, bc, d)
            drift(xp, a2)
            _heun_all(x, a, a2, g, dt, d)
        code, wall = _walls(x, lower, upper, bc, d)
        if code != RUNNING:
            _stop(walkers, w, code, n, wall)
            stopped = 1
            break
        if n > burn_in:
            c = add_sample(x, c, rf, s1, s2, dev, d)
        n_rec, r_rec = _record(records, w, n, n_rec, r_rec, record_every, x)
    _store(walkers, w, x, s, c, rf, s1, s2)
    return stopped


@jit_inline
def _callable_step_2d(drift, diffusion, diffusion_callable, walker, xa, aa, Dm, Bm, noise, geometry,
                      stepping):
    """One step of :func:`_walk_callable` for ``d = 2`` on scalars: the ``walker = (x, y, s0, s1,
    s2, s3)`` after it and ``RUNNING``, or the unchanged walker and ``NOT_PSD``.

    ``xa``, ``aa`` (2,), ``Dm`` (2, 2) and ``Bm`` (4) carry values to and from the user's
    functions; ``noise = (b00, b01, b10, b11)`` is the constant noise matrix (used unless
    ``diffusion_callable``); ``geometry`` and ``stepping`` as in :func:`_step_2d`.
    """
    x, y, s0, s1, s2, s3 = walker
    b00, b01, b10, b11 = noise
    dt, sq, method = stepping
    lx, ly, hx, hy, bx, by = geometry
    xa[0] = x
    xa[1] = y
    drift(xa, aa)
    a0 = aa[0]
    a1 = aa[1]
    if diffusion_callable:
        diffusion(xa, Dm)
        if factor_diffusion(Dm, Bm, 2) != RUNNING:
            return x, y, s0, s1, s2, s3, NOT_PSD
        b00, b01, b10, b11 = Bm[0], Bm[1], Bm[2], Bm[3]
    z0, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
    z1, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
    g0 = sq * (0.0 + b00 * z0 + b01 * z1)
    g1 = sq * (0.0 + b10 * z0 + b11 * z1)
    if method == EULER_MARUYAMA:
        return _euler(x, a0, g0, dt), _euler(y, a1, g1, dt), s0, s1, s2, s3, RUNNING
    xa[0] = _fold1(_predict(x, a0, g0, dt), lx, hx, bx)
    xa[1] = _fold1(_predict(y, a1, g1, dt), ly, hy, by)
    drift(xa, aa)
    return _heun(x, a0, aa[0], g0, dt), _heun(y, a1, aa[1], g1, dt), s0, s1, s2, s3, RUNNING


@jit_inline
def _callable_pair_2d(drift, diffusion, w, v, walkers, span, box, noise_const, diffusion_callable):
    """Walkers ``w`` and ``v`` (``v`` may be ``-1``: none) in lockstep over ``span`` with the
    user's fields, ``d = 2``; the number that stopped.

    As :func:`_walk_2d_pair`: each walker's operations are those of :func:`_walk_callable`
    (a test pins them bit for bit); a stopped walker is left alone while its partner runs on.
    Inlined like :func:`_walk_callable`, it writes to ``walkers`` only through plain ``jit``
    functions (see ``Walkers``).
    """
    records = walkers.records
    n_start, n_end, burn_in, record_every, dt, method = span
    stepping = (dt, math.sqrt(dt), method)
    geometry = (box.lower[0], box.lower[1], box.upper[0], box.upper[1], box.bc[0], box.bc[1])
    noise = (noise_const[0], noise_const[1], noise_const[2], noise_const[3])
    xa, aa, Bm = np.empty(2), np.empty(2), np.empty(4)
    XA, AA, BM = np.empty(2), np.empty(2), np.empty(4)
    Dm = np.empty((2, 2))
    code_w = RUNNING
    code_v = RUNNING if v >= 0 else ABSORBED  # no partner: a lane that never runs
    u = v if v >= 0 else w
    x, y, s0, s1, s2, s3, c, rx, ry, t0, t1, q00, q01, q11 = _load_2d(walkers, w)
    X, Y, S0, S1, S2, S3, C, RX, RY, T0, T1, Q00, Q01, Q11 = _load_2d(walkers, u)
    n_rec, r_rec = _record_cursor(n_start, n_end, burn_in, record_every)
    if _records_start(n_start, burn_in, record_every, records.shape[1]):
        _put_2d(records, w, 0, x, y)
        if v >= 0:
            _put_2d(records, v, 0, X, Y)
    n_stopped = 0
    # The two lanes below are written out, not one helper called twice: a bit-identical shared
    # lane (a jit_inline step + walls + sample/record, retried with ``walkers`` travelling whole)
    # ran the paired loop 10-11 % slower (bench_langevin.py --before, 10^5 walkers x 500 steps,
    # best of 3 interleaved, load 1.4-1.8 on 2 cores: 1.46e8 against 1.62e8 walker-steps/s).
    for n in range(n_start + 1, n_end + 1):
        if code_w == RUNNING:
            wall = -1
            x, y, s0, s1, s2, s3, code_w = _callable_step_2d(
                drift, diffusion, diffusion_callable, (x, y, s0, s1, s2, s3), xa, aa, Dm, Bm,
                noise, geometry, stepping)
            if code_w == RUNNING and _escaped_2d(x, y, geometry):
                x, y, code_w, wall = _walls_2d(x, y, geometry)
            if code_w != RUNNING:
                _stop(walkers, w, code_w, n, wall)
                n_stopped += 1
            else:
                c, rx, ry, t0, t1, q00, q01, q11 = _post_step_2d(
                    records, w, x, y, (c, rx, ry, t0, t1, q00, q01, q11), n, burn_in, n_rec, r_rec)
        if code_v == RUNNING:
            wall = -1
            X, Y, S0, S1, S2, S3, code_v = _callable_step_2d(
                drift, diffusion, diffusion_callable, (X, Y, S0, S1, S2, S3), XA, AA, Dm, BM,
                noise, geometry, stepping)
            if code_v == RUNNING and _escaped_2d(X, Y, geometry):
                X, Y, code_v, wall = _walls_2d(X, Y, geometry)
            if code_v != RUNNING:
                _stop(walkers, v, code_v, n, wall)
                n_stopped += 1
            else:
                C, RX, RY, T0, T1, Q00, Q01, Q11 = _post_step_2d(
                    records, v, X, Y, (C, RX, RY, T0, T1, Q00, Q01, Q11), n, burn_in, n_rec, r_rec)
        if n == n_rec:
            r_rec += 1
            n_rec += record_every
        if code_w != RUNNING and code_v != RUNNING:
            break
    _store_2d(walkers, w, (x, y, s0, s1, s2, s3),
              (c, rx, ry, t0, t1, q00, q01, q11))
    if v >= 0:
        _store_2d(walkers, v, (X, Y, S0, S1, S2, S3),
                  (C, RX, RY, T0, T1, Q00, Q01, Q11))
    return n_stopped


@jit_parallel_uncached
def langevin_callable(drift, diffusion, walkers, span, box, noise_const, diffusion_callable):
    """Advance walkers with user fields ``drift(x, out)`` and ``diffusion(x, out)``.

    ``drift`` fills ``out`` (d,) with ``A(x)``; ``diffusion`` fills ``out`` (d, d) with ``D(x)``
    and is called only when ``diffusion_callable``; otherwise ``noise_const`` (d*d) is ``B``.
    Methods as in :func:`langevin_grid`; returns the number of walkers that stopped.  Two
    dimensions step pairs of walkers in lockstep (:func:`_callable_pair_2d`), others one
    walker at a time (:func:`_walk_callable`).
    (The step loops are inlined into the ``prange`` body: a version calling a per-walker
    function with the user's fields as arguments compiled in half the time but ran about 8
    times slower.)
    """
    W, d = walkers.pos.shape
    status = walkers.status
    n_stopped = 0
    for p in prange((W + 1) // 2):
        w = np.int64(2 * p)
        v = w + 1
        if d == 2:
            if v >= W or status[v] != RUNNING:
                v = np.int64(-1)
            if status[w] != RUNNING:
                w, v = v, np.int64(-1)
            if w >= 0:
                n_stopped += _callable_pair_2d(drift, diffusion, w, v, walkers, span, box, noise_const,
                                               diffusion_callable)
        else:
            for u in range(w, min(v + 1, W)):
                if status[u] == RUNNING:
                    n_stopped += _walk_callable(drift, diffusion, u, walkers, span, box, noise_const,
                                                diffusion_callable)
    return n_stopped


@jit
def no_diffusion(x, out):
    """Placeholder ``diffusion`` for :func:`langevin_callable` when the noise is constant."""
    return None
