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


def _figure(ax, figsize: tuple[float, float]):
    """``(figure, axes)``: a new figure of ``figsize`` inches, or the one ``ax`` is drawn in."""
    if ax is None:
        return _pyplot().subplots(figsize=figsize)
    return ax.figure, ax


def _finish(fig, ax, xlabel: str, ylabel: str, title: str | None):
    """Label the axes, draw the legend and the optional title, lay the figure out; the figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    if title is not None:
        ax.set_title(title)
    fig.tight_layout()
    return fig


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
        From :func:`fpsolve.stationary`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made otherwise.
    current : bool
        Draw the current (streamlines whose width follows ``|J|``; in 1-D a dashed line on a
        second axis, when the current is not zero).
    axes : pair of int
        For 3-D states, the two axes kept (the third is integrated out; the current is
        not shown then).
    title : str, optional
        Axes title; default names the entropy production ``σ``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (that of ``ax`` when given).

    Raises
    ------
    InputTypeError
        If ``state`` is not a :class:`~fpsolve.StationaryState`.
    InputError
        If ``axes`` is not a pair of different axis numbers of the grid.

    See Also
    --------
    fpsolve.StationaryState.plot : The same figure, as a method.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid((-5.0, -5.0), (5.0, 5.0), (32, 32))
    >>> rotate = lambda x: np.array([-x[0] - x[1], x[0] - x[1]])  # a circulating drift
    >>> state = fp.stationary(fp.FokkerPlanck(grid, drift=rotate, diffusion=0.5))
    >>> fig = fp.plot.density(state, title="a non-equilibrium steady state")
    >>> fig.axes[0].get_title()
    'a non-equilibrium steady state'
    """
    from .solve.steady_state import StationaryState

    _check_type(state, StationaryState, "state")
    axes = _check_axes(axes, state.grid.ndim)
    fig, ax = _figure(ax, (6.4, 5.2))
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

    Parameters
    ----------
    run : Evolution
        From :func:`fpsolve.evolve`.
    reference : StationaryState or ndarray of ``grid.shape``, optional
        The bottom panel shows the total-variation distance to it (log scale); without it, the
        survival probability.
    n_snapshots : int
        Number of recorded times shown (evenly spread over the record, at most all of them).
    axes : pair of int
        The two axes of the maps in 2-D and above (the others are integrated out).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputTypeError
        If ``run`` is not an :class:`~fpsolve.Evolution`.
    InputError
        For a bad ``axes`` or ``n_snapshots``.

    See Also
    --------
    fpsolve.Evolution.plot : The same figure, as a method.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid(-6.0, 6.0, 96)
    >>> problem = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5)
    >>> p0 = lambda x: np.exp(-(x[0] - 1) ** 2) / np.sqrt(np.pi)
    >>> run = fp.evolve(problem, p0, [0.0, 0.5, 1.0, 2.0])
    >>> fig = fp.plot.evolution(run, reference=fp.stationary(problem), n_snapshots=3)
    >>> len(fig.axes)  # three snapshots and the relaxation curve
    4
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


# -- phase diagrams of fp.sweep datasets ------------------------------------------------------------

DECADES_FOR_LOG = 1.0  # a positive coordinate spanning at least this many decades gets a log axis


def _cell_edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Edges around each coordinate value (geometric midpoints on a log axis)."""
    v = np.log10(values) if log else values.astype(float)
    if v.size == 1:
        mid = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        inner = 0.5 * (v[1:] + v[:-1])
        mid = np.concatenate([[2 * v[0] - inner[0]], inner, [2 * v[-1] - inner[-1]]])
    return 10.0**mid if log else mid


def _wants_log(values: np.ndarray, name: str, log) -> bool:
    numeric = values.dtype.kind in "iuf"
    if log is None:
        return bool(numeric and np.all(values > 0) and values.size > 1
                    and np.log10(values.max() / values.min()) >= DECADES_FOR_LOG)
    want = log if isinstance(log, bool) else name in tuple(log)
    if want and not (numeric and np.all(values > 0)):
        raise ValueError(f"log axis for {name!r} needs positive numbers; got {values[:4]}")
    return want


def phase_diagram(ds, var: str, x: str | None = None, y: str | None = None, *, log=None, ax=None,
                  contours: int | None = 6, log_color: bool | None = None, cmap: str = "viridis",
                  title: str | None = None):
    """Heatmap of a variable of an :func:`fpsolve.sweep` dataset over two of its axes.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`fpsolve.sweep` (or ``xarray.open_zarr`` on its store).
    var : str
        A scalar variable of ``ds``.
    x, y : str, optional
        The coordinates on the horizontal and vertical axes; default the first two dimensions
        of ``var``.  Other dimensions must have length 1.
    log : None, bool or sequence of names
        Log axes: ``None`` puts one where a positive coordinate spans a decade or more; ``True``
        / ``False`` for both; or the names of the log axes.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made otherwise.
    contours : int or None
        Number of contour levels over the finite values (``None`` or 0: none).
    log_color : bool, optional
        Logarithmic colour scale; default where the finite values are positive and span
        ``2 * DECADES_FOR_LOG`` decades or more.
    cmap, title : str, optional
        Colour map name; axes title (default: the variable and the swept function).

    Returns
    -------
    matplotlib.figure.Figure
        Colour bar labelled with the variable's ``long_name`` (else its name) and ``units``;
        points whose ``status`` is failed (or whose value is NaN) are hatched.

    Raises
    ------
    ValueError
        If ``var`` is not a variable of ``ds``, ``x`` or ``y`` is not one of its dimensions (or
        they coincide), ``var`` has further dimensions longer than 1, or a log axis is asked
        for on values that are not positive.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> axes = {"learning_rate": list(np.geomspace(1e-4, 1e-2, 4)), "temperature": [0.5, 1.0]}
    >>> ds = fp.sweep(fp.diagrams.gaussian_mean, axes, executor="serial", progress=False)
    >>> fig = fp.plot.phase_diagram(ds, "sgld_variance_error")
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_xlabel()  # two decades: a log axis
    ('log', 'learning_rate')
    """
    da, x, y = _diagram_variable(ds, var, x, y)
    values = np.asarray(da.values, dtype=float)
    xs, ys = np.asarray(ds[x].values), np.asarray(ds[y].values)
    logx, logy = _wants_log(xs, x, log), _wants_log(ys, y, log)
    numeric_x, numeric_y = xs.dtype.kind in "iuf", ys.dtype.kind in "iuf"
    xc = xs.astype(float) if numeric_x else np.arange(xs.size, dtype=float)
    yc = ys.astype(float) if numeric_y else np.arange(ys.size, dtype=float)
    xe, ye = _cell_edges(xc, logx), _cell_edges(yc, logy)

    fig, ax = _figure(ax, (6.4, 5.0))
    finite = np.isfinite(values)
    positive = finite.any() and bool(np.all(values[finite] > 0))
    lo, hi = (np.nanmin(values), np.nanmax(values)) if finite.any() else (0.0, 0.0)
    if log_color is None:
        log_color = positive and hi > lo and np.log10(hi / lo) >= 2 * DECADES_FOR_LOG
    elif log_color and not positive:
        raise ValueError(f"log_color needs positive values of {var!r}; got a minimum of {lo:.3g}")
    from matplotlib.colors import LogNorm

    norm = LogNorm(lo, hi) if log_color else None
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(values), cmap=cmap, shading="flat", norm=norm)
    label = da.attrs.get("long_name", var)
    units = da.attrs.get("units")
    fig.colorbar(mesh, ax=ax, label=f"{label} [{units}]" if units else label)
    if contours and finite.sum() >= 4 and values.shape[0] > 1 and values.shape[1] > 1:
        if hi > lo:
            spaced = np.geomspace if log_color else np.linspace
            cs = ax.contour(xc, yc, np.ma.masked_invalid(values), levels=spaced(lo, hi, contours + 2)[1:-1],
                            colors="white", linewidths=0.7, norm=norm)
            ax.clabel(cs, fontsize=7, fmt="%.3g")
    _hatch_failed(ax, ds, x, y, ~finite, xe, ye)
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    if not numeric_x:
        ax.set_xticks(xc, [str(v) for v in xs])
    if not numeric_y:
        ax.set_yticks(yc, [str(v) for v in ys])
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title if title is not None else f"{label} ({ds.attrs.get('sweep_function', 'sweep')})",
                 fontsize=9)
    fig.tight_layout()
    return fig


def _diagram_variable(ds, var: str, x: str | None, y: str | None):
    """``ds[var]`` as a (y, x) array (other dimensions of length 1 dropped) and the two
    dimension names, defaulted and checked."""
    if var not in ds.data_vars:
        raise ValueError(f"var must be a variable of the dataset; got {var!r}, expected one of "
                         f"{[v for v in ds.data_vars if v not in ('error', 'status')]}")
    da = ds[var]
    dims = list(da.dims)
    x = dims[0] if x is None else x
    if y is None:
        rest = [d for d in dims if d != x]
        if not rest:
            raise ValueError(f"y must be given: {var!r} has the single dimension {dims}")
        y = rest[0]
    for name, label in ((x, "x"), (y, "y")):
        if name not in dims:
            raise ValueError(f"{label} must be a dimension of {var!r}; got {name!r}, expected one of {dims}")
    if x == y:
        raise ValueError(f"x and y must differ; got {x!r} twice")
    extra = {d: da.sizes[d] for d in dims if d not in (x, y) and da.sizes[d] != 1}
    if extra:
        raise ValueError(f"{var!r} has further dimensions {extra}: select one value of each first "
                         f"(ds.sel / ds.isel) or plot another variable")
    da = da.squeeze([d for d in dims if d not in (x, y)]).transpose(y, x)
    return da, x, y


def _hatch_failed(ax, ds, x: str, y: str, failed: np.ndarray, xe: np.ndarray, ye: np.ndarray) -> None:
    """Hatch the cells whose value is not finite or whose ``status`` is failed (2), with a legend."""
    if "status" in ds:
        st = ds["status"].squeeze([d for d in ds["status"].dims if d not in (x, y)]).transpose(y, x)
        failed |= np.asarray(st.values) == 2
    from matplotlib.patches import Rectangle

    for j, i in zip(*np.nonzero(failed)):
        ax.add_patch(Rectangle((xe[i], ye[j]), xe[i + 1] - xe[i], ye[j + 1] - ye[j], fill=False,
                               hatch="///", edgecolor="0.4", linewidth=0))
    if failed.any():
        ax.plot([], [], " ", label=f"hatched: failed ({int(failed.sum())})")
        ax.legend(loc="upper right", fontsize=7, frameon=True)


# -- stochastic thermodynamics (fpsolve.thermo) ----------------------------------------------
def entropy_histogram(ds, *, ax=None, bins: int = 80, title: str | None = None):
    """Histogram of trajectory entropy production ``Δs_tot`` with the Gaussian of the same mean.

    The Gaussian drawn is ``N(μ, 2μ)``: the one Gaussian with mean ``μ`` that obeys the
    detailed fluctuation theorem (``ln P(s)/P(−s) = s`` forces variance ``2μ``), so departures
    show non-Gaussian tails, not a broken theorem.

    Parameters
    ----------
    ds : EntropyProduction or array
        From :func:`fpsolve.thermo.entropy_production` (its ``values()``), or the samples of
        ``Δs_tot`` themselves; non-finite values are dropped.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made otherwise.
    bins : int
        Number of histogram bins.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> samples = np.random.default_rng(0).normal(1.0, np.sqrt(2.0), 5000)  # N(μ, 2μ), μ = 1
    >>> fig = fp.plot.entropy_histogram(samples, bins=40, title="Δs of N(1, 2)")
    >>> fig.axes[0].get_title()
    'Δs of N(1, 2)'
    """
    fig, ax = _figure(ax, (6.0, 4.2))
    values = ds.values() if hasattr(ds, "values") else np.asarray(ds, dtype=float).ravel()
    values = values[np.isfinite(values)]
    ax.hist(values, bins=bins, density=True, color="C0", alpha=0.6, label=r"$\Delta s_{tot}$")
    mu = float(values.mean())
    if mu > 0:
        s = np.linspace(values.min(), values.max(), 400)
        gauss = np.exp(-((s - mu) ** 2) / (4 * mu)) / np.sqrt(4 * np.pi * mu)
        ax.plot(s, gauss, color="C3", lw=1.5, label=rf"$N(\mu, 2\mu)$, $\mu$ = {mu:.3g}")
    return _finish(fig, ax, r"$\Delta s_{tot}$", "probability density", title)


def fluctuation_theorem(fit, *, ax=None, title: str | None = None):
    """The detailed fluctuation theorem: ``ln P(Δs)/P(−Δs)`` against ``Δs`` with the fitted line
    and the line of slope 1 for reference.

    Parameters
    ----------
    fit : DetailedFT
        From :func:`fpsolve.thermo.detailed_ft`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made otherwise.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> fit = fp.thermo.detailed_ft(np.random.default_rng(2).normal(1.0, np.sqrt(2.0), 40000))
    >>> fig = fp.plot.fluctuation_theorem(fit)
    >>> print(len(fig.axes), fig.axes[0].get_xlabel())
    1 $\\Delta s$
    """
    fig, ax = _figure(ax, (5.2, 4.4))
    ax.errorbar(fit.centres, fit.log_ratio, yerr=fit.log_ratio_error, fmt="o", ms=4, color="C0",
                label="binned samples")
    if len(fit.centres):
        s = np.linspace(0.0, float(fit.centres.max()) * 1.05, 50)
        ax.plot(s, s, color="k", lw=1, ls="--", label="slope 1")
        if np.isfinite(fit.slope):
            ax.plot(s, fit.slope * s + fit.intercept, color="C3", lw=1.5,
                    label=f"fit: slope {fit.slope:.3f} ± {fit.slope_error:.3f}")
    return _finish(fig, ax, r"$\Delta s$", r"$\ln P(\Delta s) / P(-\Delta s)$", title)


def relaxation(r, *, title: str | None = None):
    """Entropy balance of a relaxation (:func:`fpsolve.thermo.relaxation`) against time.

    Left: total entropy production rate with its housekeeping and excess parts and the entropy
    flow to the medium.  Right: ``KL(p_t ‖ p_ss)`` on a log scale.

    Parameters
    ----------
    r : Relaxation
        From :func:`fpsolve.thermo.relaxation`.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> grid = fp.Grid(-5.0, 5.0, 64)
    >>> problem = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5)
    >>> p0 = lambda x: np.exp(-(x[0] - 1) ** 2) / np.sqrt(np.pi)
    >>> r = fp.thermo.relaxation(fp.evolve(problem, p0, [0.0, 0.5, 1.0, 2.0]),
    ...                          fp.stationary(problem, order=2))
    >>> fig = fp.plot.relaxation(r, title="relaxation of an Ornstein--Uhlenbeck density")
    >>> len(fig.axes)
    2
    """
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 4.0))
    t = r.times
    left.plot(t, r.total, color="k", lw=1.8, label=r"$\Sigma_{tot}$")
    left.plot(t, r.housekeeping, color="C0", label=r"housekeeping $\Sigma_{hk}$")
    left.plot(t, r.excess, color="C1", label=r"excess $\Sigma_{ex} = -dKL/dt$")
    left.plot(t, r.heat, color="C2", ls="--", label=r"medium $\dot Q$")
    left.set_xlabel("time (SDE units)")
    left.set_ylabel("rate")
    left.legend()
    right.semilogy(t, np.maximum(r.kl, 1e-300), "o-", ms=3, color="C1")
    right.set_xlabel("time (SDE units)")
    right.set_ylabel(r"KL$(p_t \,\|\, p_{ss})$")
    if title is not None:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
