"""Fokker--Planck problems: a grid plus drift and diffusion fields (Itô form).

The equation (docs/theory.md §1) is

.. math::  \\partial_t p = -\\partial_i (A_i p) + \\partial_i \\partial_j (D_{ij} p),

with drift ``A`` and symmetric positive-semidefinite diffusion tensor ``D = ½ B Bᵀ``.
Fields are evaluated once on the grid and kept as arrays.  Callables are kept as
well: the discretisation integrates ``D⁻¹A`` along grid edges from its values on the
lattice of half cell steps (evaluated once, off the cell centres, where the grid values are
reused; cached in ``lattice_cache`` and shared with the
coarsened copies made by :meth:`FokkerPlanck.on`), which keeps the discrete stationary state
of gradient systems exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np
from numpy.typing import ArrayLike

from ..errors import FieldError, FPSolveError
from .grid import Grid
from .interpolate import resample

FieldSpec = Union[Callable[[np.ndarray], np.ndarray], ArrayLike, float]

SYMMETRY_RTOL = 1e-10  # round-off in a user's tensor assembly, far below any physical asymmetry
PSD_RTOL = 1e-12  # eigenvalues above -PSD_RTOL * max|eigenvalue| are round-off of a PSD tensor


def _where(grid: Grid, flat_index: int) -> str:
    idx = np.unravel_index(int(flat_index), grid.shape)
    x = grid.point(idx)
    return f"x=({', '.join(f'{v:.6g}' for v in x)}) (cell {tuple(int(i) for i in idx)})"


def as_real(value, name: str) -> np.ndarray:
    """``value`` as a float array; complex, non-numeric or ragged values raise naming ``name``."""
    if np.iscomplexobj(value):
        raise FieldError(
            f"{name} must be real; got complex values (dtype {np.asarray(value).dtype}); pass the real "
            "part explicitly if that is what you mean"
        )
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        kind = np.asarray(value, dtype=object).dtype if not isinstance(value, np.ndarray) else value.dtype
        raise FieldError(
            f"{name} must hold real numbers; got {type(value).__name__} (dtype {kind}) that does not "
            f"convert to float: {exc}"
        ) from None
    return arr


def _call(f, x: np.ndarray, name: str):
    try:
        return f(x)
    except FPSolveError:
        raise
    except Exception as exc:
        raise FieldError(
            f"{name} must be a vectorised callable taking points of shape {x.shape} (ndim, *points); "
            f"calling it failed with {type(exc).__name__}: {exc}"
        ) from exc


def normalize_drift(value, ndim: int, pts: tuple[int, ...], name: str = "drift") -> np.ndarray:
    """Return drift values as an array of shape ``(ndim, *pts)``."""
    arr = as_real(value, name)
    if ndim == 1 and arr.shape == pts:
        arr = arr[None]
    if arr.shape != (ndim, *pts):
        raise FieldError(
            f"{name} must have shape {(ndim, *pts)} (ndim, *points); got {arr.shape}"
        )
    return arr


def normalize_diffusion(value, ndim: int, pts: tuple[int, ...], name: str = "diffusion"):
    """Return ``(D, constant)`` with D of shape ``(ndim, ndim)`` if constant else ``(ndim, ndim, *pts)``."""
    arr = as_real(value, name)
    if arr.ndim == 0:
        return arr * np.eye(ndim), True
    if arr.shape == (ndim, ndim):
        return arr.copy(), True
    if arr.shape == pts:  # scalar field: isotropic diffusion d(x) I
        return np.einsum("ij,...->ij...", np.eye(ndim), arr), False
    if arr.shape == (ndim, ndim, *pts):
        return arr, False
    raise FieldError(
        f"{name} must be a scalar, an ({ndim}, {ndim}) matrix, a field of shape {pts} or a "
        f"tensor field of shape {(ndim, ndim, *pts)}; got shape {arr.shape}"
    )


def check_finite(arr: np.ndarray, grid: Grid, name: str, lead: int) -> None:
    """Raise if ``arr`` (``lead`` component axes, then the cells) has a non-finite entry."""
    flat = arr.reshape(int(np.prod(arr.shape[:lead], dtype=int)), -1)
    bad = ~np.isfinite(flat)
    if not bad.any():
        return
    cells = bad.any(axis=0)
    cell = int(np.argmax(cells))
    comp = int(np.argmax(bad[:, cell]))
    where = _where(grid, cell) if flat.shape[1] == grid.size else "every point"
    index = tuple(int(i) for i in np.unravel_index(comp, arr.shape[:lead]))
    raise FieldError(
        f"{name} is not finite at {where}: component {index} is {flat[comp, cell]}; "
        f"{int(cells.sum())} of {flat.shape[1]} cells are affected"
    )


def check_psd(D: np.ndarray, grid: Grid | None, name: str = "diffusion") -> None:
    """Raise unless ``D`` is symmetric positive semidefinite everywhere.

    ``D`` has shape ``(ndim, ndim)`` or ``(ndim, ndim, *shape)``.  Tensors whose invariants
    (rounding included) certify them positive definite need no eigenvalues (up to 3-D); the
    eigenvalues of the others decide, and the lowest of them is reported.
    """
    ndim = D.shape[0]
    mats = np.moveaxis(D.reshape(ndim, ndim, -1), -1, 0)  # (n, ndim, ndim)
    scale = np.max(np.abs(mats)) if mats.size else 0.0
    asym = np.max(np.abs(mats - np.swapaxes(mats, 1, 2))) if mats.size else 0.0
    if asym > SYMMETRY_RTOL * max(scale, 1e-300):
        k = int(np.argmax(np.abs(mats - np.swapaxes(mats, 1, 2)).reshape(len(mats), -1).max(axis=1)))
        where = _where(grid, k) if grid is not None and D.ndim > 2 else "every point"
        raise FieldError(
            f"{name} must be symmetric; got |D - D^T| = {asym:.3g} at {where}"
        )
    suspect = np.arange(len(mats))
    if 1 <= ndim <= 3 and len(mats):
        from .operator import _ratio_floor  # here: operator imports this module

        suspect = np.flatnonzero(~(_ratio_floor(mats) > 0))
    if not len(suspect):
        return
    low = np.linalg.eigvalsh(mats[suspect])[:, 0]
    j = int(np.argmin(low))
    k = int(suspect[j])
    if low[j] < -PSD_RTOL * max(scale, 1e-300):
        where = _where(grid, k) if grid is not None and D.ndim > 2 else "every point"
        raise FieldError(
            f"{name} must be positive semidefinite; got eigenvalue {low[j]:.6g} at {where}"
        )


def coarsening_factors(fine: Grid, grid: Grid) -> tuple[int, ...] | None:
    """Per-axis factors ``2**k`` by which ``grid`` coarsens ``fine`` over the same box, or None."""
    if (fine.lower, fine.upper, fine.boundary) != (grid.lower, grid.upper, grid.boundary):
        return None
    factors = []
    for nf, n in zip(fine.shape, grid.shape):
        f = nf // n
        if f * n != nf or f & (f - 1):
            return None
        factors.append(f)
    return tuple(factors)


@dataclass(eq=False)
class LatticeCache:
    """``D⁻¹A`` on the lattice of half cell steps of ``grid`` (filled by the assembly on first use).

    Shared by a problem and the coarsened copies ``on`` makes of it, whose lattices are subsets;
    ``problems`` keeps those copies by grid, so the solver's levels, the Richardson level and the
    convergence check evaluate the fields at each level's cell centres once.
    """

    grid: Grid
    centres: tuple | None = None  # (A, D) of the problem at ``grid``'s cell centres
    values: np.ndarray | None = None
    problems: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class FokkerPlanck:
    """A Fokker--Planck problem on a grid (Itô form, SDE time).

    Parameters
    ----------
    grid : Grid
        Where the density lives.
    drift : callable or array_like
        ``A(x)``: a vectorised callable taking ``x`` of shape ``(ndim, *pts)`` and
        returning ``(ndim, *pts)``, or an array of shape ``(ndim, *grid.shape)``
        (in 1-D also ``grid.shape``).
    diffusion : float, array_like or callable
        ``D(x)``: a scalar (``D = d I``), a constant ``(ndim, ndim)`` matrix, an array of
        shape ``(ndim, ndim, *grid.shape)`` or ``grid.shape`` (isotropic field), or a
        callable returning one of those for points ``(ndim, *pts)``.  Must be symmetric
        positive semidefinite.

    Attributes
    ----------
    drift_field : ndarray, shape ``(ndim, *grid.shape)``
        The drift at the cell centres.
    diffusion_field : ndarray
        ``(ndim, ndim)`` when constant, else ``(ndim, ndim, *grid.shape)`` at the cell centres.
    constant_diffusion : bool
        Whether the diffusion is one matrix everywhere.
    lattice_cache : LatticeCache
        Internal: ``D⁻¹A`` on the lattice of half cell steps, filled by the assembly and shared
        with coarsened copies of the problem.

    Raises
    ------
    FieldError
        If ``grid`` is not a :class:`~fpsolve.Grid`, a field has the wrong shape, is complex
        or not finite (the message names the cell), or the diffusion is not symmetric positive
        semidefinite.
    MemoryEstimateError
        If the fields of this grid would not fit in the available memory.

    See Also
    --------
    fpsolve.stationary, fpsolve.evolve : What to do with it.
    fpsolve.SGD.fokker_planck : The Fokker--Planck problem of SGD on a loss landscape.

    Examples
    --------
    A two-dimensional Ornstein--Uhlenbeck process with a rotational drift:

    >>> import numpy as np, fpsolve as fp
    >>> K = np.array([[1.0, 1.5], [-0.5, 1.0]])
    >>> grid = fp.Grid((-6, -6), (6, 6), (64, 64))
    >>> problem = fp.FokkerPlanck(grid, drift=lambda x: -np.einsum("ij,j...->i...", K, x),
    ...                           diffusion=np.diag([0.5, 0.25]))
    >>> problem.diffusion_field.shape, problem.drift_field.shape
    ((2, 2), (2, 64, 64))
    >>> problem.on(grid.coarsened()).grid.shape  # the same problem on another grid
    (32, 32)
    """

    grid: Grid
    drift: FieldSpec
    diffusion: FieldSpec
    drift_field: np.ndarray = field(init=False, repr=False)
    diffusion_field: np.ndarray = field(init=False, repr=False)
    constant_diffusion: bool = field(init=False, repr=False)
    lattice_cache: LatticeCache = field(init=False, repr=False)

    def __post_init__(self) -> None:
        grid = self.grid
        if not isinstance(grid, Grid):
            raise FieldError(f"grid must be an fpsolve.Grid; got {type(grid).__name__}")
        from .._memory import check_memory, grid_field_bytes

        check_memory(grid_field_bytes(grid.size, grid.ndim), f"a problem on {grid.size:.4g} cells "
                     f"(grid.shape={grid.shape})", "use a coarser grid")
        x = grid.mesh()
        drift_value = _call(self.drift, x, "drift") if callable(self.drift) else self.drift
        A = normalize_drift(drift_value, grid.ndim, grid.shape)
        check_finite(A, grid, "drift", 1)
        diff_value = _call(self.diffusion, x, "diffusion") if callable(self.diffusion) else self.diffusion
        D, constant = normalize_diffusion(diff_value, grid.ndim, grid.shape)
        check_finite(D, grid, "diffusion", 2)
        check_psd(D, grid)
        object.__setattr__(self, "drift_field", A)
        object.__setattr__(self, "diffusion_field", D)
        object.__setattr__(self, "constant_diffusion", constant)
        object.__setattr__(self, "lattice_cache", LatticeCache(grid, (A, D)))

    @property
    def callable_fields(self) -> bool:
        """Whether both fields can be evaluated off the grid (needed for exact edge integrals)."""
        return callable(self.drift) and (callable(self.diffusion) or self.constant_diffusion)

    def fields_at(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Drift ``(ndim, *pts)`` and diffusion (``(ndim, ndim)`` or ``(ndim, ndim, *pts)``) at ``x``.

        Only for callable fields (a constant diffusion counts as callable).

        Parameters
        ----------
        x : ndarray, shape ``(ndim, *pts)``
            Points, anywhere (not only cell centres).

        Returns
        -------
        A, D : ndarray
            The drift and the diffusion at ``x``.

        Raises
        ------
        FieldError
            If the problem holds array fields.
        """
        if not self.callable_fields:
            raise FieldError("fields_at needs callable drift and diffusion; this problem holds arrays")
        ndim = self.grid.ndim
        pts = x.shape[1:]
        A = normalize_drift(self.drift(x), ndim, pts)
        if self.constant_diffusion:
            D = self.diffusion_field
        else:
            D, _ = normalize_diffusion(self.diffusion(x), ndim, pts)
        return A, D

    def diffusion_at_cells(self) -> np.ndarray:
        """Diffusion tensor at every cell, shape ``(ndim, ndim, *shape)``."""
        D = self.diffusion_field
        if self.constant_diffusion:
            return np.broadcast_to(D.reshape(*D.shape, *([1] * self.grid.ndim)),
                                   (*D.shape, *self.grid.shape))
        return D

    def on(self, grid: Grid) -> FokkerPlanck:
        """The same problem on another grid over the same box.

        Callable fields are re-evaluated; array fields are resampled with fourth-order
        Lagrange interpolation (so a coarsened problem keeps the fine problem's accuracy).

        Parameters
        ----------
        grid : Grid
            Same box and boundaries, any shape.

        Returns
        -------
        FokkerPlanck

        Raises
        ------
        FieldError
            If ``grid`` covers another box or has other boundaries.
        """
        if grid == self.grid:
            return self
        shared = self.lattice_cache.problems.get(grid) if self.callable_fields else None
        if shared is not None:
            return shared
        if grid.lower != self.grid.lower or grid.upper != self.grid.upper or grid.boundary != self.grid.boundary:
            raise FieldError(f"grid must cover the same box with the same boundaries; got {grid}")
        drift = self.drift if callable(self.drift) else resample(self.drift_field, self.grid, grid, lead=1)
        if callable(self.diffusion) or self.constant_diffusion:
            diffusion = self.diffusion if callable(self.diffusion) else self.diffusion_field
        else:
            diffusion = resample(self.diffusion_field, self.grid, grid, lead=2)
        child = FokkerPlanck(grid, drift, diffusion)
        if self.callable_fields and coarsening_factors(self.lattice_cache.grid, grid) is not None:
            object.__setattr__(child, "lattice_cache", self.lattice_cache)  # same callables: share
            self.lattice_cache.problems[grid] = child
        return child
