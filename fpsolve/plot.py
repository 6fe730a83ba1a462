"""Figures.  matplotlib is imported inside each function: computing never needs a display."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError, InputTypeError

if TYPE_CHECKING:  # pragma: no cover
    from .solve.steady_state import StationaryState


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _check_type(value, cls: type, name: str) -> None:
    if not isinstance(value, cls):
        raise InputTypeError(f"{name} must be an fpsolve.{cls.__name__}; got {type(value).__name__}")


def _check_axes(axes, ndim: int) -> tuple[int, int]:
    if (np.ndim(axes) != 1 or len(axes) != 2 or not all(isinstance(a, (int, np.integer)) for a in axes)
            or len(set(axes)) != 2 or not all(0 <= a < max(ndim, 2) for a in axes)):
        raise InputError(f"axes must be two different axis numbers in [0, {max(ndim, 2) - 1}]; got {axes!r}")
    return int(axes[0]), int(axes[1])


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def density(state: StationaryState, *, ax=None, current: bool = True, axes: tuple[int, int] = (0, 1),
            title: str | None = None):
    """Plot a stationary density; in 2-D and 3-D with streamlines of the probability current.

    Parameters
    ----------
    state : StationaryState
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made otherwise.
    current : bool
        Draw the current (streamlines whose width follows ``|J|``).
    axes : pair of int
        For 3-D states, the two axes kept (the third is integrated out; the current is
        not shown then).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .solve.steady_state import StationaryState

    _check_type(state, StationaryState, "state")
    axes = _check_axes(axes, state.grid.ndim)
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 5.2))
    else:
        fig = ax.figure
    grid = state.grid
    if grid.ndim == 1:
        x = grid.axes[0]
        ax.plot(x, state.density, color="C0", label="density")
        ax.set_xlabel("$w$")
        ax.set_ylabel("$p(w)$")
        if current and np.abs(state.current).max() > 0:
            ax2 = ax.twinx()
            ax2.plot(x, state.current[0], color="C3", lw=1, ls="--")
            ax2.set_ylabel("current $J$", color="C3")
    else:
        i, j = axes
        if grid.ndim == 2:
            p2 = state.density if (i, j) == (0, 1) else state.density.T
            J2 = state.current[[i, j]] if (i, j) == (0, 1) else np.swapaxes(state.current[[i, j]], 1, 2)
        else:
            p2 = state.marginal((i, j))
            J2 = None
        xi, xj = grid.axes[i], grid.axes[j]
        mesh = ax.pcolormesh(xi, xj, p2.T, shading="auto", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label="density $p$")
        if current and J2 is not None:
            speed = np.hypot(J2[0], J2[1])
            if speed.max() > 0:
                ax.streamplot(xi, xj, J2[0].T, J2[1].T, color="white", density=1.2,
                              linewidth=0.4 + 2.0 * (speed / speed.max()).T, arrowsize=0.9)
        ax.set_xlabel(f"$w_{i + 1}$")
        ax.set_ylabel(f"$w_{j + 1}$")
        ax.set_xlim(xi[0], xi[-1])
        ax.set_ylim(xj[0], xj[-1])
    ax.set_title(title if title is not None else
                 f"stationary density, entropy production σ = {state.entropy_production:.4g}")
    fig.tight_layout()
    return fig


def evolution(run, *, reference=None, n_snapshots: int = 4, axes: tuple[int, int] = (0, 1)):
    """Snapshots of an :class:`~fpsolve.solve.evolve.Evolution` and its relaxation curve.

    The top row shows the density at ``n_snapshots`` recorded times (lines in 1-D, maps of
    the two ``axes`` otherwise, other axes integrated out); the bottom panel the
    total-variation distance to ``reference`` (a stationary state or density) when given,
    else the survival probability, against time on a log scale.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .solve.evolve import Evolution

    _check_type(run, Evolution, "run")
    axes = _check_axes(axes, run.grid.ndim)
    if isinstance(n_snapshots, bool) or not isinstance(n_snapshots, (int, np.integer)) or n_snapshots < 1:
        raise InputError(f"n_snapshots must be a positive integer; got {n_snapshots!r}")
    plt = _pyplot()
    grid = run.grid
    picks = np.unique(np.linspace(0, len(run.times) - 1, min(n_snapshots, len(run.times))).astype(int))
    fig = plt.figure(figsize=(3.0 * len(picks), 6.0))
    top = [fig.add_subplot(2, len(picks), k + 1) for k in range(len(picks))]
    for ax, k in zip(top, picks):
        p = run.densities[k]
        if grid.ndim == 1:
            ax.plot(grid.axes[0], p)
            ax.set_xlabel("$w$")
        else:
            i, j = axes
            drop = tuple(a for a in range(grid.ndim) if a not in (i, j))
            p2 = p.sum(axis=drop) * float(np.prod([grid.spacing[a] for a in drop])) if drop else p
            if i > j:
                p2 = p2.T
            ax.pcolormesh(grid.axes[i], grid.axes[j], p2.T, shading="auto", cmap="viridis")
            ax.set_xlabel(f"$w_{i + 1}$")
            ax.set_ylabel(f"$w_{j + 1}$")
        ax.set_title(f"t = {run.times[k]:.3g}")
    bottom = fig.add_subplot(2, 1, 2)
    if reference is not None:
        bottom.semilogy(run.times, np.maximum(run.total_variation(reference), 1e-300), "o-", ms=3)
        bottom.set_ylabel("TV distance to reference")
    else:
        bottom.plot(run.times, run.survival, "o-", ms=3)
        bottom.set_ylabel("survival probability")
    bottom.set_xlabel("time (SDE units)")
    fig.tight_layout()
    return fig
