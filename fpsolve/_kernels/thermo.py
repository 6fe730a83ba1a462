"""Kernels of trajectory entropy production (stochastic thermodynamics).

Every kernel reads recorded paths and fills per-window outputs; nothing of the size of the
trajectory is allocated (a walker's scratch is a few vectors of length ``d``).

Arrays (``W`` walkers, ``R`` records, ``d`` dimensions, ``K`` windows, ``N`` grid cells)
------------------------------------------------------------------------------------------
``records``     (W, R, d)  recorded positions (``nan`` rows after a chain stopped)
``window``      int        recorded intervals per window; window ``k`` spans records
                           ``k * window … (k + 1) * window``
``out_*``       (W, K)     per-window sums (``nan`` when a window meets a non-finite record)

Grid fields (:func:`grid_windows`) are interpolated with the Langevin engine's own multilinear
stencil (``locate``/``interpolate`` of :mod:`fpsolve._kernels.langevin`, imported, not copied),
so a field is seen by this kernel exactly as the simulator saw it:

``table``       (N, m)     cell-major field values; columns ``0 … d-1`` a force ``f`` integrated as
                           ``Σ f(x_mid) · Δx``, column ``d`` (when ``m > d``) ``ln p`` evaluated at
                           the window ends
``lower, upper, inv_spacing, shape, bc, strides`` (d,)  the grid, walls coded as in the engine

Periodic axes: a displacement is taken as the shortest image (``|Δx| < L/2``) and the
midpoint is wrapped into the box.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import prange

from ._jit import jit, jit_inline, jit_parallel
from .codes import PERIODIC
from .langevin import bilinear, corners_2d, interpolate, locate

# A field table on a grid, grouped: ``table`` (n_cells, m) cell-major, the grid's ``lower`` and
# ``upper`` corners, ``inv_spacing`` (d,), ``shape`` (d,), boundary codes ``bc`` (d,) and the
# C-order cell ``strides`` (d,).
GridTable = namedtuple("GridTable", "table lower upper inv_spacing shape bc strides")


@jit_inline
def _wrap_step(a, b, lo, hi, periodic, theta):
    """Displacement ``b − a`` (shortest image on a periodic axis) and the point ``a + θ Δ``."""
    step = b - a
    if periodic:
        length = hi - lo
        step -= length * math.floor(step / length + 0.5)
        xm = a + theta * step
        if xm >= hi:
            xm -= length
        elif xm < lo:
            xm += length
        return step, xm
    return step, a + theta * step


@jit
def _walker_2d(w, records, window, theta, grid, out_force, out_log_p):
    """:func:`grid_windows` for one walker of a 2-D grid, every quantity a scalar (the engine's
    ``corners_2d``/``bilinear`` stencil); equal to the general path up to summation order."""
    table, lower, upper, inv_spacing, shape, bc = (grid.table, grid.lower, grid.upper, grid.inv_spacing,
                                                   grid.shape, grid.bc)
    K = out_force.shape[1]
    m = table.shape[1]
    has_log_p = m > 2
    T = table.reshape(table.size)
    lx, ly = lower[0], lower[1]
    hx, hy = upper[0], upper[1]
    hix, hiy = inv_spacing[0], inv_spacing[1]
    nx, ny = shape[0], shape[1]
    px, py = bc[0] == PERIODIC, bc[1] == PERIODIC
    lp_start = 0.0
    if has_log_p:
        c00, c01, c10, c11, w00, w01, w10, w11 = corners_2d(records[w, 0, 0], records[w, 0, 1], lx, ly,
                                                             hix, hiy, nx, ny, px, py)
        lp_start = bilinear(T, m, 2, c00, c01, c10, c11, w00, w01, w10, w11)
    x0 = records[w, 0, 0]
    y0 = records[w, 0, 1]
    for k in range(K):
        total = 0.0
        for r in range(k * window, (k + 1) * window):
            x1 = records[w, r + 1, 0]
            y1 = records[w, r + 1, 1]
            if not (math.isfinite(x1) and math.isfinite(y1) and math.isfinite(x0) and math.isfinite(y0)):
                for kk in range(k, K):
                    out_force[w, kk] = np.nan
                    if has_log_p:
                        out_log_p[w, kk] = np.nan
                return
            dx, xm = _wrap_step(x0, x1, lx, hx, px, theta)
            dy, ym = _wrap_step(y0, y1, ly, hy, py, theta)
            c00, c01, c10, c11, w00, w01, w10, w11 = corners_2d(xm, ym, lx, ly, hix, hiy, nx, ny, px, py)
            total += (bilinear(T, m, 0, c00, c01, c10, c11, w00, w01, w10, w11) * dx
                      + bilinear(T, m, 1, c00, c01, c10, c11, w00, w01, w10, w11) * dy)
            x0 = x1
            y0 = y1
        out_force[w, k] = total
        if has_log_p:
            c00, c01, c10, c11, w00, w01, w10, w11 = corners_2d(x0, y0, lx, ly, hix, hiy, nx, ny, px, py)
            lp = bilinear(T, m, 2, c00, c01, c10, c11, w00, w01, w10, w11)
            out_log_p[w, k] = lp_start - lp
            lp_start = lp


@jit_parallel
def grid_windows(records, window, midpoint, grid, out_force, out_log_p, specialised):
    """Per window: ``Σ f(x*) · Δx`` (``x*`` the midpoint or the pre-point) and ``ln p(x_0) − ln p(x_end)``,
    with ``f`` and ``ln p`` interpolated from ``grid`` (a :data:`GridTable`).

    ``out_log_p`` is left untouched when ``table`` has no ``ln p`` column (``m == d``).
    ``specialised``: take :func:`_walker_2d` for 2-D grids (the default of the callers; the
    general loop is kept for testing it).
    """
    table, lower, upper, inv_spacing, shape, bc, strides = grid
    W, R, d = records.shape
    K = out_force.shape[1]
    m = table.shape[1]
    has_log_p = m > d
    theta = 0.5 if midpoint else 0.0
    for w in prange(W):
        if specialised and d == 2:
            _walker_2d(w, records, window, theta, grid, out_force, out_log_p)
            continue
        i0 = np.empty(d, dtype=np.int64)
        i1 = np.empty(d, dtype=np.int64)
        frac = np.empty(d)
        val = np.empty(m)
        x = np.empty(d)
        dx = np.empty(d)
        lp_start = 0.0
        if has_log_p:
            locate(records[w, 0], lower, inv_spacing, shape, bc, i0, i1, frac, d)
            interpolate(table, i0, i1, frac, strides, d, val)
            lp_start = val[d]
        bad = False
        for k in range(K):
            total = 0.0
            for r in range(k * window, (k + 1) * window):
                for j in range(d):
                    a = records[w, r, j]
                    b = records[w, r + 1, j]
                    if not (math.isfinite(a) and math.isfinite(b)):
                        bad = True
                    dx[j], x[j] = _wrap_step(a, b, lower[j], upper[j], bc[j] == PERIODIC, theta)
                if bad:
                    break
                locate(x, lower, inv_spacing, shape, bc, i0, i1, frac, d)
                interpolate(table, i0, i1, frac, strides, d, val)
                for j in range(d):
                    total += val[j] * dx[j]
            if bad:
                for kk in range(k, K):
                    out_force[w, kk] = np.nan
                    if has_log_p:
                        out_log_p[w, kk] = np.nan
                break
            out_force[w, k] = total
            if has_log_p:
                locate(records[w, (k + 1) * window], lower, inv_spacing, shape, bc, i0, i1, frac, d)
                interpolate(table, i0, i1, frac, strides, d, val)
                out_log_p[w, k] = lp_start - val[d]
                lp_start = val[d]


@jit
def interpolate_points(points, grid, out):
    """Multilinear interpolation of ``grid.table`` (N, m) at ``points`` (n, d) into ``out`` (n, m)."""
    table, lower, inv_spacing, shape, bc, strides = (grid.table, grid.lower, grid.inv_spacing, grid.shape,
                                                     grid.bc, grid.strides)
    n, d = points.shape
    i0 = np.empty(d, dtype=np.int64)
    i1 = np.empty(d, dtype=np.int64)
    frac = np.empty(d)
    for q in range(n):
        finite = True
        for j in range(d):
            if not math.isfinite(points[q, j]):
                finite = False
        if not finite:
            for c in range(out.shape[1]):
                out[q, c] = np.nan
            continue
        locate(points[q], lower, inv_spacing, shape, bc, i0, i1, frac, d)
        interpolate(table, i0, i1, frac, strides, d, out[q])


@jit_inline
def _quadratic(P, a, d):
    """``aᵀ P a`` (the ``ln p`` of a Gaussian up to ``−½`` and a constant), summed row by row."""
    q = 0.0
    for i in range(d):
        s = 0.0
        for j in range(d):
            s += P[i, j] * a[j]
        q += a[i] * s
    return q


@jit_inline
def _centred(records, w, r, mean, out, d):
    """``out = δ`` of record ``r`` of walker ``w``: ``records[w, r] − mean`` (d,)."""
    for i in range(d):
        out[i] = records[w, r, i] - mean[i]


@jit_inline
def _rows(A, x, B, y, i, d):
    """Row ``i`` of two matrix-vector products: ``(A x)_i`` and ``(B y)_i``, summed over ``j`` in order."""
    s = 0.0
    t = 0.0
    for j in range(d):
        s += A[i, j] * x[j]
        t += B[i, j] * y[j]
    return s, t


@jit_inline
def _start(records, w, mean, P, a, d):
    """The per-walker start of the linear kernels: ``a = δ_0`` of walker ``w``; returns ``δ_0ᵀ P δ_0``."""
    _centred(records, w, 0, mean, a, d)
    return _quadratic(P, a, d)


# linear_windows and chain_windows share their per-walker frame (``_start``, ``_centred`` and
# ``_quadratic``: δ from the records, the ½ δᵀPδ system term per window) but keep their own loops: one shared inlined loop with the step chosen
# by a constant flag gave the same bits but ran 20-30 % slower for the linear fields (the parfor
# pass hoists the flag out of the prange body as a run-time value), 2.5-3.5 times slower as a
# real call per walker (d = 2, 3; 2·10⁴ walkers × 10³ records, best of 7).
@jit_parallel
def linear_windows(records, window, midpoint, mean, G, F, P, out_total, out_medium, out_system):
    """Linear fields: per window ``−Σ (G x*)·Δx``, ``−Σ (F x*)·Δx`` and ``½ δ_endᵀ P δ_end − ½ δ_0ᵀ P δ_0``.

    ``δ = x − mean``; ``G = D⁻¹ Q C⁻¹`` (so ``D⁻¹ v = −G δ``), ``F = D⁻¹ H`` (so the force is
    ``−F δ``), ``P = C⁻¹``; all (d, d).
    """
    W, R, d = records.shape
    K = out_total.shape[1]
    theta = 0.5 if midpoint else 0.0
    for w in prange(W):
        a = np.empty(d)
        q0 = _start(records, w, mean, P, a, d)
        dx = np.empty(d)
        xm = np.empty(d)
        for k in range(K):
            tot = 0.0
            med = 0.0
            for r in range(k * window, (k + 1) * window):
                for i in range(d):
                    b = records[w, r + 1, i] - mean[i]
                    dx[i] = b - a[i]
                    xm[i] = a[i] + theta * dx[i]
                    a[i] = b
                for i in range(d):
                    g, f = _rows(G, xm, F, xm, i, d)
                    tot -= g * dx[i]
                    med -= f * dx[i]
            q1 = _quadratic(P, a, d)
            out_total[w, k] = tot
            out_medium[w, k] = med
            out_system[w, k] = 0.5 * (q1 - q0)
            q0 = q1


@jit_parallel
def chain_windows(records, window, mean, J, S, P, out_total, out_system):
    """Linear Gaussian chain ``δ' = J δ + ξ``, ``ξ ~ N(0, Σ)``: per window the exact path log ratio.

    ``out_total = ln p(δ_0) − ln p(δ_end) + Σ_n [ln T(δ_{n+1}|δ_n) − ln T(δ_n|δ_{n+1})]`` with
    ``ln T(b|a) = −½ (b − J a)ᵀ Σ⁻¹ (b − J a) + const``; ``S = Σ⁻¹``, ``P = C⁻¹``;
    ``out_system`` the ``ln p`` part alone.
    """
    W, R, d = records.shape
    K = out_total.shape[1]
    for w in prange(W):
        a = np.empty(d)
        b = np.empty(d)
        fwd = np.empty(d)
        bwd = np.empty(d)
        q0 = _start(records, w, mean, P, a, d)
        for k in range(K):
            ratio = 0.0
            for r in range(k * window, (k + 1) * window):
                _centred(records, w, r + 1, mean, b, d)
                for i in range(d):
                    ja, jb = _rows(J, a, J, b, i, d)
                    fwd[i] = b[i] - ja
                    bwd[i] = a[i] - jb
                for i in range(d):
                    sf, sb = _rows(S, fwd, S, bwd, i, d)
                    ratio += 0.5 * (bwd[i] * sb - fwd[i] * sf)
                for i in range(d):
                    a[i] = b[i]
            q1 = _quadratic(P, a, d)
            system = 0.5 * (q1 - q0)
            out_system[w, k] = system
            out_total[w, k] = system + ratio
            q0 = q1


@jit
def balance_sweeps(indptr, source, rate, out_rate, tail, P, max_sweeps, tol):
    """Symmetric Gauss--Seidel sweeps of ``P_c = Σ_a w_ac P_a / Σ_b w_cb`` over the ``tail`` cells.

    ``indptr`` (n + 1), ``source``/``rate``: the jumps into each cell ``c`` (CSR by target);
    ``out_rate`` (n) the total rate out of each cell.  Every term is positive, so each cell is
    accurate relative to itself.  Returns the number of sweeps (``max_sweeps + 1`` if the
    largest relative change never fell below ``tol``).
    """
    n = P.shape[0]
    for sweep in range(max_sweeps):
        change = 0.0
        for half in range(2):
            for k in range(n):
                c = k if half == 0 else n - 1 - k
                if not tail[c]:
                    continue
                inflow = 0.0
                for j in range(indptr[c], indptr[c + 1]):
                    inflow += rate[j] * P[source[j]]
                new = inflow / out_rate[c]
                if new > 0.0:
                    rel = abs(new - P[c]) / new
                    if rel > change:
                        change = rel
                P[c] = new
        if change <= tol:
            return sweep + 1
    return max_sweeps + 1
