"""Cell-centred rectilinear grids in 1, 2 and 3 dimensions.

A :class:`Grid` splits the box ``[lower, upper]`` into ``shape`` equal cells per
axis.  Unknowns live at cell centres: a density array holds the density's *point values*
at the centres, normalised so that ``density.sum() * grid.cell_volume == 1``.  Cell
probabilities (integrals over the cells, what a histogram of samples estimates) differ from
``density * cell_volume`` at ``O(h²)``; ``StationaryState.cell_probabilities()`` gives them.
Each axis has its own boundary:

``reflecting``
    zero normal probability flux through the wall;
``periodic``
    the axis is a circle of length ``upper - lower``;
``absorbing``
    the density is zero outside the box (mass leaves; only time evolution is
    meaningful, there is no stationary state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

from ..errors import GridError

BOUNDARIES = ("reflecting", "periodic", "absorbing")
MIN_CELLS = 3  # a centred second difference needs a cell and both neighbours
MAX_NDIM = 3
MIN_SPACING_ULPS = 64  # a cell must span this many ulps of its coordinates, or centres and faces blur
SPACING_RANGE = (float(np.sqrt(np.finfo(float).tiny)), float(np.sqrt(np.finfo(float).max)))  # h² stays normal


def _as_tuple(value) -> tuple:
    if np.ndim(value) == 0:
        return (value,)
    return tuple(np.asarray(value).tolist()) if not isinstance(value, (tuple, list)) else tuple(value)


def _checked_box(lower: tuple, upper: tuple, given_lower, given_upper) -> tuple[tuple, tuple]:
    """``lower`` and ``upper`` as floats, checked to be real, finite and ordered on every axis."""
    for name, values in (("lower", lower), ("upper", upper)):
        for axis, v in enumerate(values):
            if isinstance(v, (bool, np.bool_, str, bytes)) or np.iscomplexobj(v) or not np.isscalar(v) and np.ndim(v):
                raise GridError(f"{name} must hold real numbers; got {name}[{axis}]={v!r}")
    try:
        lower = tuple(float(v) for v in lower)
        upper = tuple(float(v) for v in upper)
    except (TypeError, ValueError) as exc:
        raise GridError(f"lower and upper must be numbers; got {given_lower!r}, {given_upper!r}") from exc
    for axis, (lo, hi) in enumerate(zip(lower, upper)):
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise GridError(f"lower and upper must be finite; got axis {axis}: [{lo}, {hi}]")
        if hi <= lo:
            raise GridError(
                f"upper must be greater than lower on every axis; got upper[{axis}]={hi} "
                f"<= lower[{axis}]={lo}"
            )
        if not np.isfinite(hi - lo):
            raise GridError(
                f"upper - lower must be a finite length; got axis {axis}: [{lo}, {hi}] spans "
                f"{hi - lo} (overflow); choose a box well inside ±{np.finfo(float).max / 2:.3g}"
            )
    return lower, upper


def _checked_shape(shape: tuple) -> tuple[int, ...]:
    """``shape`` as ints, checked to be whole numbers of at least ``MIN_CELLS``."""
    checked = []
    for axis, n in enumerate(shape):
        if isinstance(n, (bool, np.bool_, str, bytes)) or np.iscomplexobj(n):
            raise GridError(f"shape must hold whole numbers of cells; got shape[{axis}]={n!r}")
        try:
            whole = float(n).is_integer()
        except (TypeError, ValueError, OverflowError):
            whole = False
        if not whole:
            raise GridError(f"shape must hold whole numbers of cells; got shape[{axis}]={n!r}")
        if int(n) < MIN_CELLS:
            raise GridError(
                f"shape[{axis}]={int(n)} is too few cells; need at least {MIN_CELLS} per axis"
            )
        checked.append(int(n))
    return tuple(checked)


def _check_spacing(lower: tuple, upper: tuple, shape: tuple) -> None:
    """Refuse cells whose width is not a normal float or spans too few ulps of the coordinates."""
    for axis, (lo, hi, n) in enumerate(zip(lower, upper, shape)):
        h = (hi - lo) / n
        scale = max(abs(lo), abs(hi))
        if not SPACING_RANGE[0] <= h <= SPACING_RANGE[1] or h < MIN_SPACING_ULPS * np.spacing(scale):
            raise GridError(
                f"the cells of axis {axis} cannot be represented: spacing (upper - lower) / shape = "
                f"{h:.3g} on [{lo}, {hi}] with {n} cells; it must lie in [{SPACING_RANGE[0]:.3g}, "
                f"{SPACING_RANGE[1]:.3g}] (so h² is a normal float) and span at least "
                f"{MIN_SPACING_ULPS} ulps of the coordinates ({MIN_SPACING_ULPS * np.spacing(scale):.3g}); "
                "rescale the coordinates or change the number of cells"
            )


def _checked_boundary(boundary, ndim: int) -> tuple[str, ...]:
    """``boundary`` (a name, or one per axis) as a tuple of ``ndim`` known names."""
    if isinstance(boundary, str):
        boundary = (boundary,) * ndim
    elif isinstance(boundary, (tuple, list)):
        boundary = tuple(boundary)
    else:
        raise GridError(
            f"boundary must be a name or a sequence of names (one per axis) from "
            f"{', '.join(BOUNDARIES)}; got {boundary!r}"
        )
    if len(boundary) != ndim:
        raise GridError(
            f"boundary must be one name or one per axis ({ndim}); got {len(boundary)}: {boundary!r}"
        )
    for axis, name in enumerate(boundary):
        if not isinstance(name, str) or name not in BOUNDARIES:
            raise GridError(
                f"unknown boundary {name!r} on axis {axis}; expected one of {', '.join(BOUNDARIES)}"
            )
    return boundary


@dataclass(frozen=True)
class Grid:
    """A cell-centred grid on a box.

    Parameters
    ----------
    lower, upper : float or sequence of float
        Box corners, one entry per axis (a scalar means a 1-D grid).
    shape : int or sequence of int
        Number of cells per axis (at least 3).
    boundary : str or sequence of str
        ``"reflecting"`` (default), ``"periodic"`` or ``"absorbing"``, for all
        axes or one per axis.

    Attributes
    ----------
    ndim, size : int
        Number of axes; total number of cells.
    spacing, length : tuple of float
        Cell widths ``length / shape`` and box side lengths ``upper − lower``, per axis.
    cell_volume : float
        Volume (length, area) of one cell.
    axes : tuple of ndarray
        Cell-centre coordinates, one 1-D array per axis.

    Raises
    ------
    GridError
        For corners that are not finite real numbers or not ordered, fewer than 3 cells on an
        axis, more than 3 axes, or an unknown boundary (the message names the argument).

    See Also
    --------
    fpsolve.FokkerPlanck : A drift and a diffusion on a grid.

    Examples
    --------
    >>> import fpsolve as fp
    >>> grid = fp.Grid(lower=(-3, -3), upper=(3, 3), shape=(64, 64))
    >>> grid.ndim, grid.spacing
    (2, (0.09375, 0.09375))
    >>> grid.mesh().shape, float(grid.axes[0][0])  # cell centres, half a cell inside the wall
    ((2, 64, 64), -2.953125)
    >>> fp.Grid(0.0, 1.0, 10, boundary="periodic").periodic
    (True,)
    """

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    shape: tuple[int, ...]
    boundary: tuple[str, ...] | str = field(default="reflecting")

    def __post_init__(self) -> None:
        lower = _as_tuple(self.lower)
        upper = _as_tuple(self.upper)
        shape = _as_tuple(self.shape)
        ndim = len(lower)
        if not 1 <= ndim <= MAX_NDIM:
            raise GridError(f"lower must have 1 to {MAX_NDIM} entries; got {len(lower)}: {lower!r}")
        if len(upper) != ndim or len(shape) != ndim:
            raise GridError(
                f"lower, upper and shape must have one entry per axis; got lengths "
                f"{len(lower)}, {len(upper)}, {len(shape)}"
            )
        lower, upper = _checked_box(lower, upper, self.lower, self.upper)
        checked = _checked_shape(shape)
        _check_spacing(lower, upper, checked)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        object.__setattr__(self, "shape", checked)
        object.__setattr__(self, "boundary", _checked_boundary(self.boundary, ndim))

    # -- geometry ---------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Total number of cells."""
        return int(np.prod(self.shape))

    @property
    def length(self) -> tuple[float, ...]:
        """Box side lengths ``upper - lower``."""
        return tuple(hi - lo for lo, hi in zip(self.lower, self.upper))

    @property
    def spacing(self) -> tuple[float, ...]:
        """Cell widths per axis."""
        return tuple(ln / n for ln, n in zip(self.length, self.shape))

    @property
    def cell_volume(self) -> float:
        """Volume (length, area) of one cell."""
        return float(np.prod(self.spacing))

    @property
    def periodic(self) -> tuple[bool, ...]:
        """Per axis, whether it is periodic."""
        return tuple(b == "periodic" for b in self.boundary)

    @cached_property
    def axes(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates, one 1-D array per axis."""
        return tuple(
            lo + (np.arange(n) + 0.5) * h for lo, n, h in zip(self.lower, self.shape, self.spacing)
        )

    def mesh(self) -> np.ndarray:
        """Cell centres as an array of shape ``(ndim, *shape)``."""
        return np.stack(np.meshgrid(*self.axes, indexing="ij"))

    def coarsened(self) -> Grid:
        """The grid with every cell merged with its neighbours in pairs along each axis.

        Returns
        -------
        Grid
            Same box and boundaries, ``shape // 2`` cells.

        Raises
        ------
        GridError
            If an axis has an odd number of cells.
        """
        if any(n % 2 for n in self.shape):
            raise GridError(f"coarsening needs an even number of cells per axis; got shape {self.shape}")
        return Grid(self.lower, self.upper, tuple(n // 2 for n in self.shape), self.boundary)

    def refined(self, factor: int = 2) -> Grid:
        """The grid with ``factor`` times as many cells per axis.

        Parameters
        ----------
        factor : int
            Refinement factor per axis.

        Returns
        -------
        Grid
        """
        return Grid(self.lower, self.upper, tuple(n * factor for n in self.shape), self.boundary)

    def point(self, index: Sequence[int]) -> tuple[float, ...]:
        """Coordinates of the centre of the cell with multi-index ``index``."""
        return tuple(float(ax[i]) for ax, i in zip(self.axes, index))

    def wrap(self, x: np.ndarray) -> np.ndarray:
        """Map coordinates ``(ndim, ...)`` of periodic axes back into ``[lower, upper)``."""
        x = np.array(x, dtype=float, copy=True)
        for axis, per in enumerate(self.periodic):
            if per:
                lo, ln = self.lower[axis], self.length[axis]
                x[axis] = lo + np.mod(x[axis] - lo, ln)
        return x

    def __repr__(self) -> str:
        return (
            f"Grid(lower={self.lower}, upper={self.upper}, shape={self.shape}, "
            f"boundary={self.boundary})"
        )
