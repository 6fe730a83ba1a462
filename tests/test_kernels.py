"""Specialised kernel loops are pinned bit for bit to the general loops they stand in for."""

from __future__ import annotations

import importlib

import numba
import numpy as np
import pytest

import fpsolve as fp
from fpsolve._kernels import codes as _codes
from fpsolve._kernels import langevin as lk
from fpsolve._kernels import random as rk
from fpsolve.simulate.langevin import noise_matrix

N_WALKERS = 64
N_STEPS = 400


def _grid_arrays(problem, x0, burn_in, record_every, seed, infinite_cells=0):
    """The walker state and tables :func:`fpsolve.simulate.langevin` builds, for direct calls;
    the drift of the first ``infinite_cells`` cells is made infinite."""
    grid = problem.grid
    d = grid.ndim
    pos = np.tile(np.asarray(x0, dtype=float), (N_WALKERS, 1))
    rng = np.empty((N_WALKERS, 4), dtype=np.uint64)
    rk.seed_states(np.uint64(seed), 0, rng)
    n_records = (N_STEPS - burn_in) // record_every + 1
    walkers = lk.Walkers(pos, rng, np.zeros(N_WALKERS, dtype=np.int64), np.zeros((N_WALKERS, d)),
                         np.zeros((N_WALKERS, d)), np.zeros((N_WALKERS, d, d)),
                         np.zeros(N_WALKERS, dtype=np.int64), np.full(N_WALKERS, -1, dtype=np.int64),
                         np.full(N_WALKERS, -1, dtype=np.int64), np.full((N_WALKERS, n_records, d), np.nan))
    box = lk.Box(np.array(grid.lower), np.array(grid.upper),
                 np.array([_codes.BOUNDARY_CODES[b] for b in grid.boundary], dtype=np.int64))
    drift_table = np.ascontiguousarray(problem.drift_field.reshape(d, -1).T)
    drift_table[:infinite_cells] = np.inf
    cols = 1 if problem.constant_diffusion else -1
    noise_table = np.ascontiguousarray(noise_matrix(problem.diffusion_field).reshape(d * d, cols).T)
    shape = np.array(grid.shape, dtype=np.int64)
    tables = lk.Tables(shape, 1.0 / np.array(grid.spacing), np.array([shape[1], 1], dtype=np.int64),
                       drift_table, noise_table)
    return walkers, box, tables


def _pin_problem(boundary, noise):
    """A 2-D rotating OU problem on a 24 x 20 grid, with constant or state-dependent diffusion."""
    grid = fp.Grid([-2.0, -2.0], [2.0, 2.0], [24, 20], boundary=boundary)
    if noise == "constant":
        diffusion = np.array([[0.6, 0.1], [0.1, 0.4]])
    else:
        def diffusion(x):
            return 0.5 + 0.2 * np.cos(x[0]) + 0.1 * np.sin(x[1])
    return fp.FokkerPlanck(grid, drift=lambda x: np.stack((-x[0] - 0.5 * x[1], -x[1] + 0.5 * x[0])),
                           diffusion=diffusion)


def _assert_same_walkers(special, general, context=""):
    """Every walker array equal bit for bit (``sum2``: the upper triangle, the statistic; the
    2-D loops leave ``[1, 0]`` alone)."""
    for name in lk.Walkers._fields:
        a, b = getattr(special, name), getattr(general, name)
        if name == "sum2":
            a, b = np.triu(a), np.triu(b)
        np.testing.assert_array_equal(a, b, err_msg=name + context)


@pytest.mark.parametrize("method", [_codes.EULER_MARUYAMA, _codes.HEUN])
@pytest.mark.parametrize("boundary", ["reflecting", "periodic", "absorbing"])
def test_walk_2d_is_walk_bit_for_bit(method, boundary):
    problem = _pin_problem(boundary, "constant" if method == _codes.HEUN else "variable")  # Heun: additive
    runs = []
    for walk in (lk._walk_2d, lk._walk):
        walkers, box, tables = _grid_arrays(problem, [0.3, -0.2], burn_in=37, record_every=9, seed=5)
        for n0, n1 in ((0, 150), (150, N_STEPS)):  # two chunks, as the driver runs long runs
            span = lk.Span(n0, n1, 37, 9, 0.02, method)
            for w in range(N_WALKERS):
                if walkers.status[w] == _codes.RUNNING:
                    walk(np.int64(w), walkers, span, box, tables)
        runs.append(walkers)
    special, general = runs
    if boundary == "absorbing":
        assert (general.status == _codes.ABSORBED).any()  # the walls were exercised
    _assert_same_walkers(special, general)


@pytest.mark.parametrize(("method", "noise"), [(_codes.EULER_MARUYAMA, "constant"),
                                               (_codes.EULER_MARUYAMA, "variable"),
                                               (_codes.HEUN, "constant")])  # Heun: additive noise
@pytest.mark.parametrize("boundary", ["reflecting", "periodic", "absorbing"])
def test_walker_pairs_are_single_walkers_bit_for_bit(method, boundary, noise):
    """``langevin_grid`` steps 2-D walkers in lockstep pairs (a lone last one by itself): each
    walker is the general loop's, also when its partner stops (absorbed, or blown up by
    infinite drift cells) part-way through a chunk."""
    problem = _pin_problem(boundary, noise)
    n_walkers = N_WALKERS - 1  # odd: one walker has no partner
    runs = []
    for pairs in (True, False):
        # the 20 cells next to the wall x = -2 send walkers to infinity
        walkers, box, tables = _grid_arrays(problem, [0.3, -0.2], burn_in=37, record_every=9, seed=5,
                                            infinite_cells=20)
        walkers = lk.Walkers(*(a[:n_walkers] for a in walkers))
        for n0, n1 in ((0, 150), (150, N_STEPS)):
            span = lk.Span(n0, n1, 37, 9, 0.02, method)
            if pairs:
                lk.langevin_grid(walkers, span, box, tables)
            else:
                for w in range(n_walkers):
                    if walkers.status[w] == _codes.RUNNING:
                        lk._walk(np.int64(w), walkers, span, box, tables)
        runs.append(walkers)
    paired, general = runs
    assert (general.status == _codes.NON_FINITE).any() and (general.status == _codes.RUNNING).any()
    if boundary == "absorbing":
        assert (general.status == _codes.ABSORBED).any()
    stop = general.stop_step[general.status != _codes.RUNNING]
    assert (stop % 150 != 0).any()  # some stopped inside a chunk, their partners ran on alone
    _assert_same_walkers(paired, general)


@numba.njit
def _blowing_drift(x, out):
    """A linear drift that turns infinite for x > 1.8, so some walkers stop part-way."""
    out[0] = -x[0] - 0.5 * x[1] + (np.inf if x[0] > 1.8 else 0.0)
    out[1] = -x[1] + 0.5 * x[0]


@numba.njit
def _failing_diffusion(x, out):
    """A diffusion tensor that stops being positive semidefinite for x[1] > 1.5."""
    out[0, 0] = 0.5 + 0.2 * np.cos(x[0])
    out[0, 1] = 0.1
    out[1, 0] = 0.1
    out[1, 1] = 0.4 - (1.0 if x[1] > 1.5 else 0.0)


@numba.njit
def _one_walker_at_a_time(drift, diffusion, walkers, span, box, noise_const, diffusion_callable):
    for w in range(walkers.pos.shape[0]):
        if walkers.status[w] == _codes.RUNNING:
            lk._walk_callable(drift, diffusion, w, walkers, span, box, noise_const, diffusion_callable)


@pytest.mark.slow  # compiles the (uncached) callable kernel twice
@pytest.mark.parametrize("boundary", ["reflecting", "absorbing", "free"])
def test_callable_walker_pairs_are_single_walkers_bit_for_bit(boundary):
    """``langevin_callable`` steps 2-D walkers in lockstep pairs; each walker is the general
    loop's, also when its partner stops (absorbed, infinite drift, diffusion not PSD)."""
    grid = fp.Grid([-2.0, -2.0], [2.0, 2.0], [8, 8], boundary="reflecting" if boundary == "free" else boundary)
    problem = fp.FokkerPlanck(grid, drift=lambda x: -x, diffusion=0.5)
    n_walkers = N_WALKERS - 1  # odd: one walker has no partner
    constant_B = np.linalg.cholesky(2 * np.array([[0.6, 0.1], [0.1, 0.4]])).reshape(4)
    cases = [(_codes.EULER_MARUYAMA, lk.no_diffusion, False), (_codes.HEUN, lk.no_diffusion, False),
             (_codes.EULER_MARUYAMA, _failing_diffusion, True)]
    for method, diffusion, diffusion_callable in cases:
        noise_const = np.zeros(4) if diffusion_callable else constant_B
        runs = []
        for pairs in (True, False):
            walkers, box, _ = _grid_arrays(problem, [0.3, -0.2], burn_in=37, record_every=9, seed=5)
            walkers = lk.Walkers(*(a[:n_walkers] for a in walkers))
            if boundary == "free":
                box = lk.Box(np.full(2, -np.inf), np.full(2, np.inf), np.full(2, _codes.FREE, dtype=np.int64))
            for n0, n1 in ((0, 150), (150, N_STEPS)):
                span = lk.Span(n0, n1, 37, 9, 0.02, method)
                run = lk.langevin_callable if pairs else _one_walker_at_a_time
                run(_blowing_drift, diffusion, walkers, span, box, noise_const, diffusion_callable)
            runs.append(walkers)
        paired, general = runs
        stopped = general.status != _codes.RUNNING
        assert stopped.any() and not stopped.all()
        assert (general.stop_step[stopped] % 150 != 0).any()  # partners ran on alone mid-chunk
        if diffusion_callable:
            assert (general.status == _codes.NOT_PSD).any()
        _assert_same_walkers(paired, general, f" (method {method}, {diffusion})")


@numba.njit
def _blowing_drift_3d(x, out):
    """A linear 3-D drift that turns infinite for x > 1.8, so some walkers stop part-way."""
    out[0] = -x[0] - 0.5 * x[1] + (np.inf if x[0] > 1.8 else 0.0)
    out[1] = -x[1] + 0.5 * x[0]
    out[2] = -2.0 * x[2]


@pytest.mark.slow  # compiles the (uncached) callable kernel for d = 3
def test_callable_kernel_writes_land():
    """The walker loops inlined into ``langevin_callable``'s ``prange`` body write every walker
    array (Numba loses writes made there through a namedtuple, see ``lk.Walkers``): for
    ``d = 3`` (:func:`lk._walk_callable`) the state after two chunks is the serial loop's bit for
    bit, and it is not the starting state (positions moved, sums counted, records and stops set)."""
    d = 3
    n_walkers = N_WALKERS - 1
    runs = []
    for run in (lk.langevin_callable, _one_walker_at_a_time):
        rng = np.empty((n_walkers, 4), dtype=np.uint64)
        rk.seed_states(np.uint64(5), 0, rng)
        n_records = (N_STEPS - 37) // 9 + 1
        walkers = lk.Walkers(np.full((n_walkers, d), 0.3), rng, np.zeros(n_walkers, dtype=np.int64),
                             np.zeros((n_walkers, d)), np.zeros((n_walkers, d)),
                             np.zeros((n_walkers, d, d)), np.zeros(n_walkers, dtype=np.int64),
                             np.full(n_walkers, -1, dtype=np.int64), np.full(n_walkers, -1, dtype=np.int64),
                             np.full((n_walkers, n_records, d), np.nan))
        box = lk.Box(np.full(d, -2.0), np.full(d, 2.0), np.full(d, _codes.ABSORBING, dtype=np.int64))
        noise_const = np.linalg.cholesky(2 * np.diag([0.6, 0.4, 0.5])).reshape(d * d)
        for n0, n1 in ((0, 150), (150, N_STEPS)):
            run(_blowing_drift_3d, lk.no_diffusion, walkers, lk.Span(n0, n1, 37, 9, 0.02, _codes.EULER_MARUYAMA),
                box, noise_const, False)
        runs.append(walkers)
    parallel, serial = runs
    running = parallel.status == _codes.RUNNING
    assert running.any() and not running.all()
    assert (parallel.status == _codes.ABSORBED).any() and (parallel.exit_wall >= 0).any()
    assert (parallel.stop_step[~running] > 0).all()
    assert (parallel.count[running] == N_STEPS - 37).all()
    assert (parallel.pos[running] != 0.3).all() and np.isfinite(parallel.records[running]).all()
    seeded = np.empty_like(parallel.rng)
    rk.seed_states(np.uint64(5), 0, seeded)
    assert (parallel.rng != seeded).any(axis=1).all()
    _assert_same_walkers(parallel, serial)


@pytest.mark.parametrize(("sampler", "temperature"),
                         [("with_replacement", 0.0), ("iid", 1.0), ("without_replacement", 1.0)])
def test_tanh_net_loop_is_the_general_loop_bit_for_bit(monkeypatch, sampler, temperature):
    engine = importlib.import_module("fpsolve.simulate.sgd")  # the module (the package's `sgd` is the function)

    x, y, w_min = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1, weight_decay=1e-3)
    opt = fp.SGD(learning_rate=1e-6, batch_size=10, scheme=sampler, temperature=temperature)
    kwargs = dict(n_steps=700, n_chains=3, record_every=30, burn_in=45, rng=11)
    special = engine.sgd(land, opt, w_min, **kwargs)
    monkeypatch.setattr(engine, "_SPECIALISED", False)
    general = engine.sgd(land, opt, w_min, **kwargs)
    for name in ("weights", "final", "count", "chain_mean", "chain_m2", "chain_status",
                 "epoch_weights", "epoch_chain_mean", "epoch_chain_m2"):
        a, b = getattr(special, name), getattr(general, name)
        if a is None:
            assert b is None, name
            continue
        np.testing.assert_array_equal(a, b, err_msg=name)


def _cached_dispatchers():
    """Every disk-cached Numba dispatcher defined in ``fpsolve._kernels``, by dotted name."""
    import pkgutil

    import fpsolve._kernels as package
    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, value in vars(module).items():
            if (isinstance(value, numba.core.registry.CPUDispatcher)
                    and not isinstance(value._cache, numba.core.caching.NullCache)):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_each_cached_kernel_has_its_own_cache_entry():
    """Numba keys its disk cache by a function's name and first line, not by its options: a
    serial and a parallel dispatcher of one function would share an entry, and a fresh process
    would load whichever was compiled first for both."""
    by_entry = {}
    for name, dispatcher in _cached_dispatchers().items():
        cache = dispatcher._cache
        entry = (cache._cache_path, cache._cache_file._index_name)
        by_entry.setdefault(entry, set()).add(dispatcher)
    shared = {entry: d for entry, d in by_entry.items() if len(d) > 1}
    assert not shared, f"dispatchers sharing a disk-cache entry: {shared}"
    from fpsolve._kernels import fv, smooth
    assert fv.count_jumps_parallel.targetoptions.get("parallel")
    assert not fv.count_jumps_serial.targetoptions.get("parallel")
    assert smooth.stencil_reach_parallel.targetoptions.get("parallel")
