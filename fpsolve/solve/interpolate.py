"""Fourth-order Lagrange resampling between cell-centred grids on the same box.

Used to move array fields to a coarser grid and to bring a coarse solution onto
the fine grid for Richardson extrapolation.  Each output point uses the four
nearest input points along each axis (wrapping on periodic axes, shifted inwards
at walls), so the resampling error is O(h⁴) for smooth data.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .grid import Grid

STENCIL = 4  # points per axis: cubic Lagrange, fourth order


@lru_cache(maxsize=64)
def lagrange_matrix(n_src: int, n_dst: int, periodic: bool):
    """Sparse ``(n_dst, n_src)`` matrix interpolating centres of ``n_src`` cells to ``n_dst`` cells.

    Coordinates are in units of the box length: cell ``k`` of ``n`` sits at ``(k + ½) / n``.
    """
    import scipy.sparse as sp  # deferred: building a problem from callables needs no SciPy

    t = (np.arange(n_dst) + 0.5) * n_src / n_dst - 0.5  # destination centres in source index units
    first = np.floor(t).astype(int) - (STENCIL // 2 - 1)
    if not periodic:
        first = np.clip(first, 0, n_src - STENCIL)
    cols = first[:, None] + np.arange(STENCIL)[None, :]
    nodes = cols.astype(float)  # in source index units, unwrapped
    weights = np.ones((n_dst, STENCIL))
    for j in range(STENCIL):
        for m in range(STENCIL):
            if m != j:
                weights[:, j] *= (t - nodes[:, m]) / (nodes[:, j] - nodes[:, m])
    if periodic:
        cols = np.mod(cols, n_src)
    rows = np.repeat(np.arange(n_dst), STENCIL)
    return sp.csr_matrix((weights.ravel(), (rows, cols.ravel())), shape=(n_dst, n_src))


def resample(values: np.ndarray, src: Grid, dst: Grid, lead: int = 0) -> np.ndarray:
    """Interpolate cell-centred ``values`` (``lead`` component axes first) from ``src`` to ``dst``."""
    out = np.asarray(values, dtype=float)
    for axis in range(src.ndim):
        if src.shape[axis] == dst.shape[axis]:
            continue
        if src.shape[axis] < STENCIL:
            raise ValueError(f"resampling needs at least {STENCIL} cells per axis; got {src.shape}")
        M = lagrange_matrix(src.shape[axis], dst.shape[axis], src.periodic[axis])
        moved = np.moveaxis(out, lead + axis, 0)
        flat = M @ moved.reshape(moved.shape[0], -1)
        out = np.moveaxis(flat.reshape(dst.shape[axis], *moved.shape[1:]), 0, lead + axis)
    return out


OVERSHOOT_CAP = 4.0  # a resolved peak on the finer grid exceeds the coarse maximum by O(h²) only
LIMITER = 0.5  # a Richardson correction is kept within ±LIMITER * p_h per cell
_TINY = np.finfo(float).tiny


def interpolate_density(p: np.ndarray, src: Grid, dst: Grid) -> np.ndarray:
    """Fourth-order interpolation of ``log p`` (positive result), capped at ``OVERSHOOT_CAP``
    times ``max p``: in far tails where ``p`` underflows, one-sided stencils can overshoot."""
    log_p = resample(np.log(np.maximum(p, _TINY)), src, dst)
    return np.exp(np.minimum(log_p, np.log(OVERSHOOT_CAP * max(float(p.max()), _TINY))))


def extrapolate_density(p_h: np.ndarray, interpolated: np.ndarray) -> tuple[np.ndarray, int]:
    """Richardson extrapolation ``p_h + (p_h − I p_2h) / 3`` of a second-order density, given
    ``I p_2h`` (``interpolated``: :func:`interpolate_density` of the half-resolution density onto
    the grid of ``p_h``).

    The correction is limited to ``±LIMITER · p_h`` cell by cell (it only acts in far tails
    that the grid does not resolve), so the result stays positive.  The mass of ``p_h`` is
    kept.  Returns ``(density, number of limited cells)``.
    """
    correction = (p_h - interpolated) / 3.0
    bound = LIMITER * p_h
    limited = int(np.count_nonzero(np.abs(correction) > bound))
    density = p_h + np.clip(correction, -bound, bound)
    total = density.sum()
    if total > 0:
        density *= p_h.sum() / total
    return density, limited
