"""Multigrid-preconditioned GMRES for the stationary density on a grid hierarchy.

Each level is the same Fokker--Planck problem rediscretised on a grid with half
as many cells per axis, so every coarse operator is again a conservative
M-matrix generator (Galerkin products of advection-dominated operators are not,
and cycles built on them diverge).  One cycle on level ``k``:

1. pre-smoothing from zero on ``A_k e = r``: ``SMOOTHING_SWEEPS`` forward Gauss--Seidel sweeps (by dimension)
   or, on a hierarchy switched to the robust smoother, ``ILU_SWEEPS`` ILU(0) corrections;
2. the coarse-grid correction: the residual is restricted by full weighting
   (``R = Pᵀ / 2^d``), the coarse equation is solved (directly on the coarsest
   level; by ``W_CYCLES`` recursive cycles elsewhere) and prolongated with
   cell-centred multilinear interpolation ``P``;
3. as many post-smoothing steps (backward Gauss--Seidel sweeps, or ILU(0) corrections).

Point Gauss--Seidel smooths well when the diffusion is roughly isotropic (OU: 6 GMRES iterations
at 512²), but not for the strongly anisotropic, advection-dominated operators that SGD noise
gives (``TanhUnit`` SGLD at 512²: no convergence in 120 iterations).  ILU(0) (the incomplete LU
factors on the operator's own pattern, which on the bounded 7-point stencils couples each cell to
its diagonal neighbours as well) is a robust smoother for those, at about twice the cost of a
sweep, but slower than Gauss--Seidel where that converges (NESS OU at 512²: 20 iterations against
6).  So a hierarchy whose finest stencil reaches more than ``GS_MAX_REACH`` cells along an axis
(Selling's long offsets, which only strong anisotropy produces) starts with ILU(0); any other runs
GMRES's whole budget with Gauss--Seidel first, and only if that has not converged is every level of
the hierarchy switched to ILU(0) (factored once, kept on the level and so reused by the finer
levels that share it), and GMRES continues from where it stopped before the caller falls back to
sparse LU.  A level whose coarser levels were already switched starts with ILU(0).

The cycle is a fixed linear map, used as a preconditioner in GMRES.  The systems
are singular (``1ᵀ A = 0``) but every right-hand side met is consistent
(``1ᵀ r = 0`` is preserved by ``A``, ``R`` and ``P``), and the coarsest level is
solved through the pinned LU factorisation, which solves any consistent system.
Levels are solved from the coarsest up (nested iteration): each level starts
from the fourth-order interpolation of the level below (multilinear in the far
tails, where the coarse values are rounding noise), so a few GMRES iterations
reach round-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from .._kernels.smooth import (gauss_seidel_backward, gauss_seidel_forward, ilu0_factor, ilu0_smooth,
                               orthogonalise, prolong_axis, restrict_axis, stencil_reach)
from .grid import Grid

W_CYCLES = 2  # recursive coarse solves per cycle on intermediate levels (W-cycle)
RESIDUAL_RTOL = 1e-12  # stop when |A p|_2 <= RESIDUAL_RTOL * max|diag A| * max|p|; this bounds the
#                        max-norm residual too.  (x0 is already close, so a tolerance relative to
#                        the initial residual could sit below round-off.)
# The stopping residuals below are for right-preconditioned GMRES, which stops on the true residual;
# SciPy's left-preconditioned one went about a digit further, which the componentwise test needs
# (SGLD TanhUnit 256², ILU(0): 7e-9 at 1e-14, 8e-10 with SciPy), so both are a digit below that.
TRUE_RESIDUAL_FACTOR = 0.1
GMRES_RESTART = 30
# Gauss--Seidel sweeps each side, by dimension.  GMRES iterations / solve seconds of the finest level
# for 1 / 2 sweeps (GMRES started from the guess of steady_state._initial_guess): NESS OU 1024²
# 5 / 4 iterations at equal cost (1.03 / 1.06 s CPU, load 7), 3-D NESS OU 64³ 16 / 12 (1.47 / 1.06 s)
SMOOTHING_SWEEPS = {2: 1, 3: 2}
GMRES_MAX_RESTARTS = 4
GS_MAX_ITERATIONS = GMRES_RESTART * GMRES_MAX_RESTARTS  # Gauss--Seidel budget before the switch to ILU(0)
ILU_RESIDUAL_RTOL = 1e-14  # the same test, tighter, once switched: anisotropic problems put cells at 1e-6 of the
#                            peak whose own balance needs it (componentwise 4e-8 at 1e-12, 2e-10 at 1e-14; the
#                            acceptance test asks 1e-8); an unreachable tolerance ends as "not converged" (LU)
# A finest level whose stencil reaches further than this many cells along an axis (Selling's offsets
# of strongly anisotropic diffusion, a periodic wrap) starts with ILU(0): point Gauss--Seidel is a
# poor smoother for those and would spend its whole budget first (TanhUnit SGLD 512²: 120 wasted
# iterations on each of the two finest levels).
GS_MAX_REACH = 1
# A fast solution that fails the componentwise acceptance test (steady_state.ACCEPT_TOL) is polished to
# this fraction of the ILU stopping residual before the direct solve is tried: TanhUnit SGWORLD 256²
# gives componentwise 2.9e-8 at the ILU tolerance (rejected), 6.4e-9 at a tenth and 3.6e-9 at a
# thirtieth of it (accepted, one or two iterations more), so a hundredth leaves a margin.
POLISH_FACTOR = 0.01
ILU_SWEEPS = 2  # ILU(0) corrections each side; TanhUnit SGLD 128²/256²/512² GMRES iterations for 1 / 2: 22/30/91, 15/20/30 (W-cycle)


def _prolong_axis(m: int, periodic: bool, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centred linear interpolation from ``m`` cells to ``n`` (default ``2 m``) along one
    axis: coarse indices and weights (each ``(n, 2)``; rows sum to one, a wall cell's second
    weight is 0)."""
    if n is not None and n != 2 * m:  # an odd fine axis: the cells are not nested
        t = (np.arange(n) + 0.5) * m / n - 0.5  # fine centres in coarse index units
        left = np.floor(t).astype(np.int64)
        frac = t - left
        if periodic:
            cols = np.stack((np.mod(left, m), np.mod(left + 1, m)), axis=1)
            return cols, np.stack((1.0 - frac, frac), axis=1)
        inside = (left >= 0) & (left + 1 < m)  # else beyond the outermost centre: constant
        near = np.clip(np.where(frac < 0.5, left, left + 1), 0, m - 1)
        cols = np.stack((np.where(inside, left, near), np.where(inside, left + 1, near)), axis=1)
        return cols, np.stack((np.where(inside, 1.0 - frac, 1.0), np.where(inside, frac, 0.0)), axis=1)
    i = np.arange(2 * m)
    c = i // 2
    other = np.where(i % 2 == 0, c - 1, c + 1)
    if periodic:
        other = np.mod(other, m)
        weights = np.stack((np.full(2 * m, 0.75), np.full(2 * m, 0.25)), axis=1)
    else:
        inside = (other >= 0) & (other < m)
        other = np.where(inside, other, c)
        weights = np.stack((np.where(inside, 0.75, 1.0), np.where(inside, 0.25, 0.0)), axis=1)
    return np.stack((c, other), axis=1), weights


class AxisTransfer:
    """A multigrid transfer between a coarse and a fine grid on the same box, applied one axis at
    a time as ``T @ x`` (``x`` flat, C order): the prolongation ``P`` (coarse to fine) is the
    Kronecker product of the 1-D interpolations of :func:`_prolong_axis`, the full weighting
    ``R`` (fine to coarse) its transpose times ``coarse size / fine size``, with each axis's
    factor ``m / n`` folded into its weights.  Neither is stored as a matrix: at 128³ the sparse
    ``P`` and ``R`` held 300 MB and took longer to build than the solve spent applying them."""

    def __init__(self, coarse_shape: tuple[int, ...], fine_shape: tuple[int, ...],
                 axes: list[tuple[np.ndarray, np.ndarray]], restrict: bool):
        self.coarse_shape, self.fine_shape, self.restrict = coarse_shape, fine_shape, restrict
        if restrict:
            axes = [(cols, weights * (m / n)) for (cols, weights), m, n in zip(axes, coarse_shape, fine_shape)]
        self.axes = [(np.ascontiguousarray(c, dtype=np.int64), np.ascontiguousarray(w, dtype=float))
                     for c, w in axes]
        size_c, size_f = int(np.prod(coarse_shape)), int(np.prod(fine_shape))
        self.shape = (size_c, size_f) if restrict else (size_f, size_c)
        # the passes, in order: (axis, the (pre, in, post) and (pre, out, post) shapes it maps between)
        now = list(fine_shape if restrict else coarse_shape)
        self._passes = []
        for d in (range(len(now) - 1, -1, -1) if restrict else range(len(now))):
            pre, post = int(np.prod(now[:d])), int(np.prod(now[d + 1:]))
            before = (pre, now[d], post)
            now[d] = coarse_shape[d] if restrict else fine_shape[d]
            self._passes.append((d, before, (pre, now[d], post)))

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        """``T x`` for a flat ``x`` of ``shape[1]`` entries (a new array)."""
        x = np.ascontiguousarray(x, dtype=float)
        if x.shape != (self.shape[1],):
            raise ValueError(f"x must be a flat array of {self.shape[1]} entries; got shape {x.shape}")
        kernel = restrict_axis if self.restrict else prolong_axis
        for d, before, after in self._passes:
            out = np.empty(after)
            cols, weights = self.axes[d]
            kernel(x.reshape(before), cols, weights, out)
            x = out.reshape(-1)
        return x


@lru_cache(maxsize=8)  # a few hierarchies (per-axis arrays only: small)
def _transfers(coarse: Grid, fine_shape: tuple[int, ...] | None = None) -> tuple[AxisTransfer, AxisTransfer]:
    """Prolongation ``P`` from ``coarse`` to the grid of ``fine_shape`` on the same box (default:
    twice the cells per axis) and the full weighting ``R = Pᵀ · coarse.size / fine size``
    (``Pᵀ / 2^d`` for twice the cells), as :class:`AxisTransfer` objects, built once per pair of
    grids (they depend on the grids only, so a sweep of solves on one grid shares them).
    ``R`` keeps every right-hand side consistent (``1ᵀ r = 0`` gives ``1ᵀ R r = 0``: the rows of
    ``P`` sum to one) for any ratio, up to rounding."""
    if fine_shape is None:
        fine_shape = tuple(2 * m for m in coarse.shape)
    axes = [_prolong_axis(m, per, n) for m, per, n in zip(coarse.shape, coarse.periodic, fine_shape)]
    shape = tuple(coarse.shape)
    return AxisTransfer(shape, tuple(fine_shape), axes, False), AxisTransfer(shape, tuple(fine_shape), axes, True)


def prolongation(coarse: Grid) -> AxisTransfer:
    """Multilinear cell-centred prolongation from ``coarse`` to the grid with twice the cells."""
    return _transfers(coarse)[0]


@dataclass
class Level:
    """One level of the hierarchy: its operator in CSR form and the transfer from the level below."""

    grid: Grid
    A: sp.csr_matrix
    inv_diag: np.ndarray
    P: AxisTransfer | None = None  # from the next coarser level to this one
    R: AxisTransfer | None = None
    ilu: tuple | None = None  # (ILU(0) factor values, diagonal positions, scratch) once switched
    _reach: int | None = None  # cells along an axis spanned by the widest coupling of A (see reach)
    diag_scale: float = 0.0  # max |diag A|, the scale of the stopping test

    @property
    def reach(self) -> int:
        """Cells along an axis spanned by the widest coupling of ``A`` (wraps the short way);
        given by :func:`make_level` when the jumps are known, else computed on first use, so
        directly solved levels do not load the kernel."""
        if self._reach is None:
            self._reach = int(stencil_reach(self.A.indptr, self.A.indices,
                                            np.asarray(self.grid.shape, dtype=np.int64),
                                            np.asarray(self.grid.periodic, dtype=np.bool_)))
        return self._reach

    def use_ilu(self) -> None:
        """Switch this level's smoother to ILU(0) (factored here, once)."""
        if self.ilu is None:
            A = self.A
            n = A.shape[0]
            rows = np.repeat(np.arange(n), np.diff(A.indptr))
            on_diag = A.indices == rows
            diag_pos = np.empty(n, dtype=np.int64)
            diag_pos[rows[on_diag]] = np.flatnonzero(on_diag)
            self.ilu = (ilu0_factor(A.indptr, A.indices, A.data, diag_pos), diag_pos, np.empty(n))

    def smooth(self, e: np.ndarray, r: np.ndarray, forward: bool) -> None:
        A = self.A
        if self.ilu is not None:
            lu, diag_pos, work = self.ilu
            for _ in range(ILU_SWEEPS):
                ilu0_smooth(A.indptr, A.indices, A.data, lu, diag_pos, e, r, work)
            return
        sweep = gauss_seidel_forward if forward else gauss_seidel_backward
        for _ in range(SMOOTHING_SWEEPS.get(self.grid.ndim, 1)):
            sweep(A.indptr, A.indices, A.data, self.inv_diag, e, r)


def offset_reach(grid: Grid, offsets: np.ndarray) -> int:
    """Cells along an axis spanned by the widest of the stencil ``offsets`` (one row per offset,
    grid units; on a periodic axis the short way round): what :attr:`Level.reach` measures on the
    matrix, from the assembly's distinct offsets instead of every stored entry (jumps mirrored at
    a wall are shorter than their offset, so this can only overstate the reach of a grid too
    small for the offset to fit anywhere)."""
    if len(offsets) == 0:
        return 0
    d = np.abs(np.asarray(offsets, dtype=np.int64))
    m = np.asarray(grid.shape, dtype=np.int64)
    wrapped = np.minimum(d % m, m - d % m)
    return int(np.where(np.asarray(grid.periodic), wrapped, d).max())


def make_level(grid: Grid, L: sp.spmatrix, coarse: Grid | None, reach: int | None = None) -> Level:
    """The level of ``grid`` with generator ``L`` (CSR without copying when it is one already),
    the transfers from ``coarse`` and, if known (:func:`offset_reach`), the stencil's ``reach``."""
    A = sp.csr_matrix(L)
    A.sum_duplicates()  # canonical: sorted column indices, each once (ILU(0) relies on it)
    P, R = _transfers(coarse, tuple(grid.shape)) if coarse is not None else (None, None)
    diag = A.diagonal()
    return Level(grid, A, 1.0 / diag, P, R, _reach=reach, diag_scale=float(np.abs(diag).max()))


class Cycle:
    """The multigrid cycle on ``levels[k:]`` (finest first) as a callable ``r -> e``."""

    def __init__(self, levels: list[Level], coarse_solve):
        self.levels = levels
        self.coarse_solve = coarse_solve  # consistent solve on levels[-1]

    def __call__(self, r: np.ndarray, k: int = 0) -> np.ndarray:
        levels = self.levels
        if k == len(levels) - 1:
            return self.coarse_solve(r)
        lv = levels[k]
        A = lv.A
        e = np.zeros_like(r)
        lv.smooth(e, r, True)
        rc = lv.R @ (r - A @ e)
        ec = self(rc, k + 1)
        if k + 1 < len(levels) - 1:
            for _ in range(W_CYCLES - 1):
                ec += self(rc - levels[k + 1].A @ ec, k + 1)
        e += lv.P @ ec
        lv.smooth(e, r, False)
        return e


def _norm2(x: np.ndarray) -> float:
    """``|x|₂`` by NumPy's own loops (no BLAS threads)."""
    return float(np.sqrt(np.einsum("i,i", x, x)))


def gmres(A, b: np.ndarray, M, atol: float, restart: int, max_restarts: int, tick) -> tuple[np.ndarray, bool]:
    """Right-preconditioned GMRES for ``A e = b`` from ``e = 0``: ``(e, converged)``.

    Stops when ``|b − A e|₂ <= atol`` (the true residual, recomputed after each cycle of
    ``restart`` iterations; inside a cycle the Givens estimate of the same norm decides).  The
    Krylov basis is orthogonalised by classical Gram--Schmidt with one reorthogonalisation, in
    single-threaded kernels (:func:`fpsolve._kernels.smooth.orthogonalise`: BLAS's threads cost
    twice the CPU time on a loaded machine).  ``M`` (the multigrid cycle, a fixed linear map)
    is applied once per iteration and once per cycle to form the correction; ``tick`` is called
    once per iteration.  (SciPy's ``gmres`` preconditions from the left, which stops on the
    preconditioned residual, and orthogonalises vector by vector in Python: at 512² its own
    overhead was half the solve.)
    """
    n = b.shape[0]
    e = np.zeros(n)
    r = np.ascontiguousarray(b, dtype=float)
    beta = _norm2(r)
    if not beta > atol:
        return e, bool(beta <= atol)
    V = np.empty((restart + 1, n))
    H = np.zeros((restart + 1, restart))
    for _ in range(max_restarts):
        V[0] = r / beta
        g = np.zeros(restart + 1)
        g[0] = beta
        cs, sn = np.zeros(restart), np.zeros(restart)
        k = 0
        for j in range(restart):
            w = np.ascontiguousarray(A @ M(V[j]), dtype=float)
            h = np.zeros(j + 1)
            hn = float(orthogonalise(V, j, w, h))
            H[: j + 1, j] = h
            H[j + 1, j] = hn
            for i in range(j):  # the earlier rotations, then a new one for row j + 1
                a, c = H[i, j], H[i + 1, j]
                H[i, j], H[i + 1, j] = cs[i] * a + sn[i] * c, -sn[i] * a + cs[i] * c
            rho = float(np.hypot(H[j, j], hn))
            cs[j], sn[j] = (H[j, j] / rho, hn / rho) if rho > 0 else (1.0, 0.0)
            H[j, j], H[j + 1, j] = rho, 0.0
            g[j + 1] = -sn[j] * g[j]
            g[j] *= cs[j]
            k = j + 1
            tick(None)
            if abs(g[j + 1]) <= atol or not hn > 0:
                break
            V[j + 1] = w / hn
        y = np.linalg.solve(np.triu(H[:k, :k]), g[:k]) if k else np.zeros(0)
        update = np.einsum("i,ij->j", y, V[:k])  # NumPy's own loops, single-threaded like the rest
        e += M(update)
        r = b - A @ e
        beta = _norm2(r)
        if not np.isfinite(beta):
            return e, False
        if beta <= atol:
            return e, True
    return e, False


def _wide(level: Level) -> bool:
    """Whether the level's stencil reaches beyond ``GS_MAX_REACH`` cells along an axis."""
    return level.reach > GS_MAX_REACH


def _preconditioner(levels: list[Level], coarse_solve):
    """The cycle as GMRES's preconditioner, with an iteration counter (``count[0]``)."""
    cycle = Cycle(levels, coarse_solve)
    count = [0]

    def M(r):
        return cycle(np.ascontiguousarray(r, dtype=float))

    def tick(_):
        count[0] += 1

    return M, tick, count


def solve_level(levels: list[Level], coarse_solve, x0: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """GMRES on ``levels[0].A p = 0`` from ``x0`` preconditioned by the cycle: first with
    Gauss--Seidel smoothing (at most ``GS_MAX_ITERATIONS``), then, if that has not converged, with
    ILU(0) smoothing on every level (at most ``GMRES_RESTART * GMRES_MAX_RESTARTS`` more).

    Returns ``(p, iterations, converged)``; ``p`` is not normalised.  ``levels[1:].ilu`` tells
    whether the robust smoother was needed.
    """
    A = levels[0].A
    M, tick, count = _preconditioner(levels, coarse_solve)
    scale = levels[0].diag_scale * float(np.abs(x0).max())
    atol = TRUE_RESIDUAL_FACTOR * RESIDUAL_RTOL * scale
    smoothed = levels[:-1]  # the coarsest level is solved, not smoothed
    x = x0
    if _wide(levels[0]):
        for lv in smoothed:
            lv.use_ilu()
    converged = False
    if not any(lv.ilu is not None for lv in smoothed):
        e, converged = gmres(A, -(A @ x0), M, atol, GMRES_RESTART,
                             max(1, GS_MAX_ITERATIONS // GMRES_RESTART), tick)
        x = x0 + e
    if not converged and np.all(np.isfinite(x)):
        for lv in smoothed:
            lv.use_ilu()
        e, converged = gmres(A, -(A @ x), M, TRUE_RESIDUAL_FACTOR * ILU_RESIDUAL_RTOL * scale, GMRES_RESTART,
                             GMRES_MAX_RESTARTS, tick)
        x = x + e
    return x, count[0], converged


def polish_level(levels: list[Level], coarse_solve, x: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """GMRES continued from ``x`` (what :func:`solve_level` returned) with ILU(0) smoothing, to
    ``POLISH_FACTOR`` of the ILU stopping residual, for at most one restart cycle.

    For a solution that passed the normwise test but not the componentwise one: a few more
    iterations are far cheaper than the direct solve it would otherwise fall back to.  Returns
    ``(p, iterations, converged)`` as :func:`solve_level` does.
    """
    A = levels[0].A
    for lv in levels[:-1]:
        lv.use_ilu()
    M, tick, count = _preconditioner(levels, coarse_solve)
    scale = levels[0].diag_scale * float(np.abs(x).max())
    e, converged = gmres(A, -(A @ x), M, POLISH_FACTOR * TRUE_RESIDUAL_FACTOR * ILU_RESIDUAL_RTOL * scale,
                         GMRES_RESTART, 1, tick)
    return x + e, count[0], converged
