"""Phase-diagram functions for the learning problems: one point of a sweep each.

Each function takes the swept parameters as keyword arguments and returns the dict of
scalars that :func:`fpsolve.sweep` stores; each carries a ``variables`` attribute (long names
and units for the figures).

``gaussian_mean``  (learning_rate, temperature) on the Gaussian-mean posterior: stationary
    variance errors and KL of SGLD, SGWORLD and full-batch Langevin from the exact discrete
    formulas (``docs/theory.md`` §2).  Closed form, microseconds per point; ``simulate=``
    epochs adds real SGLD / SGWORLD chains as a check (about 0.2 s per 10⁴ epochs, idle).
``tanhnet_slice``  (learning_rate, batch_size) on a 2-D slice of the 7-parameter ``TanhNet``
    fitted to the Adhikari et al. (2023) data, through its minimum (the other five parameters
    held there): grid and linearised entropy production, TV distances between schemes and
    from the linearised Gaussian, and the shift of the without-replacement mean.  Two grid
    solves per point (``cells`` per axis).

Why a ``TanhNet`` slice: the one-unit ``TanhUnit`` is odd in ``x`` while the paper's targets
are even, so its best fit is nearly flat (two shallow minima, a loss barrier of 0.7 in 2149);
the slice of the network that fits the data keeps the paper's curvature and noise.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

from .landscape.datasets import load_adhikari2023
from .landscape.landscape import Landscape
from .landscape.models import CustomModel, GaussianMean, TanhNet
from .landscape.schemes import SGD
from .solve.grid import Grid
from .solve.gaussian import linearized
from .solve.steady_state import stationary

GAUSSIAN_MEAN_TRUE = 1.0  # θ of the synthetic data (any value: the variances do not depend on it)


def _positive(value, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (np.isfinite(value) and value > 0)
    ):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return float(value)


def _gaussian_kl_ratio(r: float) -> float:
    """``KL(N(μ, r V) ‖ N(μ, V)) = ½ (r − 1 − ln r)`` for a variance ratio ``r``."""
    return 0.5 * (r - 1.0 - np.log(r))


def sgworld_variance(
    learning_rate: float,
    hessian: float,
    batch_variance: float,
    n_batches: int,
    temperature: float = 1.0,
) -> float:
    """Exact step-averaged stationary variance of SGWORLD on a quadratic loss.

    The recursion ``δ' = a δ − η ε_m + sqrt(2ηT) ξ`` with ``a = 1 − ηH`` and, within one
    epoch of ``M`` batches, exchangeable batch noises ``ε_m`` of variance ``Σ_B`` summing to
    zero (so ``Cov(ε_m, ε_m') = −Σ_B / (M − 1)``), independent between epochs.  After ``j``
    steps from the epoch start ``V_j = a^{2j} V_0 + c₂ S₂(j) − c₁ S₁(j)²`` with
    ``S₁(j) = Σ_{i<j} aⁱ``, ``S₂(j) = Σ_{i<j} a²ⁱ``, ``c₁ = η² Σ_B / (M − 1)``,
    ``c₂ = M c₁ + 2ηT``; periodicity ``V_M = V_0`` fixes ``V_0``.  Returns the mean of
    ``V_j`` over ``j = 1..M``.

    Parameters
    ----------
    learning_rate : float
        η (stable for ``0 < ηH < 2``).
    hessian : float
        ``H``, the curvature of the quadratic loss.
    batch_variance : float
        ``Σ_B``, the variance of one batch's gradient noise.
    n_batches : int
        ``M``, batches per epoch.
    temperature : float
        ``T`` of the Langevin noise.

    Returns
    -------
    float
        The step-averaged stationary variance of ``δ``.

    See Also
    --------
    fpsolve.diagrams.gaussian_mean : Uses it.

    Examples
    --------
    Without minibatch noise SGWORLD is full-batch Langevin, ``V = 2ηT / (2ηH − η²H²)``:

    >>> import fpsolve as fp
    >>> v = fp.diagrams.sgworld_variance(1e-3, hessian=100.0, batch_variance=0.0, n_batches=10)
    >>> round(v, 10), round(2e-3 / (0.2 - 0.01), 10)
    (0.0105263158, 0.0105263158)
    >>> fp.diagrams.sgworld_variance(1e-3, 100.0, batch_variance=50.0, n_batches=10) > v
    True
    """
    eta, H, T, M = float(learning_rate), float(hessian), float(temperature), int(n_batches)
    a = 1.0 - eta * H
    j = np.arange(M + 1)
    s1 = np.concatenate([[0.0], np.cumsum(a ** j[:-1])])
    s2 = np.concatenate([[0.0], np.cumsum(a ** (2 * j[:-1]))])
    c1 = eta**2 * batch_variance / (M - 1) if M > 1 else 0.0
    c2 = M * c1 + 2 * eta * T if M > 1 else 2 * eta * T
    added = c2 * s2 - c1 * s1**2
    v0 = added[M] / (1.0 - a ** (2 * M))
    return float(np.mean(a ** (2 * j[1:]) * v0 + added[1:]))


@functools.lru_cache(maxsize=8)
def _gaussian_mean_landscape(
    n_samples: int, noise_std: float, prior_std: float, seed: int
) -> Landscape:
    y = np.random.default_rng(seed).normal(GAUSSIAN_MEAN_TRUE, noise_std, n_samples)
    return Landscape(GaussianMean(noise_std=noise_std, prior_std=prior_std), None, y)


def gaussian_mean(
    learning_rate: float,
    temperature: float = 1.0,
    *,
    batch_size: int = 10,
    n_samples: int = 100,
    noise_std: float = 1.0,
    prior_std: float = 10.0,
    seed: int = 0,
    simulate: int = 0,
) -> dict[str, float]:
    """SGLD and SGWORLD against the exact tempered posterior of a Gaussian mean (exact discrete formulas).

    Data ``y_i ~ N(1, noise_std²)``, ``i = 1..n_samples`` (drawn with ``seed``), prior
    ``N(0, prior_std²)``; ``L`` the negative log posterior with Hessian ``H = N/s² + 1/s₀²`` and
    per-sample gradient covariance ``Σ₁``, both independent of θ.  The target at temperature
    ``T`` is ``N(θ*, T/H)``.  With ``a = 1 − ηH`` (stable for ``0 < ηH < 2``) and
    ``Σ_B = k Σ₁``, ``k = (N − b)/(b (N − 1))``, the stationary variances are

    - full-batch Langevin ``V = 2ηT / (2ηH − η²H²)``;
    - SGLD (batches with replacement) ``V = (2ηT + η² Σ_B) / (2ηH − η²H²)``;
    - SGWORLD (without replacement), averaged over the steps of an epoch:
      :func:`sgworld_variance` (leading order ``ηH/2 + η² Σ_B H (M + 1)/6`` in relative error).

    The stationary means are exact (the drift is linear and the noises have mean zero).

    Parameters
    ----------
    learning_rate : float
        η > 0, with ``ηH < 2``.
    temperature : float
        ``T > 0`` of the Langevin noise (the target is ``N(θ*, T/H)``).
    batch_size : int
        ``b``, dividing ``n_samples``.
    n_samples : int
        ``N``, the number of data points.
    noise_std, prior_std : float
        ``s`` and ``s₀``.
    seed : int
        Seed of the synthetic data (and, with ``simulate``, of the chains).
    simulate : int
        Epochs of real SGLD and SGWORLD per chain (``fp.simulate.sgd``, ``SIM_CHAINS``
        chains from ``θ*``, after a burn-in of whole epochs covering ``SIM_BURN_IN``
        relaxation times ``1/(ηH)``) to check the formulas; 0 (default): no simulation.

    Returns
    -------
    dict
        ``*_variance_error`` ``V H / T − 1``, and ``*_kl`` the KL divergence from the exact
        posterior of the Gaussian with the chain's mean and variance, ``½ (r − 1 − ln r)``
        with ``r = V H / T``.  The minibatch noise is not Gaussian, so this moment-matched KL
        is a lower bound of the chain's KL (exact for full-batch Langevin); ``eta_hessian``
        is ``ηH``.  With ``simulate > 0`` also ``sgld_variance_error_sim`` and
        ``sgworld_variance_error_sim``, the same error from the chains' variance over every
        step after burn-in, and ``*_sim_se`` their standard errors (the spread of the
        chains' own estimates over ``sqrt(SIM_CHAINS)``).

    Raises
    ------
    ValueError
        For a learning rate or temperature that is not positive and finite, a batch size that
        does not divide ``n_samples``, or ``ηH`` outside ``(0, 2)``.

    See Also
    --------
    fpsolve.sweep : Runs it over a grid of parameters.
    fpsolve.plot.phase_diagram : Draws the result.

    Examples
    --------
    >>> import fpsolve as fp
    >>> out = fp.diagrams.gaussian_mean(learning_rate=1e-3, temperature=1.0)
    >>> round(out["full_batch_variance_error"], 6)  # ηH / (2 − ηH) with H = 100.01
    0.052637
    """
    eta = _positive(learning_rate, "learning_rate")
    T = _positive(temperature, "temperature")
    b = batch_size
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 1 <= b <= n_samples:
        raise ValueError(f"batch_size must be an integer in 1..n_samples={n_samples}; got {b!r}")
    if n_samples % b:
        raise ValueError(
            f"batch_size={b} must divide n_samples={n_samples} (SGWORLD epochs of full "
            f"batches); choose a divisor"
        )
    if isinstance(simulate, bool) or not isinstance(simulate, (int, np.integer)) or simulate < 0:
        raise ValueError(f"simulate must be a non-negative integer (epochs); got {simulate!r}")
    land = _gaussian_mean_landscape(int(n_samples), float(noise_std), float(prior_std), int(seed))
    H = float(land.hessian([0.0])[0, 0])
    sigma1 = float(land.gradient_covariance([0.0])[0, 0])
    k = (n_samples - b) / (b * (n_samples - 1)) if n_samples > 1 else 0.0
    sigma_b = k * sigma1
    if not 0 < eta * H < 2:
        raise ValueError(
            f"learning_rate={eta:.6g} gives ηH = {eta * H:.6g}; the chains are stable only for "
            f"0 < ηH < 2, i.e. learning_rate < {2 / H:.6g}"
        )
    denom = 2 * eta * H - (eta * H) ** 2
    exact = T / H
    v = {
        "full_batch": 2 * eta * T / denom,
        "sgld": (2 * eta * T + eta**2 * sigma_b) / denom,
        "sgworld": sgworld_variance(eta, H, sigma_b, n_samples // b, T),
    }
    out: dict[str, float] = {}
    for name, var in v.items():
        r = var / exact
        out[f"{name}_variance_error"] = r - 1.0
        out[f"{name}_kl"] = _gaussian_kl_ratio(r)
    out["eta_hessian"] = eta * H
    if simulate:
        out.update(_simulated_errors(land, eta, T, b, H, int(simulate), int(seed)))
    return out


SIM_CHAINS = 8  # independent chains of gaussian_mean(simulate=...): the standard error's sample
SIM_BURN_IN = 10  # relaxation times 1/(ηH) discarded: the variance, started at 0, is then e^-20 off


def _simulated_errors(land, eta: float, T: float, b: int, H: float, epochs: int, seed: int):
    """``V H / T − 1`` of real SGLD / SGWORLD chains started at ``θ*``, with standard errors
    (``H`` the constant Hessian of the landscape's loss)."""
    from .simulate.sgd import sgd as run_sgd

    M = land.n_samples // b
    exact = T / H
    theta = land.minimize(np.zeros(1))
    burn = M * math.ceil(SIM_BURN_IN / (eta * H) / M)
    out = {}
    for name, scheme in (("sgld", "with_replacement"), ("sgworld", "without_replacement")):
        run = run_sgd(
            land,
            SGD(eta, b, scheme=scheme, temperature=T),
            np.tile(theta, (SIM_CHAINS, 1)),
            n_steps=burn + epochs * M,
            record_every=None,
            burn_in=burn,
            rng=seed,
            progress=False,
        )
        per_chain = run.chain_m2[:, 0, 0] / run.count / exact - 1.0
        out[f"{name}_variance_error_sim"] = float(run.covariance()[0, 0] / exact - 1.0)
        out[f"{name}_variance_error_sim_se"] = float(per_chain.std(ddof=1) / np.sqrt(SIM_CHAINS))
    return out


gaussian_mean.variables = {  # type: ignore[attr-defined]
    **{
        f"{n}_variance_error": {
            "long_name": f"{label} relative variance error V H / T − 1",
            "units": "1",
        }
        for n, label in (
            ("full_batch", "full-batch Langevin"),
            ("sgld", "SGLD"),
            ("sgworld", "SGWORLD"),
        )
    },
    **{
        f"{n}_kl": {"long_name": f"{label} KL to the posterior (moment-matched)", "units": "nat"}
        for n, label in (
            ("full_batch", "full-batch Langevin"),
            ("sgld", "SGLD"),
            ("sgworld", "SGWORLD"),
        )
    },
    "eta_hessian": {"long_name": "η H", "units": "1"},
}


# -- the TanhNet slice --------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _tanhnet(noise_std: float, weight_decay: float) -> tuple[Landscape, np.ndarray]:
    x, y, w_min = load_adhikari2023()
    land = Landscape(TanhNet(hidden=2), x, y, noise_std=noise_std, weight_decay=weight_decay)
    return land, w_min


def _cell_probabilities(density: np.ndarray, grid: Grid) -> np.ndarray:
    p = np.clip(density, 0.0, None) * grid.cell_volume
    return p / p.sum()


def _tv_between(p: np.ndarray, grid_p: Grid, q: np.ndarray, grid_q: Grid) -> float:
    """``½ ∫ |p − q|`` for densities on two 2-D grids, integrated on the finer one.

    The coarser density is interpolated linearly to the finer grid's cell centres (zero outside
    its own cell centres); ``TV = 1 − ∫ min(p, q)`` then needs only the region where the finer
    (narrower) density lives.
    """
    from scipy.interpolate import RegularGridInterpolator

    if grid_q.cell_volume < grid_p.cell_volume:
        p, grid_p, q, grid_q = q, grid_q, p, grid_p
    interp = RegularGridInterpolator(grid_q.axes, q, bounds_error=False, fill_value=0.0)
    pts = np.moveaxis(grid_p.mesh(), 0, -1)
    q_on_p = np.clip(interp(pts), 0.0, None)
    overlap = float(np.minimum(np.clip(p, 0.0, None), q_on_p).sum() * grid_p.cell_volume)
    return float(np.clip(1.0 - overlap, 0.0, 1.0))


def _without_replacement_state(
    wor: SGD, land: Landscape, w_min: np.ndarray, wor_full, axes, n_std: float, cells: int
):
    """Grid and stationary state of without-replacement SGD on the slice, in two passes.

    The linearised state locates the minimum of the 7-parameter ``L_WOR``; on the slice (five
    parameters held at ``w_min``) the minimum lies elsewhere, by several of its own (O(η^1.5))
    standard deviations.  Pass 1 covers both points with the linearised width; pass 2 is
    centred on pass 1's mean with ``± n_std`` of its standard deviations.
    """
    import warnings

    from .errors import BoundaryMassWarning

    centre, proj = w_min[list(axes)], wor_full.mean[list(axes)]
    g = wor.grid_around(land, w_min, axes=axes, n_std=n_std, shape=cells)
    half = 0.5 * (np.array(g.upper) - np.array(g.lower)) + np.abs(proj - centre)
    first = Grid(tuple(centre - half), tuple(centre + half), (cells, cells))
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", BoundaryMassWarning
        )  # pass 1 only finds the centre and width
        s1 = stationary(wor.fokker_planck(land, first, axes=axes, reference=w_min))
    mean, std = s1.mean(), np.sqrt(np.diag(s1.covariance()))
    std = np.maximum(std, 2.0 * np.array(first.spacing))  # unresolved in pass 1: at least two cells
    lo, hi = mean - n_std * std, mean + n_std * std
    lo, hi = (
        np.minimum(lo, centre),
        np.maximum(hi, centre),
    )  # the slice's reference point stays inside
    second = Grid(tuple(lo), tuple(hi), (cells, cells))
    return second, stationary(wor.fokker_planck(land, second, axes=axes, reference=w_min))


def tanhnet_slice(
    learning_rate: float,
    batch_size: int,
    *,
    axes: tuple[int, int] | list[int] = (4, 5),
    cells: int = 64,
    n_std: float = 8.0,
    grid: bool = True,
    without_replacement: bool = True,
    noise_std: float = 0.1,
    weight_decay: float = 1e-3,
) -> dict[str, float]:
    """SGD on a 2-D slice of the paper's ``TanhNet`` at one (learning rate, batch size).

    The landscape is ``fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std, weight_decay)``
    on ``fp.datasets.load_adhikari2023()``; parameters ``axes`` (0-based; default ``(4, 5)``, the
    output weights ``w5, w6``) are free and the other five are held at the minimum ``w_min``.
    Without-replacement fields use the leading-order epoch noise; their grid is found in two
    passes (three grid solves per point in all).

    Parameters
    ----------
    learning_rate, batch_size
        η and b (b must divide N = 200 for the without-replacement quantities).
    axes : pair of int
        The two free parameters (0-based).
    cells : int
        Cells per axis of each grid (even, >= 16); each grid spans ``± n_std`` standard
        deviations of its scheme's linearised state.
    n_std : float
        Half-width of the grids in standard deviations.  The default 8 matters: with walls at
        ± 6 the reflecting box biases this nearly-equilibrium σ by +35 % (0.0264 against the
        exact 0.0195 of the linear problem on 32² cells), at ± 8 by 0.1 %.
    grid : bool
        ``False``: only the linearised quantities (the grid ones are NaN); no grid solve.
    without_replacement : bool
        ``False``: skip the without-replacement quantities (``tv_schemes``, ``mean_shift_grid``
        and ``mean_shift_linearized`` are NaN; any b in 1..N then works): one grid solve per point.
    noise_std, weight_decay : float
        Of the landscape (the paper's 0.1 and 1e-3).

    Returns
    -------
    dict
        ``sigma_linearized``  entropy production of the linearised with-replacement state on the
        slice (``H`` and ``D`` restricted to ``axes``; independent of η and b, since ``C`` and ``Q``
        both scale with ``D ∝ η k``);
        ``sigma_grid``  the same from the grid solve;
        ``std_linearized``  ``sqrt(det C)^{1/2}``, the geometric-mean standard deviation;
        ``non_gaussianity``  TV between the grid density and the linearised Gaussian (cell
        probabilities on the same grid);
        ``tv_schemes``  TV between the with- and without-replacement grid densities;
        ``mean_shift_grid``  distance on the slice from ``w_min`` to the mean of the
        without-replacement grid density;
        ``mean_shift_linearized``  the same for the minimum of the 7-parameter ``L_WOR``
        projected on the slice.

    Raises
    ------
    ValueError
        For a learning rate that is not positive and finite, ``axes`` that are not two
        parameters, or ``cells`` that is not an even integer >= 16.
    StabilityError
        When SGD with this learning rate is unstable at the minimum (``η λmax >= 2``).

    See Also
    --------
    fpsolve.sweep : Runs it over a grid of parameters.

    Examples
    --------
    The linearised entropy production of the slice does not depend on η and b (the grid
    quantities are NaN with ``grid=False``):

    >>> import numpy as np, fpsolve as fp
    >>> out = fp.diagrams.tanhnet_slice(1e-8, 10, grid=False)
    >>> round(out["sigma_linearized"], 4), bool(np.isnan(out["sigma_grid"]))
    (0.0195, True)
    >>> out2 = fp.diagrams.tanhnet_slice(1e-7, 40, grid=False)
    >>> bool(np.isclose(out2["sigma_linearized"], out["sigma_linearized"], rtol=1e-9))
    True
    """
    eta = _positive(learning_rate, "learning_rate")
    axes = tuple(int(a) for a in axes)
    if len(axes) != 2:
        raise ValueError(f"axes must name two parameters; got {axes}")
    if (
        isinstance(cells, bool)
        or not isinstance(cells, (int, np.integer))
        or cells < 16
        or cells % 2
    ):
        raise ValueError(f"cells must be an even integer >= 16; got {cells!r}")
    land, w_min = _tanhnet(float(noise_std), float(weight_decay))
    ix = np.ix_(axes, axes)
    wr = SGD(eta, batch_size)
    wor = SGD(eta, batch_size, scheme="without_replacement", epoch_noise="leading_order")
    f = wr.fields(land, w_min)
    H = land.hessian(w_min)[ix]
    gauss = linearized(
        0.5 * (H + H.T), f.diffusion[0][ix], mean=w_min[list(axes)], learning_rate=eta
    )
    out = {
        "sigma_linearized": float(gauss.entropy_production),
        "std_linearized": float(np.linalg.det(gauss.covariance) ** 0.25),
        "mean_shift_linearized": np.nan,
        "sigma_grid": np.nan,
        "non_gaussianity": np.nan,
        "tv_schemes": np.nan,
        "mean_shift_grid": np.nan,
    }
    if without_replacement:
        wor_full = wor.linearized(land, w_min)
        out["mean_shift_linearized"] = float(
            np.linalg.norm(wor_full.mean[list(axes)] - w_min[list(axes)])
        )
    if not grid:
        return out
    g_wr = gauss.grid(n_std=n_std, shape=cells)
    s_wr = stationary(wr.fokker_planck(land, g_wr, axes=axes, reference=w_min))
    p_gauss = _cell_probabilities(gauss.density(g_wr.mesh()), g_wr)
    out["sigma_grid"] = float(s_wr.entropy_production)
    out["non_gaussianity"] = float(
        0.5 * np.abs(_cell_probabilities(s_wr.density, g_wr) - p_gauss).sum()
    )
    if not without_replacement:
        return out
    g_wor, s_wor = _without_replacement_state(wor, land, w_min, wor_full, axes, n_std, cells)
    out["tv_schemes"] = _tv_between(s_wr.density, g_wr, s_wor.density, g_wor)
    out["mean_shift_grid"] = float(np.linalg.norm(s_wor.mean() - w_min[list(axes)]))
    return out


tanhnet_slice.variables = {  # type: ignore[attr-defined]
    "sigma_linearized": {"long_name": "entropy production σ (linearised)", "units": "1/SDE time"},
    "sigma_grid": {"long_name": "entropy production σ (grid)", "units": "1/SDE time"},
    "std_linearized": {
        "long_name": "standard deviation (geometric mean, linearised)",
        "units": "weight",
    },
    "non_gaussianity": {"long_name": "TV(grid density, linearised Gaussian)", "units": "1"},
    "tv_schemes": {"long_name": "TV(with, without replacement)", "units": "1"},
    "mean_shift_grid": {
        "long_name": "|mean without replacement − w_min| (grid)",
        "units": "weight",
    },
    "mean_shift_linearized": {
        "long_name": "|argmin L_WOR − w_min| (linearised)",
        "units": "weight",
    },
}

BUILTINS = {"gaussian_mean": gaussian_mean, "tanhnet_slice": tanhnet_slice}

@numba.njit(cache=True)
def _input_weight_slice(w, x, params, grad, hess, order):  # pragma: no cover - compiled
    """``f = v1 tanh(a1 x + c1) + v2 tanh(a2 x + c2) + b`` with ``(a1, a2) = w`` free and
    ``(c1, c2, v1, v2, b) = params``: the paper's network on the (w1, w2) slice."""
    t1 = np.tanh(w[0] * x[0] + params[0])
    t2 = np.tanh(w[1] * x[0] + params[1])
    if order >= 1:
        s1 = 1.0 - t1 * t1
        s2 = 1.0 - t2 * t2
        grad[0] = params[2] * s1 * x[0]
        grad[1] = params[3] * s2 * x[0]
        if order >= 2:
            hess[0, 0] = -2.0 * params[2] * t1 * s1 * x[0] * x[0]
            hess[1, 1] = -2.0 * params[3] * t2 * s2 * x[0] * x[0]
            hess[0, 1] = 0.0
            hess[1, 0] = 0.0
    return params[2] * t1 + params[3] * t2 + params[4]


def tanhnet_input_slice(noise_std: float = 0.1, weight_decay: float = 1e-3) -> tuple[Landscape, np.ndarray, np.ndarray]:
    """The paper's ``TanhNet(hidden=2)`` on its input-weight slice ``(w1, w2)`` as a landscape of its own.

    The other five parameters are held at the network's minimum ``w*``; the model is a
    :class:`~fpsolve.models.CustomModel` of the two input weights, so real SGD on it
    (``fp.simulate.sgd``) moves only them, and its fields are the slice's (the same as
    ``SGD.fokker_planck(full, grid, axes=(0, 1), reference=w*)``).  The kernel compiles once
    per process (a user-model kernel).

    Parameters
    ----------
    noise_std : float
        Observation noise σ of the Gaussian likelihood (as for :class:`~fpsolve.Landscape`).
    weight_decay : float
        λ, the weight decay (as for :class:`~fpsolve.Landscape`).

    Returns
    -------
    (Landscape, ndarray (2,), ndarray (7,))
        The slice landscape, its minimum ``w*[:2]`` and the full minimum ``w*``.
    """
    x, y, w_min = load_adhikari2023()
    full = Landscape(TanhNet(hidden=2), x, y, noise_std=noise_std, weight_decay=weight_decay)
    w_star = full.minimize(w_min)
    model = CustomModel(_input_weight_slice, n_params=2, input_dim=1, constants=w_star[2:], names=("w1", "w2"))
    return Landscape(model, x, y, noise_std=noise_std, weight_decay=weight_decay), w_star[:2].copy(), w_star


__all__ = ["gaussian_mean", "tanhnet_slice", "tanhnet_input_slice", "sgworld_variance", "BUILTINS"]
