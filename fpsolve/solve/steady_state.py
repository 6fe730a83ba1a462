"""Stationary states of Fokker--Planck problems.

``stationary(problem)`` returns the density, the probability current and the
entropy production of the steady state (docs/theory.md §1).

Method
------
1. The problem is discretised by the conservative, exponentially fitted finite-volume operator of
   :mod:`fpsolve.solve.operator` (second order, M-matrix): a Markov jump process on the cells.
2. The discrete stationary density is its normalised null vector, found by the first path that
   applies (``info.path``; :mod:`fpsolve.solve.robust` holds the robust ones):

   * ``"closed form"``: 1-D with reflecting walls (zero current), a cumulative sum of log rate
     ratios, O(n);
   * ``"detailed balance"``: every edge passes Kolmogorov's criterion, so the log-density is a sum
     of log rate ratios along a spanning tree: exact, O(n), no linear solve;
   * ``"fast"``: multigrid-preconditioned GMRES on a hierarchy of rediscretised problems (large
     2-D/3-D grids, :mod:`fpsolve.solve.multigrid`) or sparse LU (:mod:`fpsolve.solve.direct`)
     with the equation of one cell replaced by the normalisation (pinned): on larger grids the
     most probable cell of a half-resolution solution, on grids up to ``SMALL_SYSTEM`` cells
     (the coarser levels of a larger grid's solve) the cell of least outflow; kept if it passes
     the componentwise test and, with several basins of attraction of the drift, the basins' flow
     balance (inflow = outflow of every basin over the jumps crossing its boundary);
   * ``"gth"``: the user's grid when it is small (or a small level with several basins), several
     basins whose flow balance the fast result fails, or several
     basins whose boundary a small robust estimate puts below ``HOPELESS_DEPTH`` of the peak
     (the fast solve is then skipped):
     Grassmann--Taksar--Heyman elimination, subtraction-free, so every probability keeps its
     relative accuracy at any barrier height; ``"gth (repair)"`` when a one-basin fast result
     fails its checks.

   Every result passes a componentwise test: in each checked cell, inflow and outflow balance
   relative to that cell's own outflow (``info.componentwise_residual``), evaluated in log space.
3. ``order=4`` (the default where every axis has an even number of cells) removes the ``h²``
   error term by Richardson extrapolation with the half-resolution solution, brought onto the
   fine grid by fourth-order interpolation (of ``log p`` for the density, so it stays positive):
   ``p = p_h + (p_h − I p_2h) / 3``, likewise for the velocity ``v = J / p`` (smooth where ``p``
   is not), and ``J = v p``; only where a third level (4h) shows the ``h²`` convergence it
   assumes (``info.extrapolation`` says what was observed).  A limiter keeps the correction
   within ±50 % of ``p_h`` cell by cell (``info.limited`` counts the cells).  The difference
   between the extrapolated and the second-order density, ``info.error_estimate``, estimates the
   total-variation error of the second-order solution.  When the discrete chain is in detailed
   balance and the fields are callables, its state is already exact at the cell centres (to
   quadrature accuracy) and is returned as is.

The face fluxes (``edge_flux``) are those of the second-order conservative
solution, which are exactly divergence free on the grid.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
import warnings
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from ..errors import (BoundaryMassWarning, ExtrapolationWarning, InputError, InputTypeError,
                      PeriodicMismatchWarning, SolverError, UnderResolvedWarning)
from .grid import Grid
from .interpolate import STENCIL, extrapolate_density, interpolate_density, resample
from .direct import SMALL_SYSTEM, PinnedLU
from .robust import JumpGraph, drift_basins, gth_log_density, normalise_log, tree_log_density
from .multigrid import make_level, offset_reach, polish_level, solve_level
from .operator import Operator, assemble, solve_small
from .problem import FokkerPlanck

RESIDUAL_TOL = 1e-8  # relative residual of the linear solve; a direct solve gives ~1e-14
NEGATIVE_RTOL = 1e-12  # negative values above -NEGATIVE_RTOL * max(p) are round-off, set to 0
BOUNDARY_MASS_TOL = 1e-6  # probability in the wall layer of cells above which the box truncates mass
DETAILED_BALANCE_RTOL = 1e-10  # net edge flow / one-way flow below this: detailed balance
MIN_COARSE_CELLS = 8  # per axis, for the half-resolution solve used in extrapolation
# grids up to this size (and 1-D grids, or axes under 2 * MIN_LEVEL_CELLS) are solved by sparse LU;
# above it multigrid is faster (interleaved, NESS OU: 128² 139 -> 90 ms, 100² 79 -> 67 ms, 3-D 24³
# 808 -> 127 ms; gradient problems take the spanning-tree path either way)
DIRECT_MAX_CELLS = 4096
MIN_LEVEL_CELLS = 8  # per axis, on every multigrid level
CONVERGED_RESIDUAL = 1e-12  # multigrid result accepted below this relative residual, else LU
TINY = np.finfo(float).tiny
RATIO_LOW = 3.0  # observed e_2h / e_h below this (order < 1.6): the leading error is not h², don't extrapolate
PERIODIC_RTOL = 1e-8  # drift mismatch across a periodic wrap, relative to the largest drift
RESOLVE_CELLS = 1.0  # a basin whose standard deviation spans fewer cells than this is under-resolved
RESOLUTION_MASS = 1e-3  # basins lighter than this are not checked for resolution
ERROR_ESTIMATE_WARN = 1e-2  # a Richardson error estimate (TV) above this says the grid is coarse
CONVERGED_MOMENTS = 1e-13  # levels whose moments (box units) agree this well: nothing to extrapolate
# The componentwise test: in every checked cell, |inflow - outflow| / outflow.
ACCEPT_TOL = 1e-8  # a fast-path solution is accepted below this on the cells that set the masses
BULK_FLOOR = 1e-6  # one basin: the cells above this fraction of the peak carry all the mass
ROBUST_TOL = 1e-9  # exact and GTH solutions measure ~1e-13; above this the solve is rejected
CHECK_FLOOR = 1e-250  # cells below this fraction of the peak are not checked: their rates underflow
SIGMA_FLOOR = 1e-12  # σ's integrand J D⁻¹ J / p is summed over the cells above this fraction of the peak
FLOW_TOL = 1e-8  # several basins: |inflow − outflow| of every basin, over its one-way boundary flow
# the fast solve's error near a basin boundary is ~1e-16 of the peak (amplified), so its boundary
# flows cannot balance to FLOW_TOL once the boundary is far below the peak (measured: fails from
# 2e-9, barrier/D 20, passes at 5e-5); far below that, skip it and go straight to GTH
HOPELESS_DEPTH = 1e-12  # a basin's most probable boundary cell, over the peak, on a small estimate
# GMRES starts from the fourth-order interpolation of the coarse solution where it is above this
# fraction of its peak (its fast-solve error, ~1e-16 of the peak, is then below 1e-8 relative) and
# from the multilinear one in the tails, where its values are rounding noise (see _initial_guess)
GUESS_FLOOR = 1e-8


@dataclass(frozen=True)
class SolveInfo:
    """How a stationary state was computed (``StationaryState.info``).

    Attributes
    ----------
    method : str
        The solver of the discrete state in words, with any fallback and why it was taken.
    order : int or str
        Order of the returned density: ``2``, ``4`` (Richardson extrapolated) or
        ``"exact (detailed balance)"``.
    n_cells : int
        Number of grid cells.
    pinned_cell : int or None
        Flat index of the cell whose equation the normalisation replaces in the sparse LU
        factors of the solve (``"pinned sparse LU"`` in ``method``); None without them
        (multigrid, the exact and GTH paths).
    residual : float
        Relative residual ``|L p|∞ / (max|diag L| max p)`` of the discrete solve.
    error_estimate : float or None
        Total-variation distance between the extrapolated and the second-order density (an
        estimate of the second-order error); None when no extrapolation was applied.
    limited : int
        Number of cells where the limiter clipped the extrapolation correction.
    assembly_seconds, solve_seconds, total_seconds : float
        Wall-clock seconds spent assembling the operator, solving, and in all of
        :func:`~fpsolve.stationary`.
    path : str
        Which solver produced the discrete state: ``"closed form"``, ``"detailed balance"``,
        ``"fast"``, ``"gth"``, ``"gth (repair)"`` or ``"under-resolved"`` (see
        :func:`~fpsolve.stationary`).
    componentwise_residual : float
        Worst ``|inflow − outflow| / outflow`` over the ``checked_cells``.
    checked_cells : int
        Number of cells in the componentwise test.
    basins : int
        Number of basins of attraction of the drift.
    extrapolation : str
        Whether Richardson extrapolation was applied, and why (not).
    regularized_cells : int
        Number of cells whose diffusion was made less anisotropic to bound the stencil
        (``STENCIL_ANISOTROPY`` in ``fpsolve.solve.operator``).
    regularized_mass : float
        The stationary probability in those cells.  Equilibria are unchanged by the
        regularisation; a non-equilibrium state is perturbed in proportion to this mass
        (measured on the ``TanhUnit`` SGD problems: total variation 4e-4 at 64², below the
        Richardson error estimate).
    regularized_factor : float
        The largest factor by which an eigenvalue of the diffusion was raised there.
    """

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
    path: str = "fast"
    componentwise_residual: float = 0.0
    checked_cells: int = 0
    basins: int = 1
    extrapolation: str = ""
    regularized_cells: int = 0
    regularized_mass: float = 0.0
    regularized_factor: float = 1.0


@dataclass(frozen=True, eq=False)
class Basins:
    """Basins of attraction of the drift on the grid and the stationary mass in each.

    A cell belongs to the basin of the attractor its discrete drift flow ends in: each cell
    moves to the neighbour (axis or diagonal) whose direction is best aligned with the drift
    ``A`` at its centre, or stays if no direction has a positive component; the terminal cycles
    of that map are the attractors, and attractors in neighbouring cells are one.  For a
    gradient drift ``A = −D∇U`` these are the basins of the minima of ``U``.

    Attributes
    ----------
    labels : ndarray of int, ``grid.shape``
        Basin index of every cell (0 … ``len(basins) − 1``).
    masses : ndarray, ``(k,)``
        Stationary probability in each basin (they sum to 1).
    cells : ndarray of int, ``(k,)``
        Flat index of the most probable cell of each basin.
    points : ndarray, ``(k, ndim)``
        Centre of that cell.

    See Also
    --------
    fpsolve.StationaryState.basins : Computes them.
    """

    labels: np.ndarray
    masses: np.ndarray
    cells: np.ndarray
    points: np.ndarray

    def __len__(self) -> int:
        return len(self.masses)


@dataclass(frozen=True, eq=False)
class StationaryState:
    """The steady state of a Fokker--Planck problem.

    Attributes
    ----------
    grid, problem
        What was solved.
    density : ndarray, shape ``grid.shape``
        Point values of the stationary density at the cell centres (exact Boltzmann values at
        the centres in detailed balance), normalised so that ``density.sum() * grid.cell_volume
        == 1``.  A histogram of samples estimates cell *integrals*: use
        :meth:`cell_probabilities` for those (they differ from ``density * cell_volume`` at
        ``O(h²)``).
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
        ``"exact"`` (closed form or verified detailed balance), ``"verified"`` (GTH, checked in
        every cell), ``"converged"`` (fast path, accepted by the componentwise test on the cells
        carrying the mass), ``"repaired"`` (the fast path failed; GTH replaced it) or
        ``"under-resolved"`` (rates beyond the floating-point range: refine the grid).  Cells the
        discrete chain never re-enters (one-way jumps of wide stencils) have probability exactly 0;
        ``info.method`` counts them.
    message : str
        How the state was found, in words: ``info.method`` and the order (with the observed
        convergence where extrapolation was considered).
    seconds : float
        Wall-clock time spent in :func:`~fpsolve.stationary` (``info.total_seconds``).
    info : SolveInfo
        Path, method, order, componentwise residual, timings, error estimate.
    log_density : ndarray, shape ``grid.shape``
        ``log(density)``, finite where ``density`` underflows to 0 (second-order values there).
    operator : Operator
        The assembled finite-volume operator of the fine grid (internal; used by ``edge_flux``).
    discrete_density : ndarray, shape ``grid.shape``
        The second-order discrete stationary density (before any extrapolation), whose
        ``edge_flux`` is exactly divergence free.

    See Also
    --------
    fpsolve.stationary : Computes it.
    fpsolve.plot.density : Draws it.

    Examples
    --------
    >>> import fpsolve as fp
    >>> grid = fp.Grid((-6.0, -6.0), (6.0, 6.0), (32, 32))
    >>> state = fp.stationary(fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=1.0))
    >>> state.density.shape, state.current.shape
    ((32, 32), (2, 32, 32))
    >>> round(float(state.cell_probabilities().sum()), 12)
    1.0
    >>> [round(float(m), 6) + 0.0 for m in state.mean()]
    [0.0, 0.0]
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
    log_density: np.ndarray | None = field(default=None, repr=False)

    @cached_property
    def edge_flux(self) -> dict[tuple[int, ...], np.ndarray]:
        """Net flow per unit time from cell ``a`` to ``a + offset``, keyed by offset."""
        return self.operator.edge_flux(self.discrete_density)

    def basins(self) -> Basins:
        """Basins of attraction of the drift and their stationary masses (see :class:`Basins`)."""
        log_p = self.log_density.ravel() if self.log_density is not None else \
            np.log(np.maximum(self.density.ravel(), TINY))
        flat, count = _merged_basins(self.problem, log_p)
        w = self._weights().ravel()
        masses = np.bincount(flat, weights=w, minlength=count)
        if count == 1:  # no sort needed (1024²: 0.1 s)
            cells = np.array([int(np.argmax(log_p))])
        else:
            order = np.lexsort((-log_p, flat))  # by basin, most probable first
            cells = order[np.searchsorted(flat[order], np.arange(count))]
        index = np.unravel_index(cells, self.grid.shape)
        points = np.stack([axis[i] for axis, i in zip(self.grid.axes, index)], axis=1)
        return Basins(labels=flat.reshape(self.grid.shape), masses=masses, cells=cells, points=points)

    def _weights(self) -> np.ndarray:
        return self.density * self.grid.cell_volume

    def cell_probabilities(self) -> np.ndarray:
        """Probability of every cell, ``∫_cell p dx``, shape ``grid.shape``, summing to 1.

        From the centre values by the fourth-order midpoint correction
        ``∫_cell p ≈ h^d (p + Σ_axes h² ∂²p / 24)`` (``cell_integrals`` in this module), so it is as
        accurate as the ``order=4`` density; this is what a histogram of samples estimates.
        """
        return cell_integrals(self.density, self.grid)

    def expectation(self, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray | float:
        """``E[f(x)]`` under the stationary density, by the midpoint rule on the grid.

        Parameters
        ----------
        f : callable
            Vectorised function taking the cell centres, shape ``(ndim, *grid.shape)``, and
            returning ``grid.shape`` or ``(k, *grid.shape)``.

        Returns
        -------
        float or ndarray of shape ``(k,)``
        """
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
                raise InputError(f"axis must be between 0 and {self.grid.ndim - 1}; got {a}")
        drop = tuple(a for a in range(self.grid.ndim) if a not in keep)
        dx = float(np.prod([self.grid.spacing[a] for a in drop])) if drop else 1.0
        return self.density.sum(axis=drop) * dx if drop else self.density.copy()

    @property
    def velocity(self) -> np.ndarray:
        """Mean local velocity ``v = J / p`` (zero where ``p`` underflows)."""
        return _velocity(self.current, self.density)

    @property
    def message(self) -> str:
        """How the state was found: ``info.method`` and the order, in words."""
        info = self.info
        if info.extrapolation.startswith("order"):
            order = info.extrapolation
        else:
            order = info.order if isinstance(info.order, str) else f"order {info.order}"
        return f"{info.method}; {order}"

    @property
    def seconds(self) -> float:
        """Time spent in :func:`stationary` (``info.total_seconds``), the timing name every result uses."""
        return self.info.total_seconds

    def plot(self, **kwargs):
        """Density with current arrows (see :func:`fpsolve.plot.density`)."""
        from ..plot import density

        return density(self, **kwargs)


def cell_integrals(density: np.ndarray, grid: Grid) -> np.ndarray:
    """Cell probabilities ``∫_cell p dx`` from point values ``density`` at the cell centres.

    Per axis ``∫ p ≈ h (p_i + (p_{i+1} − 2 p_i + p_{i−1}) / 24)`` (the midpoint rule plus its
    leading error term: fourth order); periodic axes wrap, and a cell at a wall uses the
    second difference of its inner neighbour (third order there).  A cell whose corrected
    value would be negative (a far tail the grid does not resolve) keeps its midpoint value.
    The result is normalised to sum to 1.
    """
    p = np.asarray(density, dtype=float)
    out = p.copy()
    for axis in range(grid.ndim):
        n = grid.shape[axis]
        if grid.periodic[axis]:
            d2 = np.roll(p, -1, axis) - 2 * p + np.roll(p, 1, axis)
        else:
            inner = np.diff(p, n=2, axis=axis)  # cells 1 .. n-2
            first = np.take(inner, [0], axis=axis)
            last = np.take(inner, [n - 3], axis=axis)
            d2 = np.concatenate([first, inner, last], axis=axis)
        out = out + d2 / 24.0
    out = np.where(out < 0, p, out)
    return out / out.sum()


def _merged_basins(problem: FokkerPlanck, log_p: np.ndarray) -> tuple[np.ndarray, int]:
    """Drift basins, with every basin whose most probable cell has a more probable neighbour
    (a saddle the discrete flow stalls in, not an attractor) merged into that neighbour's basin.
    Returns flat labels (0..count-1) and count."""
    grid = problem.grid
    labels, count = drift_basins(problem)
    flat = labels.ravel().copy()
    if count == 1:
        return flat, 1
    order = np.lexsort((-log_p, flat))
    tops = order[np.searchsorted(flat[order], np.arange(count))]
    parent = np.arange(count)
    offsets = [o for o in np.ndindex(*(3,) * grid.ndim) if any(c != 1 for c in o)]
    for b in np.argsort(log_p[tops]):  # least probable first: merge chains upwards
        idx = np.array(np.unravel_index(tops[b], grid.shape))
        best, best_lp = -1, log_p[tops[b]]
        for o in offsets:
            j = idx + np.asarray(o) - 1
            for d in range(grid.ndim):
                if grid.periodic[d]:
                    j[d] %= grid.shape[d]
            if np.any(j < 0) or np.any(j >= np.asarray(grid.shape)):
                continue
            k = int(np.ravel_multi_index(tuple(j), grid.shape))
            if log_p[k] > best_lp:
                best, best_lp = k, log_p[k]
        if best >= 0:
            parent[b] = flat[best]
    root = parent.copy()
    for b in range(count):
        r = b
        while root[r] != r:
            r = root[r]
        root[b] = r
    _, relabel = np.unique(root, return_inverse=True)
    return relabel[flat], int(relabel.max()) + 1


# -- discrete solve -------------------------------------------------------------------


@dataclass
class _DiscreteSolution:
    """The discrete stationary solution at one resolution, and how it was found (not a multigrid
    level: those are :class:`fpsolve.solve.multigrid.Level`)."""

    problem: FokkerPlanck
    operator: Operator
    p: np.ndarray  # flat, sum * cell_volume == 1
    residual: float
    pinned: int | None
    method: str
    coarse: _DiscreteSolution | None
    assembly_seconds: float
    solve_seconds: float
    levels: list = field(default_factory=list)  # multigrid levels from this one down
    lu: PinnedLU | None = None  # factors, on levels solved directly
    log_p: np.ndarray | None = None  # flat, log of p (finite where p underflows)
    path: str = "fast"  # "closed form", "detailed balance", "fast", "gth", "gth (repair)"
    componentwise: float = 0.0  # worst componentwise residual over the checked cells
    checked: int = 0  # number of checked cells
    basins: int = 1  # basins of attraction of the discrete drift
    graph: JumpGraph | None = None
    matrix_rows: object = None  # operator.matrix in sorted CSR (the multigrid level's matrix)
    estimate: _DiscreteSolution | None = None  # the half resolution that placed a direct solve's pin
    _interpolated: dict = field(default_factory=dict)  # interpolate_density of p, by target grid

    def interpolated(self, grid: Grid) -> np.ndarray:
        """``p`` on ``grid`` by :func:`~fpsolve.solve.interpolate.interpolate_density` (shape
        ``grid.shape``), computed once per target grid: GMRES's starting point on the finer level
        and the Richardson extrapolation both use it."""
        key = (grid.shape, grid.lower, grid.upper, grid.boundary)
        if key not in self._interpolated:
            self._interpolated[key] = interpolate_density(self.p.reshape(self.problem.grid.shape),
                                                          self.problem.grid, grid)
        return self._interpolated[key]


def _zero_current_1d_log(op: Operator) -> np.ndarray:
    return np.concatenate(([0.0], np.cumsum(op.log_ratio_1d())))


def _estimate_grid(grid: Grid) -> Grid:
    if all(n % 2 == 0 for n in grid.shape):
        return grid.coarsened()
    return Grid(grid.lower, grid.upper, tuple(max(3, (n + 1) // 2) for n in grid.shape), grid.boundary)


def _pin_from(coarse: _DiscreteSolution, grid: Grid) -> int:
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
    """Whether ``grid`` gets a multigrid level below it (:func:`_estimate_grid`: half the cells
    per axis, ``(n + 1) // 2`` on an odd axis, whose cells are then not nested)."""
    return grid.ndim > 1 and all(n // 2 >= MIN_LEVEL_CELLS for n in grid.shape)


def _direct(problem: FokkerPlanck, op: Operator) -> tuple[np.ndarray, PinnedLU | None, int | None, str]:
    grid = problem.grid
    if grid.size <= SMALL_SYSTEM:
        # one factorisation, which also serves as a coarse solver; pinned at the cell of least
        # outflow (the diagonal is minus the outflow), where the drift is weakest: in the bulk of
        # a one-basin density (an aux level's pin; whatever it gives is checked, GTH if it fails)
        pin = int(np.argmax(op.matrix.diagonal()))
        lu = PinnedLU(op.matrix, grid.shape, pin)
        return lu.null_vector(), lu, pin, "pinned sparse LU (small grid, pinned at the cell of least outflow)"
    return _pinned_direct(problem, op)[:4]


def _pinned_direct(problem: FokkerPlanck, op: Operator):
    """The pinned sparse LU solve, its cell placed by the half-resolution solution: ``(p, lu, pin,
    method, that solution)``."""
    grid = problem.grid
    estimate = _solve_discrete(problem.on(_estimate_grid(grid)))
    pin = _pin_from(estimate, grid)
    lu = PinnedLU(op.matrix, grid.shape, pin)
    return lu.null_vector(), lu, pin, "pinned sparse LU (minimum degree)", estimate


def _initial_guess(p_c: np.ndarray, fourth: np.ndarray, P) -> np.ndarray:
    """The coarse solution ``p_c`` (flat) on the fine grid, GMRES's starting point: ``fourth``,
    its fourth-order interpolation of ``log p``
    (:func:`~fpsolve.solve.interpolate.interpolate_density`), where the coarse density is above
    ``GUESS_FLOOR`` of its peak, the multilinear prolongation ``P p_c`` (a convex combination: no
    overshoot) below.

    In the far tails the coarse fast solve's values are rounding noise, whose log the
    fourth-order stencils amplify up to ``OVERSHOOT_CAP`` times the peak: from such a start
    (3-D NESS OU 64³: residual 0.9 of the scale) GMRES needed 25 iterations, 12 with the tails
    multilinear (residual 4e-5)."""
    linear = P @ p_c
    return np.where(linear > GUESS_FLOOR * linear.max(), fourth.ravel(), linear)


def _fast_solve(problem: FokkerPlanck, op: Operator, rows=None, bottom: bool = False):
    """Multigrid (large 2-D/3-D grids) or sparse LU on ``op.matrix`` (``rows``: the same in
    sorted CSR, if the caller has it); ``bottom``: a level of a finer grid's multigrid hierarchy,
    which becomes its coarsest if it is solved directly (see :func:`_solve_discrete_once`).  Returns the raw vector (or None),
    the factors and levels kept for coarser-level use, the pinned cell, the method, the
    half-resolution solution that placed a direct solve's pin (or None) and, when the vector
    fails the sign and finiteness checks, why."""
    grid = problem.grid
    rows = op.matrix.tocsr() if rows is None else rows
    coarse, pinned, lu, levels, estimate = None, None, None, [], None
    if _coarsenable(grid) and grid.size > DIRECT_MAX_CELLS:
        coarse = _solve_discrete(problem.on(_estimate_grid(grid)), bottom=True)
        if coarse.coarse is None and coarse.lu is None:  # solved without factors: build them
            cgrid = coarse.problem.grid
            coarse.lu = PinnedLU(coarse.operator.matrix, cgrid.shape, int(np.argmax(coarse.p)))
            coarse.levels = [make_level(cgrid, coarse.matrix_rows, None)]
        elif not coarse.levels:
            coarse = None
    if coarse is None:
        if bottom:  # one factorisation, pinned where the half resolution peaks
            p, lu, pinned, method, estimate = _pinned_direct(problem, op)
        else:
            p, lu, pinned, method = _direct(problem, op)
        if lu is not None:
            levels = [make_level(grid, rows, None)]
    else:
        cg = coarse.problem.grid
        levels = [make_level(grid, rows, cg, offset_reach(grid, op.offsets))] + coarse.levels
        x0 = _initial_guess(coarse.p, coarse.interpolated(grid), levels[0].P)
        p, iterations, converged = solve_level(levels, _coarsest_solve(coarse), x0)
        smoother = "ILU(0)" if levels[0].ilu is not None else "Gauss-Seidel"
        method = (f"multigrid-preconditioned GMRES ({len(levels)} levels, {smoother} smoothing, "
                  f"{iterations} iterations)")
        if not (converged and np.all(np.isfinite(p))
                and _relative_residual(op.matrix, np.abs(p)) <= CONVERGED_RESIDUAL):
            pinned = int(np.argmax(np.abs(np.nan_to_num(p)))) if np.any(np.isfinite(p)) else _pin_from(coarse, grid)
            p = PinnedLU(op.matrix, grid.shape, pinned).null_vector()
            method = f"pinned sparse LU (multigrid did not converge in {iterations} iterations)"
    failure = None
    if not np.all(np.isfinite(p)):
        failure = "the linear solve returned non-finite values"
    else:
        peak = np.max(np.abs(p))
        if np.sum(p) < 0:
            p = -p
        low = float(np.min(p))
        if not peak > 0:
            failure = "the linear solve returned zero"
        elif low < -NEGATIVE_RTOL * peak:
            failure = f"negative values down to {low / peak:.3g} of its peak"
        else:
            p = np.maximum(p, 0.0)
            residual = _relative_residual(op.matrix, p / peak)
            if residual > RESIDUAL_TOL:
                failure = f"relative residual {residual:.3g} exceeds {RESIDUAL_TOL:g}"
    return p, coarse, lu, levels, pinned, method, estimate, failure


def _coarsest_solve(coarse: _DiscreteSolution):
    """The direct solve at the bottom of the multigrid hierarchy below ``coarse``."""
    while coarse.coarse is not None:
        coarse = coarse.coarse
    return coarse.lu.solve


def _polished(problem: FokkerPlanck, op, graph, raw: np.ndarray, coarse, levels, basins: int):
    """A multigrid solution that failed the componentwise test, continued by GMRES
    (:func:`~fpsolve.solve.multigrid.polish_level`) and checked again: ``(note, accepted)`` if it
    now passes, else None."""
    p, extra, converged = polish_level(levels, _coarsest_solve(coarse), raw)
    accepted = _recheck(problem, op, graph, p, basins) if converged else None
    return None if accepted is None else (f", polished by {extra} more GMRES iterations", accepted)


def _recheck(problem: FokkerPlanck, op, graph, p: np.ndarray, basins: int):
    """:func:`_fast_check` of a second candidate vector ``p`` (unnormalised, any sign): what it
    accepts, or None if ``p`` is not finite, is zero, has negative values beyond round-off or
    fails the check."""
    if not (np.all(np.isfinite(p)) and abs(p.sum()) > 0):
        return None
    p = p * np.sign(p.sum())
    if p.min() < -NEGATIVE_RTOL * p.max():
        return None
    retry, accepted = _fast_check(problem, op, graph, np.maximum(p, 0.0), basins)
    return None if retry is not None else accepted


def _basin_summary(problem: FokkerPlanck) -> str:
    grid = problem.grid
    labels, count = drift_basins(problem)
    labels = labels.ravel()
    where = []
    for b in range(min(count, 4)):
        cells = np.flatnonzero(labels == b)
        centre = grid.mesh().reshape(grid.ndim, -1)[:, cells].mean(axis=1)
        where.append("(" + ", ".join(f"{c:.3g}" for c in centre) + f"; {len(cells)} cells)")
    more = "" if count <= 4 else f" and {count - 4} more"
    return f"{count} basin(s) of attraction, centred at " + ", ".join(where) + more


def _basin_flow_imbalance(problem: FokkerPlanck, op, p: np.ndarray) -> float:
    """Largest ``|in − out| / max(in, out)`` over the basins of the drift, from the jumps that cross
    a basin boundary only (no cancellation against the much larger flows inside a basin).

    In the exact stationary state every basin's inflow equals its outflow; a wrong split between
    basins breaks that at the scale of the boundary flows themselves, which the per-cell test,
    relative to each cell's total outflow, cannot see.  Boundary cells carry tiny densities at high
    barriers, where the fast solve's absolute error dominates them: the test then fails and GTH runs.
    """
    labels = drift_basins(problem)[0].ravel()
    inside = op.dst >= 0
    src, dst = op.src[inside], op.dst[inside]
    cross = labels[src] != labels[dst]
    flow = op.rate[inside][cross] * p[src[cross]]
    count = int(labels.max()) + 1
    out = np.bincount(labels[src[cross]], weights=flow, minlength=count)
    into = np.bincount(labels[dst[cross]], weights=flow, minlength=count)
    scale = np.maximum(out, into)
    if not np.all(scale > 0):
        return float("inf")
    return float(np.max(np.abs(into - out) / scale))


def _fast_check(problem: FokkerPlanck, op, graph, raw: np.ndarray, basins: int):
    """Accept a fast-path vector: the componentwise test on the cells above ``BULK_FLOOR`` of the
    peak and, with several basins, the basins' flow balance.  Returns ``(failure, accepted)``,
    ``accepted = (log_p, n_checked, componentwise, method note)`` when ``failure`` is None."""
    with np.errstate(divide="ignore"):
        log_fast = np.log(raw / raw.max())
    checked = log_fast >= np.log(BULK_FLOOR)
    worst = _checked_worst(graph.residual(log_fast, np.log(BULK_FLOOR)), checked)
    if worst > ACCEPT_TOL:
        return (f"componentwise residual {worst:.3g} above {ACCEPT_TOL:g} in the cells above "
                f"{BULK_FLOOR:g} of the peak"), None
    note = ""
    if basins > 1:
        imbalance = _basin_flow_imbalance(problem, op, raw)
        if imbalance > FLOW_TOL:
            # the split between basins is set by flows the fast solve may not resolve
            return f"{basins} basins whose boundary flows balance only to {imbalance:.3g} (needed {FLOW_TOL:g})", None
        note = f"; {basins} basins, boundary flows balanced to {imbalance:.2g}"
    return None, (log_fast, int(checked.sum()), worst, note)


def _boundary_depth(problem: FokkerPlanck, log_p: np.ndarray) -> np.ndarray:
    """Per basin of the drift, ``log`` of its most probable cell next to another basin (axis
    neighbours, periodic wraps included), relative to the peak of ``p = exp(log_p)``."""
    grid = problem.grid
    labels, count = drift_basins(problem)
    lp = log_p.reshape(grid.shape) - np.max(log_p)
    best = np.full(count, -np.inf)
    for axis in range(grid.ndim):
        shift = 1 if grid.periodic[axis] else None
        a = np.moveaxis(labels, axis, 0)
        l = np.moveaxis(lp, axis, 0)
        if shift:  # compare every cell with the next one, the last with the first
            pairs = ((a, np.roll(a, -1, 0), l), (np.roll(a, -1, 0), a, np.roll(l, -1, 0)))
        else:
            pairs = ((a[:-1], a[1:], l[:-1]), (a[1:], a[:-1], l[1:]))
        for mine, other, values in pairs:
            edge = mine != other
            np.maximum.at(best, mine[edge], values[edge])
    return best


def _fast_path_hopeless(problem: FokkerPlanck) -> str | None:
    """Why the fast solve cannot pass the basins' flow balance (so GTH should run at once), from a
    robust solve on a grid of at most ``SMALL_SYSTEM`` cells, or None if it may pass.

    Only a routing decision: whatever runs is checked afterwards.  A basin whose boundary sits
    below ``HOPELESS_DEPTH`` of the peak has boundary flows far below the fast solve's rounding."""
    grid = problem.grid
    small = grid
    while small.size > SMALL_SYSTEM:
        small = _estimate_grid(small)
    if small.size == grid.size:
        return None
    try:
        estimate = _solve_discrete(problem.on(small))
    except SolverError:
        return None
    if drift_basins(estimate.problem)[1] < 2:
        return None
    depth = float(np.min(_boundary_depth(estimate.problem, estimate.log_p)))
    if depth >= np.log(HOPELESS_DEPTH):
        return None
    return (f"on a {small.shape} estimate a basin's boundary is at {np.exp(depth):.3g} of the peak, below "
            f"{HOPELESS_DEPTH:g}: its flows are below the fast solve's rounding")


def _checked_worst(res: np.ndarray, checked: np.ndarray) -> float:
    sel = res[checked]
    if len(sel) == 0:
        return 0.0
    return float("inf") if np.any(np.isnan(sel)) else float(sel.max())


# The discrete solutions of one stationary() call, by problem (the coarsened problems made by
# ``problem.on`` are shared objects for callable fields): the half-resolution solve that places the
# pin of a direct solve is the Richardson level too, and is computed once.  None outside a call.
_SOLVED: ContextVar[dict | None] = ContextVar("fpsolve_solved", default=None)


def _solve_discrete(problem: FokkerPlanck, bottom: bool = False, own: bool = False) -> _DiscreteSolution:
    """:func:`_solve_discrete_once`, remembered within one :func:`stationary` call (``_SOLVED``)."""
    memo = _SOLVED.get()
    if memo is None:
        return _solve_discrete_once(problem, bottom, own)
    hit = memo.get(id(problem))
    if hit is None:
        hit = memo[id(problem)] = (problem, _solve_discrete_once(problem, bottom, own))  # keeps the id alive
    return hit[1]


# Fine grids from this size start their half- and quarter-resolution levels (Richardson's and the
# convergence check's, solved anyway) in a second thread while GTH eliminates the fine level: both
# run compiled loops that release the GIL.  512² TanhUnit SGLD (every level on the GTH path),
# second solves in fresh processes, interleaved, load 0.8-1.2: 3.14-3.76 s against 3.79-4.70 s.
# Below this size the levels are too cheap to be worth a thread.
OVERLAP_CELLS = 1 << 17


def _start_half_resolution(problem: FokkerPlanck) -> threading.Thread | None:
    """Start ``_solve_discrete(problem.on(grid.coarsened()))`` in a thread, and after it the quarter
    resolution that :func:`_observed_convergence` compares with, for the fine level of a
    :func:`stationary` call about to run GTH; None when not worth it or not safe.

    Only from the main thread inside a :func:`stationary` call (the result lands in its ``_SOLVED``
    memo, which the thread shares through a copy of the context), and only with a Numba threading
    layer that allows parallel kernels to be launched from two threads at once (OpenMP, TBB; the
    default ``workqueue`` layer does not).  A failure in the thread is dropped: the main thread
    solves the level again when it needs it and raises there."""
    grid = problem.grid
    if (grid.size < OVERLAP_CELLS or not _can_extrapolate(grid) or _SOLVED.get() is None
            or threading.current_thread() is not threading.main_thread()):
        return None
    try:
        import numba

        if numba.threading_layer() not in ("omp", "tbb"):
            return None
    except ValueError:  # no parallel kernel has run yet: the layer is not chosen
        return None
    levels = [problem.on(grid.coarsened())]  # made here: problem.on shares them through a dict
    if _has_third_level(levels[0].grid):
        levels.append(problem.on(levels[0].grid.coarsened()))  # the convergence check's third level
    context = contextvars.copy_context()

    def solve() -> None:
        numba.set_num_threads(1)  # thread-local: its parallel kernels leave the other core to GTH
        try:
            for level in levels:
                context.run(_solve_discrete, level)
        except Exception:  # noqa: BLE001 - recomputed, and raised, where it is needed
            pass

    helper = threading.Thread(target=solve, name="fpsolve-half-resolution", daemon=True)
    helper.start()
    return helper


def _solve_discrete_once(problem: FokkerPlanck, bottom: bool = False, own: bool = False) -> _DiscreteSolution:
    """The discrete stationary density, accepted only if it passes the componentwise test.

    Paths, in order: the closed form (1-D, reflecting); a spanning tree of log rate ratios when
    every edge passes Kolmogorov's detailed-balance criterion; the fast solve (multigrid or
    sparse LU); and, if the fast solve fails the componentwise test on the cells that set the
    masses, GTH elimination.  Robust results are checked on every cell above ``CHECK_FLOOR``.

    The user's own grid (``own``) of at most ``SMALL_SYSTEM`` cells goes to GTH at once, and so
    does any such level with several basins of attraction.  A level that belongs to a finer grid's
    multigrid hierarchy (``bottom``), whose coarsest level it then is, needs pinned LU factors as
    its coarse solver anyway, so it takes the fast path, pinned where its half resolution (the
    convergence check's third level) peaks, and GTH only if the check fails (128² NESS OU: the 64²
    level's GTH was 5 ms of a 48 ms solve, beside the factors' 5 ms).  The other small levels with
    one basin (the half resolutions that the extrapolation, its convergence check and the pins
    solve) take the fast path too, pinned at their cell of least outflow: one sparse LU of 0.9 ms
    against GTH's 1.4 ms at 32², and a first solve that does not load the GTH kernels (about
    25 ms of a cold start).
    """
    grid = problem.grid
    t0 = time.perf_counter()
    op = assemble(problem)
    t1 = time.perf_counter()
    rows = op.matrix.tocsr()  # sorted; shared by the jump graph and the multigrid level
    graph = JumpGraph(op.matrix, rows)
    coarse, pinned, lu, levels, estimate = None, None, None, [], None
    log_p, basins = None, None
    if grid.ndim == 1 and not grid.periodic[0]:
        log_p, method, path = _zero_current_1d_log(op), "closed-form 1-D zero current", "closed form"
    else:
        log_p, _ = tree_log_density(graph)
        method, path = "detailed balance: log rate ratios along a spanning tree", "detailed balance"
    if log_p is None:
        basins = drift_basins(problem)[1]
        failure = None
        if grid.size <= SMALL_SYSTEM and not bottom and (own or basins > 1):
            # small: exact to rounding in every cell for a few milliseconds
            method, path = "GTH elimination (small grid)", "gth"
        elif basins > 1 and (hopeless := _fast_path_hopeless(problem)) is not None:
            method, path = f"GTH elimination (fast path skipped: {hopeless})", "gth"
        else:
            raw, coarse, lu, levels, pinned, method, estimate, failure = _fast_solve(problem, op, rows, bottom)
            path = "fast"
            if failure is None:
                failure, accepted = _fast_check(problem, op, graph, raw, basins)
                if failure is not None and failure.startswith("componentwise") and coarse is not None:
                    polished = _polished(problem, op, graph, raw, coarse, levels, basins)
                    if polished is not None:
                        note, accepted = polished
                        method, failure = method + note, None
                if failure is not None and failure.startswith("componentwise") and levels:
                    # multigrid stops at a normwise residual; the direct solve may pass where it
                    # did not, at a fraction of GTH's cost
                    direct = _direct(problem, op)
                    if (retry := _recheck(problem, op, graph, direct[0], basins)) is not None:
                        accepted = retry
                        method = f"{direct[3]} (after {method}: {failure})"
                        failure, pinned = None, direct[2]
                if failure is None:
                    log_p, n_checked, componentwise, note = accepted
                    method += note
            if failure is not None:
                method = f"GTH elimination (the fast path failed: {method}: {failure})"
                path = "gth" if basins > 1 else "gth (repair)"
        if path != "fast":
            helper = _start_half_resolution(problem)
            log_p = gth_log_density(graph, grid.shape)
            if helper is not None:
                helper.join()
    if path != "fast":
        shifted = log_p - log_p.max()
        res = graph.residual(shifted, np.log(CHECK_FLOOR))  # the cells below are not checked
        checked = shifted >= np.log(CHECK_FLOOR)
        componentwise = _checked_worst(res, checked)
        n_checked = int(checked.sum())
        if basins is None:
            basins = drift_basins(problem)[1]
        transient = int(np.isneginf(log_p).sum())
        if transient and componentwise <= ROBUST_TOL:
            method += (f"; {transient} of {grid.size} cells are transient in the discrete chain (jumps "
                       f"lead out of them, none back): their probability is exactly 0")
        if componentwise > ROBUST_TOL and not graph.symmetric:
            # some jumps have no reverse jump and the elimination met a state with no way out of
            # the states left: rates too small to represent, as in a density far narrower than a cell
            path = "under-resolved"
            method += (f"; the elimination lost rates below the floating-point range (some jumps have "
                       f"no reverse jump), componentwise residual {componentwise:.3g}: refine the grid "
                       f"(shape {grid.shape}) until the drift changes the density by less than e^700 "
                       f"per cell, or widen the diffusion")
        elif componentwise > ROBUST_TOL:
            raise SolverError(
                f"the stationary density fails the componentwise balance test: residual "
                f"{componentwise:.3g} above {ROBUST_TOL:g} ({method}, {grid.size} cells); the drift "
                f"has {_basin_summary(problem)}"
            )
    t2 = time.perf_counter()
    p, log_p = normalise_log(log_p, grid.cell_volume)
    residual = _relative_residual(op.matrix, p)
    return _DiscreteSolution(problem, op, p, residual, pinned, method, coarse, t1 - t0, t2 - t1, levels, lu,
                  log_p=log_p, path=path, componentwise=componentwise, checked=n_checked,
                  basins=basins, graph=graph, matrix_rows=rows, estimate=estimate)


# -- public entry point ----------------------------------------------------------------

_STATUS = {"closed form": "exact", "detailed balance": "exact", "fast": "converged",
           "gth": "verified", "gth (repair)": "repaired", "under-resolved": "under-resolved"}


def _can_extrapolate(grid: Grid) -> bool:
    return all(n % 2 == 0 and n // 2 >= MIN_COARSE_CELLS for n in grid.shape)


def _tv(a: np.ndarray, b: np.ndarray, grid: Grid) -> float:
    return 0.5 * float(np.sum(np.abs(a - b)) * grid.cell_volume)


def _moments(level: _DiscreteSolution) -> np.ndarray:
    """Mean and second moments of a level's density, in units of the box size: grid-independent
    functionals whose discretisation and midpoint-rule errors both expand in h²."""
    grid = level.problem.grid
    w = level.p * grid.cell_volume
    x = (grid.mesh().reshape(grid.ndim, -1) - np.asarray(grid.lower)[:, None]) / (
        np.asarray(grid.upper) - np.asarray(grid.lower))[:, None]
    mean = x @ w
    second = (x * w) @ x.T
    return np.concatenate((mean, second[np.triu_indices(grid.ndim)]))


def _has_third_level(cg: Grid) -> bool:
    """Whether the half-resolution grid ``cg`` halves again into a level the convergence check
    can compare with (even axes of at least ``2 * STENCIL`` cells)."""
    return all(n % 2 == 0 and n // 2 >= STENCIL for n in cg.shape)


def _observed_convergence(problem: FokkerPlanck, fine: _DiscreteSolution, coarse: _DiscreteSolution) -> tuple[bool, str]:
    """Does the observed convergence support Richardson extrapolation?

    With a third level (4h), the differences ``e_h = |Q_h − Q_2h|`` and ``e_2h = |Q_2h − Q_4h|`` of
    the first and second moments ``Q`` shrink by 4 per halving in the asymptotic h² regime (more
    when the coarsest level is pre-asymptotic).  Extrapolation is applied only when
    ``e_2h / e_h >= RATIO_LOW``; a smaller ratio means an error of lower order (a jump or kink
    in the drift), which subtracting an h² term over-corrects.
    """
    cg = coarse.problem.grid
    if not _has_third_level(cg):
        return False, f"order 2: no third level to check the convergence on (coarse shape {cg.shape})"
    coarser = coarse.coarse if coarse.coarse is not None else coarse.estimate
    if coarser is None or coarser.problem.grid.shape != tuple(n // 2 for n in cg.shape):
        coarser = _solve_discrete(problem.on(cg.coarsened()))
    q_h, q_2h, q_4h = (_moments(lv) for lv in (fine, coarse, coarser))
    e_h = float(np.abs(q_h - q_2h).max())
    e_2h = float(np.abs(q_2h - q_4h).max())
    if e_h <= CONVERGED_MOMENTS:
        return False, f"order 2: the levels' moments agree to {e_h:.2g}, nothing to extrapolate"
    ratio = e_2h / e_h
    if ratio >= RATIO_LOW:
        return True, f"order 4: observed difference ratio {ratio:.3g} per halving (h² regime: 4)"
    return False, (f"order 2: observed difference ratio {ratio:.3g} per halving is below {RATIO_LOW:g} "
                   f"(h² regime: 4): the error is not O(h²), so extrapolation would over-correct")


def _velocity(J: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.divide(J, p, out=np.zeros_like(J), where=p > TINY)


def _entropy_production(problem: FokkerPlanck, p: np.ndarray, J: np.ndarray) -> float:
    D = problem.diffusion_field
    DinvJ = solve_small(D, J)
    # cells below SIGMA_FLOOR of the peak are left out: a fast solve's values there are rounding
    # noise, and J² / p of noise is unbounded (3-D NESS OU 64³: σ 1e269 with them); their share of
    # σ, v² p with the velocity bounded by the fields, is below SIGMA_FLOOR of the bulk's
    resolved = p > max(TINY, SIGMA_FLOOR * float(np.max(p)))
    integrand = np.divide(np.sum(J * DinvJ, axis=0), p, out=np.zeros_like(p), where=resolved)
    return float(np.sum(integrand) * problem.grid.cell_volume)


def _check_periodic_drift(problem: FokkerPlanck) -> None:
    """Warn when a callable drift differs between the two ends of a periodic axis."""
    grid = problem.grid
    if not (problem.drift is not None and callable(problem.drift)) or not any(grid.periodic):
        return
    x = grid.mesh()
    scale = float(np.abs(problem.drift_field).max())
    for axis in np.flatnonzero(grid.periodic):
        lo = np.take(x, [0], axis=axis + 1).copy()
        hi = lo.copy()
        lo[axis] = grid.lower[axis]
        hi[axis] = grid.upper[axis]
        A_lo, _ = problem.fields_at(lo)
        A_hi, _ = problem.fields_at(hi)
        jump = float(np.abs(A_hi - A_lo).max())
        if jump > PERIODIC_RTOL * max(scale, TINY):
            warnings.warn(
                f"the drift does not match across the periodic wrap of axis {axis}: it jumps by up "
                f"to {jump:.3g} (largest drift on the grid {scale:.3g}) between x={grid.lower[axis]} and "
                f"x={grid.upper[axis]}; expect first-order accuracy (order 4 is applied only where the "
                f"observed convergence supports it)",
                PeriodicMismatchWarning,
                stacklevel=4,
            )


def _linearised_width(problem: FokkerPlanck):
    """The narrowest width ``sqrt(D_ii / −∂_i A_i)`` at the attractors of the drift (the cell of
    smallest drift in each basin), in cells, if below RESOLVE_CELLS: ``(cells, axis, width, point)``.
    Independent of the solve, so it also catches densities too narrow for any cell to resolve."""
    grid = problem.grid
    A = problem.drift_field
    D = problem.diffusion_at_cells()
    labels, count = drift_basins(problem)
    speed = np.sqrt(np.sum(A ** 2, axis=0)).ravel()
    flat = labels.ravel()
    worst = None
    for b in range(count):
        cell = int(np.flatnonzero(flat == b)[np.argmin(speed[flat == b])])
        idx = np.unravel_index(cell, grid.shape)
        for axis in range(grid.ndim):
            n, h = grid.shape[axis], grid.spacing[axis]
            lo = list(idx)
            hi = list(idx)
            lo[axis] = max(idx[axis] - 1, 0)
            hi[axis] = min(idx[axis] + 1, n - 1)
            slope = (A[axis][tuple(hi)] - A[axis][tuple(lo)]) / ((hi[axis] - lo[axis]) * h)
            if slope < 0:
                width = float(np.sqrt(D[axis, axis][idx] / -slope))
                cells = width / h
                if cells < RESOLVE_CELLS and (worst is None or cells < worst[0]):
                    worst = (cells, axis, width, grid.point(idx))
    return worst


def _basin_widths(w: np.ndarray, labels: np.ndarray, which: np.ndarray, grid: Grid,
                  single: bool) -> list[np.ndarray]:
    """Per basin in ``which``, the standard deviation along each axis of the weights ``w`` (of
    ``grid.shape``) restricted to the basin's cells (``labels``), from its marginals: of ``w``
    itself when there is a ``single`` basin, of ``w`` masked to the basin otherwise."""
    widths = []
    for b in which:
        wb = w if single else np.where(labels == b, w, 0.0)
        total = wb.sum()
        sd = np.empty(grid.ndim)
        for axis, x in enumerate(grid.axes):
            marginal = wb.sum(axis=tuple(a for a in range(grid.ndim) if a != axis)) / total
            centre = x @ marginal
            sd[axis] = np.sqrt(max(((x - centre) ** 2) @ marginal, 0.0))
        widths.append(sd)
    return widths


def _check_resolution(state: StationaryState, estimate: float | None) -> None:
    """Warn when a basin carrying mass is narrower than the grid resolves, or when the
    error estimate is large."""
    grid = state.grid
    h = np.asarray(grid.spacing)
    basins = state.basins()
    worst = None
    heavy = np.flatnonzero(basins.masses > RESOLUTION_MASS)
    widths = _basin_widths(state._weights(), basins.labels, heavy, grid, len(basins.masses) == 1)
    for b, sd in zip(heavy, widths):
        cells = sd / h
        axis = int(np.argmin(cells))
        if cells[axis] < RESOLVE_CELLS and (worst is None or cells[axis] < worst[0]):
            worst = (cells[axis], axis, sd[axis], basins.points[b])
    linear = _linearised_width(state.problem)
    if linear is not None and (worst is None or linear[0] < worst[0]):
        worst = linear
    if worst is not None:
        cells, axis, sd, point = worst
        factor = int(np.ceil(RESOLVE_CELLS / max(cells, RESOLVE_CELLS / 16)))
        shape = tuple(int(n * factor) for n in grid.shape)
        where = "(" + ", ".join(f"{c:.3g}" for c in point) + ")"
        warnings.warn(
            f"the density is under-resolved: near {where} its width along axis {axis} is "
            f"{sd:.3g} ({cells:.2g} cells of spacing {h[axis]:.3g}), below {RESOLVE_CELLS:g} cells; "
            f"moments and masses may be far off. A grid of shape {shape} would resolve it",
            UnderResolvedWarning,
            stacklevel=4,
        )
    elif estimate is not None and estimate > ERROR_ESTIMATE_WARN:
        shape = tuple(2 * n for n in grid.shape)
        warnings.warn(
            f"the density is under-resolved: the error estimate (total variation) is "
            f"{estimate:.3g}, above {ERROR_ESTIMATE_WARN:g}, with spacing {tuple(float(v) for v in h)}; "
            f"a grid of shape {shape} would reduce it about fourfold",
            UnderResolvedWarning,
            stacklevel=4,
        )


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


def _remembering(func):  # warnings raised under it use stacklevel + 1 for this frame
    """Run ``func`` with a fresh ``_SOLVED`` memory, dropped when it returns or raises."""

    @functools.wraps(func)
    def call(*args, **kwargs):
        token = _SOLVED.set({})
        try:
            return func(*args, **kwargs)
        finally:
            _SOLVED.reset(token)

    return call


@_remembering
def stationary(problem: FokkerPlanck, *, order: int | None = None,
               check_boundary: bool = True, check_resolution: bool = True) -> StationaryState:
    """Solve for the stationary state of ``problem``.

    Parameters
    ----------
    problem : FokkerPlanck
        Drift and diffusion on a grid with reflecting or periodic axes.
    order : {None, 2, 4}
        ``2``: the discrete stationary state of the conservative discretisation.  ``4``: Richardson
        extrapolation with the half-resolution solution (every axis needs an even number of
        at least 16 cells), applied only where the observed convergence supports it.
        ``None`` (default): 4 where possible and supported, else 2.
    check_boundary : bool
        Warn (:class:`~fpsolve.errors.BoundaryMassWarning`) when more than
        ``BOUNDARY_MASS_TOL`` of the probability sits in the cells along a reflecting wall.
    check_resolution : bool
        Warn (:class:`~fpsolve.errors.UnderResolvedWarning`) when the grid does not resolve
        the density.

    Returns
    -------
    StationaryState
        Density, current, entropy production, status and solve information.

    Raises
    ------
    ValueError
        For absorbing walls (no stationary state), singular diffusion or a bad ``order``.
    SolverError
        If even the robust path fails the componentwise test (the message names the basins of
        the drift), or the jump graph is not connected.

    Warns
    -----
    UnderResolvedWarning
        A basin carrying mass is narrower than a cell (in the result, or by the linearised
        drift at its attractor), or the error estimate is large (``check_resolution``).
    PeriodicMismatchWarning
        A callable drift jumps across a periodic wrap.
    ExtrapolationWarning
        ``order=4`` was asked for but the observed convergence does not support it.

    See Also
    --------
    fpsolve.closed_form_1d : The 1-D zero-current density, independent of the discretisation.
    fpsolve.linearized : The Gaussian state of the linearised problem, in any dimension.
    fpsolve.evolve : The transient towards it.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid(-5.0, 5.0, 400)
    >>> state = fp.stationary(fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=1.0))
    >>> round(float(state.covariance()[0, 0]), 4)  # the box [-5, 5] truncates 1.5e-5
    1.0
    >>> state.status, state.info.path
    ('exact', 'closed form')
    """
    _check_arguments(problem, order)
    grid = problem.grid
    t0 = time.perf_counter()
    if problem.callable_fields:
        _check_periodic_drift(problem)
    fine = _solve_discrete(problem, own=True)
    p_h = fine.p.reshape(grid.shape)
    J_h = fine.operator.current(p_h)
    density, current, used_order, estimate, limited, extrapolation = _higher_order(problem, fine, J_h, order)
    if used_order == 4:
        with np.errstate(divide="ignore"):
            log_density = np.where(density > 0, np.log(density), fine.log_p.reshape(grid.shape))
    else:
        log_density = fine.log_p.reshape(grid.shape)
    sigma = _entropy_production(problem, density, current)
    if check_boundary:
        _warn_boundary_mass(grid, density)
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
        path=fine.path,
        componentwise_residual=fine.componentwise,
        checked_cells=fine.checked,
        basins=_merged_basins(problem, fine.log_p)[1] if fine.basins > 1 else 1,
        extrapolation=extrapolation,
        regularized_cells=int(np.count_nonzero(fine.operator.regularized)),
        regularized_mass=fine.operator.regularized_mass(density),
        regularized_factor=fine.operator.regularized_factor,
    )
    state = StationaryState(grid=grid, problem=problem, density=density, current=current,
                            entropy_production=sigma, residual=fine.residual, status=_STATUS[fine.path],
                            info=info, operator=fine.operator, discrete_density=p_h,
                            log_density=log_density)
    if check_resolution:
        _check_resolution(state, estimate)
    return state


def _check_arguments(problem: FokkerPlanck, order) -> None:
    """The checks :func:`stationary` makes before solving (type, memory, walls, order)."""
    if not isinstance(problem, FokkerPlanck):
        raise InputTypeError(f"problem must be an fpsolve.FokkerPlanck; got {type(problem).__name__}")
    grid = problem.grid
    from .._memory import check_memory, operator_bytes

    check_memory(operator_bytes(grid.size, grid.ndim), f"the stationary solve on {grid.size:.4g} cells "
                 f"(problem.grid.shape={grid.shape})", "use a coarser grid")
    if "absorbing" in grid.boundary:
        raise InputError(
            f"boundary {grid.boundary!r} has an absorbing wall: mass leaves, so there is no "
            f"stationary state; use fpsolve.evolve for the transient, or reflecting walls"
        )
    if order not in (None, 2, 4):
        raise InputError(f"order must be None, 2 or 4; got {order!r}")
    if order == 4 and not _can_extrapolate(grid):
        raise InputError(
            f"order=4 needs an even number of at least {2 * MIN_COARSE_CELLS} cells on every axis; "
            f"got shape {grid.shape}"
        )


def _higher_order(problem: FokkerPlanck, fine: _DiscreteSolution, J_h: np.ndarray, order):
    """Richardson extrapolation of the second-order solution where it is asked for and the observed
    convergence supports it.  Returns ``(density, current, order used, error estimate, limited
    cells, what was decided about extrapolation)``; warns when ``order=4`` was asked for and not
    applied."""
    grid = problem.grid
    p_h = fine.p.reshape(grid.shape)
    use4 = order == 4 or (order is None and _can_extrapolate(grid))
    extrapolation = "not requested" if not use4 else ""
    if fine.path in ("closed form", "detailed balance") and problem.callable_fields:
        return p_h, J_h, "exact (detailed balance)", None, 0, extrapolation
    if not use4:
        return p_h, J_h, 2, None, 0, extrapolation
    coarse = fine.coarse
    if coarse is None or coarse.problem.grid.shape != tuple(n // 2 for n in grid.shape):
        coarse = _solve_discrete(problem.on(grid.coarsened()))
    supported, extrapolation = _observed_convergence(problem, fine, coarse)
    if not supported:
        if order == 4:
            warnings.warn(f"order=4 not applied: {extrapolation}; returning the second-order "
                          f"solution", ExtrapolationWarning, stacklevel=4)
        return p_h, J_h, 2, None, 0, extrapolation
    cg = coarse.problem.grid
    p_c = coarse.p.reshape(cg.shape)
    J_c = coarse.operator.current(p_c)
    density, limited = extrapolate_density(p_h, coarse.interpolated(grid))
    density /= density.sum() * grid.cell_volume
    # extrapolate the velocity J / p (smooth even in the tails), then J = v p
    v_h, v_c = _velocity(J_h, p_h), _velocity(J_c, p_c)
    current = (v_h + (v_h - resample(v_c, cg, grid, lead=1)) / 3.0) * density
    estimate = 0.5 * float(np.sum(np.abs(density - p_h)) * grid.cell_volume)
    return density, current, 4, estimate, limited, extrapolation


def _warn_boundary_mass(grid: Grid, density: np.ndarray) -> None:
    mass, axis = _boundary_mass(grid, density)
    if mass > BOUNDARY_MASS_TOL:
        warnings.warn(
            f"the stationary density is not negligible at a reflecting wall: probability "
            f"{mass:.3g} in the cells along axis {axis} (above {BOUNDARY_MASS_TOL:g}); the box "
            f"[{grid.lower[axis]}, {grid.upper[axis]}] truncates the distribution, enlarge it",
            BoundaryMassWarning,
            stacklevel=4,
        )


def closed_form_1d(problem: FokkerPlanck) -> np.ndarray:
    """The zero-current stationary density ``p ∝ D⁻¹ exp(∫ A / D dx)`` (docs/theory.md §1) at the cell
    centres of a 1-D problem, normalised on the grid.

    Independent of the finite-volume discretisation: ``∫ A / D`` is accumulated cell by cell with
    5-point Gauss--Legendre quadrature for callable fields and the trapezoid rule for arrays.
    Valid for reflecting walls (zero current); a cross-check of :func:`stationary`.

    Parameters
    ----------
    problem : FokkerPlanck
        A 1-D problem with reflecting walls.

    Returns
    -------
    ndarray, shape ``grid.shape``
        The density at the cell centres, normalised so that ``p.sum() * h == 1``.

    Raises
    ------
    InputError
        If the problem is not 1-D or its axis is periodic.

    See Also
    --------
    fpsolve.stationary : The finite-volume solution it cross-checks.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid(-4.0, 4.0, 64)
    >>> problem = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=1.0)
    >>> p = fp.closed_form_1d(problem)
    >>> exact = np.exp(-grid.axes[0] ** 2 / 2)
    >>> bool(np.allclose(p, exact / (exact.sum() * grid.spacing[0]), rtol=1e-8))
    True
    """
    grid = problem.grid
    if grid.ndim != 1:
        raise InputError(f"closed_form_1d needs a 1-D problem; got {grid.ndim} dimensions")
    if grid.periodic[0]:
        raise InputError("closed_form_1d needs reflecting walls (zero current); this axis is periodic")
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
