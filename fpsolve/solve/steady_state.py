"""Stationary states of Fokker--Planck problems.

``stationary(problem)`` returns the density, the probability current and the
entropy production of the steady state (THEORY.md §1).

Method
------
1. The problem is discretised by the conservative exponentially fitted scheme of
   :mod:`fpsolve.solve.operator` (second order, M-matrix).
2. The discrete stationary density is its normalised null vector.  Large 2-D and
   3-D grids are solved by multigrid-preconditioned GMRES on a hierarchy of
   rediscretised problems, coarsest first (:mod:`fpsolve.solve.multigrid`);
   small, odd-sized and periodic 1-D grids by sparse LU with the scale fixed at
   the most probable cell of a half-resolution solution
   (:mod:`fpsolve.solve.linalg`).  One-dimensional problems with reflecting walls
   have zero current, and their discrete state is computed in closed form (a
   cumulative sum), in O(n).
3. ``order=4`` (the default where every axis has an even number of cells)
   removes the ``h²`` error term by Richardson extrapolation with that
   half-resolution solution, brought onto the fine grid by fourth-order
   interpolation (of ``log p`` for the density, so it stays positive):
   ``p = p_h + (p_h − I p_2h) / 3``, likewise for the velocity ``v = J / p``
   (smooth where ``p`` is not), and ``J = v p``.  A limiter keeps the
   correction within ±50 % of ``p_h`` cell by cell (it acts only in far tails,
   where the grid does not resolve the decay; ``info.limited`` counts the cells).
   The difference between the extrapolated and the second-order density,
   ``info.error_estimate``, estimates the total-variation error of the
   second-order solution.  When the discrete solution is in detailed balance and
   the fields are callables, it is already exact at the cell centres (to
   quadrature accuracy) and is returned as is.

The face fluxes (``edge_flux``) are those of the second-order conservative
solution, which are exactly divergence free on the grid.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from ..errors import BoundaryMassWarning, SolverError
from .grid import Grid
from .interpolate import extrapolate_density, interpolate_density, resample
from .linalg import SMALL_SYSTEM, PinnedLU, bordered_null_vector
from .multigrid import Level, make_level, solve_level
from .operator import Operator, _solve_small, assemble
from .problem import FokkerPlanck

RESIDUAL_TOL = 1e-8  # relative residual of the linear solve; a direct solve gives ~1e-14
NEGATIVE_RTOL = 1e-12  # negative values above -NEGATIVE_RTOL * max(p) are round-off, set to 0
BOUNDARY_MASS_TOL = 1e-6  # probability in the wall layer of cells above which the box truncates mass
DETAILED_BALANCE_RTOL = 1e-10  # net edge flow / one-way flow below this: detailed balance
MIN_COARSE_CELLS = 8  # per axis, for the half-resolution solve used in extrapolation
DIRECT_MAX_CELLS = 16384  # grids up to this size (and 1-D or odd grids) are solved by sparse LU
MIN_LEVEL_CELLS = 8  # per axis, on every multigrid level
CONVERGED_RESIDUAL = 1e-12  # multigrid result accepted below this relative residual, else LU
TINY = np.finfo(float).tiny


@dataclass(frozen=True)
class SolveInfo:
    """How a stationary state was computed."""

    method: str
    order: int | str
    n_cells: int
    pinned_cell: int | None
    residual: float
    error_estimate: float | None
    limited: int
    assembly_seconds: float
    solve_seconds: float
    total_seconds: float


@dataclass(frozen=True, eq=False)
class StationaryState:
    """The steady state of a Fokker--Planck problem.

    Attributes
    ----------
    grid, problem
        What was solved.
    density : ndarray, shape ``grid.shape``
        Cell values of the stationary density; ``density.sum() * grid.cell_volume == 1``.
    current : ndarray, shape ``(ndim, *grid.shape)``
        Probability current ``J = A p − ∇·(D p)`` at the cell centres (SDE time).
    edge_flux : dict
        Net probability flow per unit time from each cell ``a`` to ``a + offset`` for every
        stencil offset (for axis offsets: face flux times face area), from the second-order
        conservative solution: exactly divergence free.  Computed on first access.
    entropy_production : float
        ``σ = ∫ Jᵀ D⁻¹ J / p dx`` (SDE time), zero in equilibrium.
    residual : float
        Relative residual ``|L p|∞ / (max|diag L| max p)`` of the discrete solve.
    status : str
        ``"converged"``.
    info : SolveInfo
        Method, order, timings, error estimate.
    """

    grid: Grid
    problem: FokkerPlanck
    density: np.ndarray
    current: np.ndarray
    entropy_production: float
    residual: float
    status: str
    info: SolveInfo
    operator: Operator = field(repr=False)
    discrete_density: np.ndarray = field(repr=False)

    @cached_property
    def edge_flux(self) -> dict[tuple[int, ...], np.ndarray]:
        """Net flow per unit time from cell ``a`` to ``a + offset``, keyed by offset."""
        return self.operator.edge_flux(self.discrete_density)

    def _weights(self) -> np.ndarray:
        return self.density * self.grid.cell_volume

    def expectation(self, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray | float:
        """``E[f(x)]`` for a vectorised ``f`` taking ``(ndim, *shape)`` and returning ``(*shape)``
        or ``(k, *shape)``."""
        values = np.asarray(f(self.grid.mesh()), dtype=float)
        w = self._weights()
        out = np.tensordot(values, w, axes=w.ndim) if values.ndim > w.ndim else float(np.sum(values * w))
        return out

    def mean(self) -> np.ndarray:
        """Mean position, shape ``(ndim,)``."""
        w = self._weights()
        return np.array([np.sum(w * x) for x in self.grid.mesh()])

    def covariance(self) -> np.ndarray:
        """Covariance matrix, shape ``(ndim, ndim)``."""
        w = self._weights()
        d = (self.grid.mesh() - self.mean().reshape(-1, *([1] * self.grid.ndim))).reshape(self.grid.ndim, -1)
        return (d * w.ravel()) @ d.T

    def marginal(self, axis: int | tuple[int, ...]) -> np.ndarray:
        """Marginal density on ``axis`` (an int or a tuple of axes kept), integrating out the rest.

        The coordinates are ``grid.axes[axis]``.
        """
        keep = (axis,) if np.ndim(axis) == 0 else tuple(axis)
        for a in keep:
            if not 0 <= a < self.grid.ndim:
                raise ValueError(f"axis must be between 0 and {self.grid.ndim - 1}; got {a}")
        drop = tuple(a for a in range(self.grid.ndim) if a not in keep)
        dx = float(np.prod([self.grid.spacing[a] for a in drop])) if drop else 1.0
        return self.density.sum(axis=drop) * dx if drop else self.density.copy()

    @property
    def velocity(self) -> np.ndarray:
        """Mean local velocity ``v = J / p`` (zero where ``p`` underflows)."""
        return _velocity(self.current, self.density)

    def plot(self, **kwargs):
        """Density with current arrows (see :func:`fpsolve.plot.density`)."""
        from ..plot import density

        return density(self, **kwargs)


# -- discrete solve -------------------------------------------------------------------


@dataclass
class _Level:
    problem: FokkerPlanck
    operator: Operator
    p: np.ndarray  # flat, sum * cell_volume == 1
    residual: float
    pinned: int | None
    method: str
    coarse: _Level | None
    assembly_seconds: float
    solve_seconds: float
    levels: list = field(default_factory=list)  # multigrid levels from this one down
    lu: PinnedLU | None = None  # factors, on levels solved directly


def _zero_current_1d(op: Operator) -> np.ndarray:
    log_p = np.concatenate(([0.0], np.cumsum(op.log_ratio_1d())))
    return np.exp(log_p - log_p.max())


def _estimate_grid(grid: Grid) -> Grid:
    if all(n % 2 == 0 for n in grid.shape):
        return grid.coarsened()
    return Grid(grid.lower, grid.upper, tuple(max(3, (n + 1) // 2) for n in grid.shape), grid.boundary)


def _pin_from(coarse: _Level, grid: Grid) -> int:
    cg = coarse.problem.grid
    k = np.unravel_index(int(np.argmax(coarse.p)), cg.shape)
    x = cg.point(k)
    idx = tuple(min(n - 1, max(0, int((xi - lo) / h))) for xi, lo, h, n in
                zip(x, grid.lower, grid.spacing, grid.shape))
    return int(np.ravel_multi_index(idx, grid.shape))


def _relative_residual(L, p: np.ndarray) -> float:
    scale = np.max(np.abs(L.diagonal())) * np.max(np.abs(p))
    return float(np.max(np.abs(L @ p)) / scale) if scale > 0 else float("inf")


def _coarsenable(grid: Grid) -> bool:
    return grid.ndim > 1 and all(n % 2 == 0 and n // 2 >= MIN_LEVEL_CELLS for n in grid.shape)


def _direct(problem: FokkerPlanck, op: Operator) -> tuple[np.ndarray, PinnedLU | None, int | None, str]:
    grid = problem.grid
    if grid.size <= SMALL_SYSTEM:
        p = bordered_null_vector(op.matrix)
        if grid.ndim == 1:
            return p, None, None, "bordered sparse LU"
        pin = int(np.argmax(np.abs(p)))  # factor once more, pinned, to serve as a coarse solver
        lu = PinnedLU(op.matrix, grid.shape, pin)
        return p, lu, pin, "bordered sparse LU"
    estimate = _solve_discrete(problem.on(_estimate_grid(grid)))
    pin = _pin_from(estimate, grid)
    lu = PinnedLU(op.matrix, grid.shape, pin)
    return lu.null_vector(), lu, pin, "pinned sparse LU (minimum degree)"


def _solve_discrete(problem: FokkerPlanck) -> _Level:
    """The discrete stationary density: closed form in 1-D, direct LU on small or odd grids,
    multigrid-preconditioned GMRES on a hierarchy of rediscretised problems otherwise."""
    grid = problem.grid
    coarse = None
    pinned = None
    lu = None
    levels: list[Level] = []
    if _coarsenable(grid) and grid.size > DIRECT_MAX_CELLS:
        coarse = _solve_discrete(problem.on(grid.coarsened()))
    t0 = time.perf_counter()
    op = assemble(problem)
    t1 = time.perf_counter()
    if grid.ndim == 1 and not grid.periodic[0]:
        p, method = _zero_current_1d(op), "closed-form 1-D zero current"
    elif coarse is None:
        p, lu, pinned, method = _direct(problem, op)
        if lu is not None:
            levels = [make_level(grid, op.matrix, None)]
    else:
        cg = coarse.problem.grid
        x0 = interpolate_density(coarse.p.reshape(cg.shape), cg, grid).ravel()
        levels = [make_level(grid, op.matrix, cg)] + coarse.levels
        coarsest = coarse
        while coarsest.coarse is not None:
            coarsest = coarsest.coarse
        p, iterations, converged = solve_level(levels, coarsest.lu.solve, x0)
        method = f"multigrid-preconditioned GMRES ({len(levels)} levels, {iterations} iterations)"
        if not (converged and np.all(np.isfinite(p))
                and _relative_residual(op.matrix, np.abs(p)) <= CONVERGED_RESIDUAL):
            pinned = int(np.argmax(np.abs(np.nan_to_num(p)))) if np.any(np.isfinite(p)) else _pin_from(coarse, grid)
            p = PinnedLU(op.matrix, grid.shape, pinned).null_vector()
            method = f"pinned sparse LU (multigrid did not converge in {iterations} iterations)"
    t2 = time.perf_counter()
    if not np.all(np.isfinite(p)):
        raise SolverError(f"the linear solve returned non-finite values ({method}, {grid.size} cells)")
    peak = np.max(np.abs(p))
    if np.sum(p) < 0:
        p = -p
    low = float(np.min(p))
    if low < -NEGATIVE_RTOL * peak:
        raise SolverError(
            f"the discrete stationary density has negative values down to {low / peak:.3g} of its "
            f"peak ({method}); the operator may not be an M-matrix or the solve lost accuracy"
        )
    p = np.maximum(p, 0.0)
    p /= p.sum() * grid.cell_volume
    residual = _relative_residual(op.matrix, p)
    if residual > RESIDUAL_TOL:
        raise SolverError(
            f"stationary solve did not converge: relative residual {residual:.3g} exceeds "
            f"{RESIDUAL_TOL:g} ({method}, {grid.size} cells)"
        )
    return _Level(problem, op, p, residual, pinned, method, coarse, t1 - t0, t2 - t1, levels, lu)


# -- public entry point ----------------------------------------------------------------


def _can_extrapolate(grid: Grid) -> bool:
    return all(n % 2 == 0 and n // 2 >= MIN_COARSE_CELLS for n in grid.shape)


def _in_detailed_balance(level: _Level, current: np.ndarray) -> bool:
    """Zero current to round-off, relative to the largest one-way probability flow."""
    op = level.operator
    one_way = op.rate * level.p[op.src] * np.abs(op.disp * np.asarray(level.problem.grid.spacing)).max(axis=1)
    return float(np.abs(current).max()) <= DETAILED_BALANCE_RTOL * float(one_way.max())


def _velocity(J: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.divide(J, p, out=np.zeros_like(J), where=p > TINY)


def _entropy_production(problem: FokkerPlanck, p: np.ndarray, J: np.ndarray) -> float:
    D = problem.diffusion_field
    DinvJ = _solve_small(D, J)
    integrand = np.divide(np.sum(J * DinvJ, axis=0), p, out=np.zeros_like(p), where=p > TINY)
    return float(np.sum(integrand) * problem.grid.cell_volume)


def _boundary_mass(grid: Grid, p: np.ndarray) -> tuple[float, int | None]:
    worst, axis_worst = 0.0, None
    w = p * grid.cell_volume
    for axis, b in enumerate(grid.boundary):
        if b == "periodic":
            continue
        lo = np.take(w, 0, axis=axis).sum()
        hi = np.take(w, grid.shape[axis] - 1, axis=axis).sum()
        if max(lo, hi) > worst:
            worst, axis_worst = float(max(lo, hi)), axis
    return worst, axis_worst


def stationary(problem: FokkerPlanck, *, order: int | None = None,
               check_boundary: bool = True) -> StationaryState:
    """Solve for the stationary state of ``problem``.

    Parameters
    ----------
    problem : FokkerPlanck
        Drift and diffusion on a grid with reflecting or periodic axes.
    order : {None, 2, 4}
        ``2``: the discrete stationary state of the conservative scheme.  ``4``: Richardson
        extrapolation with the half-resolution solution (every axis needs an even number of
        at least 16 cells).  ``None`` (default): 4 where possible, else 2.
    check_boundary : bool
        Warn (:class:`~fpsolve.errors.BoundaryMassWarning`) when more than
        ``BOUNDARY_MASS_TOL`` of the probability sits in the cells along a reflecting wall.

    Returns
    -------
    StationaryState

    Raises
    ------
    ValueError
        For absorbing walls (no stationary state), singular diffusion or a bad ``order``.
    SolverError
        If the solution fails its checks (negative density, residual above ``RESIDUAL_TOL``).

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid(-5.0, 5.0, 400)
    >>> state = fp.stationary(fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=1.0))
    >>> round(float(state.covariance()[0, 0]), 6)
    1.0
    """
    if not isinstance(problem, FokkerPlanck):
        raise TypeError(f"problem must be an fpsolve.FokkerPlanck; got {type(problem).__name__}")
    grid = problem.grid
    if "absorbing" in grid.boundary:
        raise ValueError(
            f"boundary {grid.boundary!r} has an absorbing wall: mass leaves, so there is no "
            f"stationary state; use fpsolve.evolve for the transient, or reflecting walls"
        )
    if order not in (None, 2, 4):
        raise ValueError(f"order must be None, 2 or 4; got {order!r}")
    if order == 4 and not _can_extrapolate(grid):
        raise ValueError(
            f"order=4 needs an even number of at least {2 * MIN_COARSE_CELLS} cells on every axis; "
            f"got shape {grid.shape}"
        )
    t0 = time.perf_counter()
    use4 = order == 4 or (order is None and _can_extrapolate(grid))
    fine = _solve_discrete(problem)
    p_h = fine.p.reshape(grid.shape)
    J_h = fine.operator.current(p_h)
    density, current, used_order, estimate, limited = p_h, J_h, 2, None, 0
    exact = grid.ndim == 1 and not grid.periodic[0] and problem.callable_fields
    if use4 and not exact and problem.callable_fields and _in_detailed_balance(fine, J_h):
        exact = True
    if exact:
        used_order = "exact (detailed balance)"
    elif use4:
        coarse = fine.coarse
        if coarse is None or coarse.problem.grid.shape != tuple(n // 2 for n in grid.shape):
            coarse = _solve_discrete(problem.on(grid.coarsened()))
        cg = coarse.problem.grid
        p_c = coarse.p.reshape(cg.shape)
        J_c = coarse.operator.current(p_c)
        density, limited = extrapolate_density(p_h, p_c, grid, cg)
        density /= density.sum() * grid.cell_volume
        # extrapolate the velocity J / p (smooth even in the tails), then J = v p
        v_h, v_c = _velocity(J_h, p_h), _velocity(J_c, p_c)
        current = (v_h + (v_h - resample(v_c, cg, grid, lead=1)) / 3.0) * density
        estimate = 0.5 * float(np.sum(np.abs(density - p_h)) * grid.cell_volume)
        used_order = 4
    sigma = _entropy_production(problem, density, current)
    if check_boundary:
        mass, axis = _boundary_mass(grid, density)
        if mass > BOUNDARY_MASS_TOL:
            warnings.warn(
                f"the stationary density is not negligible at a reflecting wall: probability "
                f"{mass:.3g} in the cells along axis {axis} (above {BOUNDARY_MASS_TOL:g}); the box "
                f"[{grid.lower[axis]}, {grid.upper[axis]}] truncates the distribution, enlarge it",
                BoundaryMassWarning,
                stacklevel=2,
            )
    info = SolveInfo(
        method=fine.method,
        order=used_order,
        n_cells=grid.size,
        pinned_cell=fine.pinned,
        residual=fine.residual,
        error_estimate=estimate,
        limited=limited,
        assembly_seconds=fine.assembly_seconds,
        solve_seconds=fine.solve_seconds,
        total_seconds=time.perf_counter() - t0,
    )
    return StationaryState(
        grid=grid,
        problem=problem,
        density=density,
        current=current,
        entropy_production=sigma,
        residual=fine.residual,
        status="converged",
        info=info,
        operator=fine.operator,
        discrete_density=p_h,
    )


def closed_form_1d(problem: FokkerPlanck) -> np.ndarray:
    """The zero-current stationary density ``p ∝ D⁻¹ exp(∫ A / D dx)`` (THEORY.md §1) at the cell
    centres of a 1-D problem, normalised on the grid.

    Independent of the finite-volume scheme: ``∫ A / D`` is accumulated cell by cell with
    5-point Gauss--Legendre quadrature for callable fields and the trapezoid rule for arrays.
    Valid for reflecting walls (zero current); a cross-check of :func:`stationary`.
    """
    grid = problem.grid
    if grid.ndim != 1:
        raise ValueError(f"closed_form_1d needs a 1-D problem; got {grid.ndim} dimensions")
    if grid.periodic[0]:
        raise ValueError("closed_form_1d needs reflecting walls (zero current); this axis is periodic")
    x = grid.axes[0]
    h = grid.spacing[0]
    D_nodes = problem.diffusion_at_cells()[0, 0]
    if problem.callable_fields:
        t, wq = np.polynomial.legendre.leggauss(5)
        pts = x[:-1, None] + 0.5 * (t[None, :] + 1.0) * h
        A, D = problem.fields_at(pts[None])
        D = D[0, 0] if D.ndim > 2 else np.full(pts.shape, D[0, 0])
        increments = 0.5 * h * np.sum(wq[None, :] * A[0] / D, axis=1)
    else:
        ratio = problem.drift_field[0] / D_nodes
        increments = 0.5 * h * (ratio[:-1] + ratio[1:])
    log_p = np.concatenate(([0.0], np.cumsum(increments))) - np.log(D_nodes)
    p = np.exp(log_p - log_p.max())
    return p / (p.sum() * h)
