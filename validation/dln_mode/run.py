"""Run: depth-1 closed form vs grid vs Langevin; real SGD vs grid at depth 1-3; σ_ε = 0; evolution."""

from __future__ import annotations

import numpy as np

import fpsolve as fp

from .settings import Settings


def closed_form(u: np.ndarray, s: Settings) -> np.ndarray:
    """Depth-1 stationary density (unnormalised), docs/theory.md §5."""
    return (s.sde_label_noise**2 + 2 * u**2) ** (-(1 + s.sde_batch_size / (2 * s.sde_learning_rate)))


def depth1_problem(s: Settings) -> fp.FokkerPlanck:
    c = s.sde_learning_rate / (2 * s.sde_batch_size)
    sig2 = s.sde_label_noise**2
    grid = fp.Grid(-s.sde_half_width, s.sde_half_width, s.sde_cells)
    return fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=lambda x: (c * (2 * x**2 + sig2))[None])


def data(s: Settings, label_noise: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(s.seed)
    x = rng.normal(size=s.n_data)
    x /= np.sqrt(np.mean(x**2))                      # whitened: mean x² = 1 exactly
    eps = rng.normal(size=s.n_data)
    eps -= x * np.mean(x * eps)                      # uncorrelated with x exactly
    eps /= np.sqrt(np.mean(eps**2))
    return x, s.teacher * x + label_noise * eps


def landscape(depth: int, s: Settings, label_noise: float) -> fp.Landscape:
    x, y = data(s, label_noise)
    # loss ½ (y − s x)² per sample: noise_std = sqrt(N) (see fp.models.DeepLinearMode)
    return fp.Landscape(fp.models.DeepLinearMode(depth), x, y, noise_std=np.sqrt(s.n_data))


def balanced_problem(land: fp.Landscape, sgd: fp.SGD, depth: int, lower: float, upper: float,
                     cells: int) -> fp.FokkerPlanck:
    """The 1-D process of the balanced coordinate a (a_l = a for every layer, s = a^depth).

    Every layer's per-sample gradient is the same number for a balanced point, so the noise
    moves all layers together: the process stays balanced and is one-dimensional, with the drift
    and diffusion of any single layer (the scheme's fields along the diagonal, tabulated)."""
    grid = fp.Grid(lower, upper, cells)
    a = grid.axes[0]
    f = sgd.fields(land, np.repeat(a[:, None], depth, axis=1))
    return fp.FokkerPlanck(grid, drift=f.drift[:, 0][None], diffusion=f.diffusion[:, 0, 0][None, None])


def step_moments(s: Settings) -> dict:
    """One SGD step in the mode strength ``s = a^L``, exactly: iid batches of one sample from the
    balanced point (every layer ``a``) move every layer by ``−η a^{L−1} r_i``, ``r_i = (s x_i − y_i) x_i``,
    so ``Δs_i = (a − η a^{L−1} r_i)^L − a^L`` for each of the N samples, each with probability 1/N.
    Returns the measured drift ``E[Δs]/η`` and diffusion ``Var[Δs]/(2η)`` (SDE time) at
    ``step_strengths`` for each depth in ``step_depths``, with the docs/theory.md §5 predictions
    built from the data's own moments of ``r``: drift ``−P E[r]`` plus the Itô term
    ``(η/2) L (L − 1) a^{3L−4} E[r²]``, diffusion ``(η/2) P² Var[r]``, ``P = L s^{2−2/L}``."""
    x, y = data(s, s.label_noise)
    out = {"step_depths": np.array(s.step_depths), "step_strengths": np.array(s.step_strengths)}
    shape = (len(s.step_depths), len(s.step_strengths))
    for key in ("drift", "drift_pred", "diffusion", "diffusion_pred", "diffusion_pred_p1"):
        out[f"step_{key}"] = np.empty(shape)
    for i, L in enumerate(s.step_depths):
        for j, strength in enumerate(s.step_strengths):
            a = strength ** (1.0 / L)
            P = L * strength ** (2.0 - 2.0 / L)
            eta = s.step_learning_rate_times_p / P   # η P small: O(η) corrections ~1e-5 of D
            r = (strength * x - y) * x
            ds = (a - eta * a ** (L - 1) * r) ** L - strength
            out["step_drift"][i, j] = ds.mean() / eta
            out["step_diffusion"][i, j] = ds.var() / (2 * eta)
            out["step_drift_pred"][i, j] = -P * r.mean() + 0.5 * eta * L * (L - 1) * a ** (3 * L - 4) * np.mean(r**2)
            out["step_diffusion_pred"][i, j] = 0.5 * eta * P**2 * r.var()
            out["step_diffusion_pred_p1"][i, j] = 0.5 * eta * P * r.var()
    return out


def run(s: Settings) -> dict:
    out: dict = {}
    # 1. depth 1 through the SDE: grid against the closed form and against Langevin walkers
    problem = depth1_problem(s)
    state = fp.stationary(problem)
    u = problem.grid.axes[0]
    exact = closed_form(u, s)
    exact /= exact.sum() * problem.grid.cell_volume
    walk = fp.simulate.langevin(problem, x0=0.0, dt=s.langevin_dt, n_steps=s.langevin_steps,
                                n_walkers=s.langevin_walkers, burn_in=s.langevin_steps // 10,
                                record_every=100, rng=s.seed, progress=False)
    c = fp.compare(state, walk)
    out.update(sde_u=u, sde_grid=state.density, sde_exact=exact, sde_langevin_tv=c.total_variation,
               sde_langevin_floor=c.tv_noise_floor_effective, sde_langevin_kl=c.kl_samples_state,
               sde_grid_tv=0.5 * float(np.abs(state.density - exact).sum() * problem.grid.cell_volume),
               sde_grid_max_rel=float(np.max(np.abs(state.density / exact - 1))))
    # 2. real SGD on DeepLinearMode(depth) against the grid of the balanced coordinate
    tv, floor, hist = [], [], []
    for depth in s.depths:
        land = landscape(depth, s, s.label_noise)
        a_star = s.teacher ** (1 / depth)
        h_a = depth * s.teacher ** (2 - 2 / depth)      # d/da [(a^L − m) a^(L−1)] at a*
        eta = s.learning_rate_times_h / h_a
        sgd = fp.SGD(learning_rate=eta, batch_size=s.batch_size, scheme="iid")
        std = np.sqrt(eta * s.label_noise**2 * a_star ** (2 * depth - 2) / (2 * s.batch_size * h_a))
        lo, hi = a_star - s.grid_half_width_std * std, a_star + s.grid_half_width_std * std
        prob = balanced_problem(land, sgd, depth, lo, hi, s.grid_cells)
        st = fp.stationary(prob, check_boundary=False)
        run = fp.simulate.sgd(land, sgd, np.full(depth, a_star), n_steps=s.sgd_steps, n_chains=s.sgd_chains,
                              burn_in=s.sgd_burn_in, record_every=s.sgd_record_every, rng=s.seed + depth,
                              progress=False)
        a = run.samples()[:, 0]
        cmp = fp.compare(st, a[:, None])
        ess = float(run.effective_sample_size())
        tv.append(cmp.total_variation)
        floor.append(fp.comparison.tv_noise_floor(st.cell_probabilities(), ess))
        hist.append(np.histogram(a, bins=np.linspace(lo, hi, s.grid_cells + 1), density=True)[0])
        out[f"sgd_depth{depth}_a"] = prob.grid.axes[0]
        out[f"sgd_depth{depth}_grid"] = st.density
        out[f"sgd_depth{depth}_hist"] = hist[-1]
        out[f"sgd_depth{depth}_imbalance"] = float(np.max(np.abs(run.samples() - a[:, None])))
    out.update(sgd_tv=np.array(tv), sgd_floor=np.array(floor), depths=np.array(s.depths))
    # 3. σ_ε = 0: the noise vanishes at s = m and SGD collapses onto it
    spread = []
    for depth in s.depths:
        land = landscape(depth, s, 0.0)
        sgd = fp.SGD(learning_rate=s.learning_rate, batch_size=s.batch_size, scheme="iid")
        w0 = np.full(depth, s.teacher ** (1 / depth) * 1.3)
        run = fp.simulate.sgd(land, sgd, w0, n_steps=s.collapse_steps, n_chains=s.sgd_chains, record_every=0,
                              rng=s.seed, progress=False)
        spread.append(float(np.max(np.abs(np.prod(run.final, axis=1) - s.teacher))))
    out["collapse_max_abs_s_minus_m"] = np.array(spread)
    # 4. the diffusion maximum before the mode is learned (depth 2, from a density near s = 0)
    L = s.evolution_depth
    land = landscape(L, s, s.evolution_label_noise)
    sgd = fp.SGD(learning_rate=s.learning_rate, batch_size=s.batch_size, scheme="iid")
    prob = balanced_problem(land, sgd, L, 1e-3, 1.8 * s.teacher ** (1 / L), s.grid_cells)
    a = prob.grid.axes[0]
    times = np.linspace(0.0, s.evolution_time, 121)
    width = 0.02
    dx = prob.grid.cell_volume
    p0 = np.exp(-0.5 * ((a - s.evolution_start) / width) ** 2)
    ev = fp.evolve(prob, p0 / (p0.sum() * dx), times, progress=False)
    f = sgd.fields(land, np.repeat(a[:, None], L, axis=1))
    Da = f.diffusion[:, 0, 0]
    mean_D = ev.densities @ Da * dx
    mean_s = ev.densities @ (a**L) * dx
    out.update(evo_times=times, evo_mean_diffusion=mean_D, evo_mean_s=mean_s)
    out.update(step_moments(s))
    return out
