"""A table of bad inputs for every public entry point (issue 9).

Each case is ``(entry point, argument, description, call)``: ``call()`` must raise a package
exception (:class:`fpsolve.FPSolveError`) whose message names ``argument``.  The table is
walked by ``tests/test_bad_input.py`` (in process) and by ``benchmarks/bad_input_tally.py``
(one process per case, with a time limit, tallying clear / unhelpful / hang / silent).

Shared objects are built lazily and cached, so each case costs only its own call.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import fpsolve as fp


@lru_cache(maxsize=None)
def grid1() -> fp.Grid:
    return fp.Grid(-4.0, 4.0, 32)


@lru_cache(maxsize=None)
def ou1() -> fp.FokkerPlanck:
    return fp.FokkerPlanck(grid1(), drift=lambda x: -x, diffusion=0.5)


@lru_cache(maxsize=None)
def absorbing1() -> fp.FokkerPlanck:
    return fp.FokkerPlanck(fp.Grid(-2.0, 2.0, 32, boundary="absorbing"), drift=lambda x: -x, diffusion=0.5)


@lru_cache(maxsize=None)
def state1():
    return fp.stationary(ou1())


@lru_cache(maxsize=None)
def evolution1():
    return fp.evolve(ou1(), _p0, [0.0, 0.1])


@lru_cache(maxsize=None)
def gauss_land() -> fp.Landscape:
    y = np.random.default_rng(0).normal(1.0, 1.0, size=20)
    return fp.Landscape(fp.models.GaussianMean(1.0, 2.0), None, y)


@lru_cache(maxsize=None)
def tanh_land() -> fp.Landscape:
    x, y, _ = fp.datasets.load_adhikari2023()
    return fp.Landscape(fp.models.TanhUnit(), x, y, noise_std=0.1, weight_decay=1e-3)


def sgd() -> fp.SGD:
    return fp.SGD(learning_rate=1e-3, batch_size=5)


def _p0(x):
    return np.exp(-x[0] ** 2)


CASES = [
    # -- fp.Grid
    ("Grid", "upper", "upper <= lower", lambda: fp.Grid(1.0, 0.0, 16)),
    ("Grid", "lower", "nan bound", lambda: fp.Grid(np.nan, 1.0, 16)),
    ("Grid", "upper - lower", "overflowing length", lambda: fp.Grid(-1e308, 1e308, 16)),
    ("Grid", "cells", "subnormal spacing", lambda: fp.Grid(0.0, 1e-320, 16)),
    ("Grid", "shape", "too few cells", lambda: fp.Grid(0.0, 1.0, 2)),
    ("Grid", "shape", "fractional cells", lambda: fp.Grid(0.0, 1.0, 16.5)),
    ("Grid", "shape", "string cells", lambda: fp.Grid(0.0, 1.0, "16")),
    ("Grid", "boundary", "None", lambda: fp.Grid(0.0, 1.0, 16, boundary=None)),
    ("Grid", "boundary", "integer", lambda: fp.Grid(0.0, 1.0, 16, boundary=5)),
    ("Grid", "boundary", "unknown name", lambda: fp.Grid(0.0, 1.0, 16, boundary="open")),
    ("Grid", "lower", "complex bound", lambda: fp.Grid(1j, 2.0, 16)),
    ("Grid", "lower", "four axes", lambda: fp.Grid((0,) * 4, (1,) * 4, (4,) * 4)),
    # -- fp.FokkerPlanck
    ("FokkerPlanck", "grid", "not a Grid", lambda: fp.FokkerPlanck("grid", drift=0.0, diffusion=1.0)),
    ("FokkerPlanck", "drift", "wrong shape", lambda: fp.FokkerPlanck(grid1(), drift=np.zeros(5), diffusion=1.0)),
    ("FokkerPlanck", "drift", "nan values", lambda: fp.FokkerPlanck(grid1(), drift=lambda x: x * np.nan, diffusion=1.0)),
    ("FokkerPlanck", "drift", "complex values", lambda: fp.FokkerPlanck(grid1(), drift=lambda x: -x + 1j, diffusion=1.0)),
    ("FokkerPlanck", "drift", "strings", lambda: fp.FokkerPlanck(grid1(), drift=lambda x: np.full(x.shape, "a"), diffusion=1.0)),
    ("FokkerPlanck", "drift", "callable raises", lambda: fp.FokkerPlanck(grid1(), drift=lambda x: x.nope, diffusion=1.0)),
    ("FokkerPlanck", "diffusion", "negative", lambda: fp.FokkerPlanck(grid1(), drift=lambda x: -x, diffusion=-1.0)),
    ("FokkerPlanck", "diffusion", "complex scalar", lambda: fp.FokkerPlanck(grid1(), drift=lambda x: -x, diffusion=0.5 + 0.5j)),
    ("FokkerPlanck", "diffusion", "complex callable", lambda: fp.FokkerPlanck(grid1(), drift=lambda x: -x, diffusion=lambda x: 1 + 0 * x[0] + 1j)),
    ("FokkerPlanck", "diffusion", "wrong shape", lambda: fp.FokkerPlanck(grid1(), drift=lambda x: -x, diffusion=np.ones((3, 3)))),
    ("FokkerPlanck", "diffusion", "asymmetric 2-D", lambda: fp.FokkerPlanck(
        fp.Grid((0, 0), (1, 1), (8, 8)), drift=lambda x: -x, diffusion=np.array([[1.0, 0.5], [0.0, 1.0]]))),
    ("FokkerPlanck", "grid.shape", "cannot fit in memory", lambda: fp.FokkerPlanck(fp.Grid(0.0, 1.0, 10**12), drift=lambda x: -x, diffusion=1.0)),
    # -- fp.stationary
    ("stationary", "problem", "not a problem", lambda: fp.stationary("problem")),
    ("stationary", "order", "order 3", lambda: fp.stationary(ou1(), order=3)),
    ("stationary", "boundary", "absorbing walls", lambda: fp.stationary(absorbing1())),
    ("stationary", "diffusion", "zero diffusion", lambda: fp.stationary(fp.FokkerPlanck(grid1(), drift=lambda x: -x, diffusion=0.0))),
    # -- fp.evolve
    ("evolve", "p0", "wrong shape", lambda: fp.evolve(ou1(), np.ones(5), [0, 1])),
    ("evolve", "p0", "negative", lambda: fp.evolve(ou1(), -np.ones(32), [0, 1])),
    ("evolve", "p0", "nan", lambda: fp.evolve(ou1(), np.full(32, np.nan), [0, 1])),
    ("evolve", "times", "decreasing", lambda: fp.evolve(ou1(), _p0, [1, 0])),
    ("evolve", "times", "nan", lambda: fp.evolve(ou1(), _p0, [0, np.nan])),
    ("evolve", "times", "strings", lambda: fp.evolve(ou1(), _p0, ["a", "b"])),
    ("evolve", "dt0", "zero", lambda: fp.evolve(ou1(), _p0, [0, 1], dt0=0.0)),
    ("evolve", "dt0", "nan", lambda: fp.evolve(ou1(), _p0, [0, 1], dt0=np.nan)),
    ("evolve", "dt0", "negative", lambda: fp.evolve(ou1(), _p0, [0, 1], dt0=-0.1)),
    ("evolve", "tolerance", "zero", lambda: fp.evolve(ou1(), _p0, [0, 1], tolerance=0.0)),
    ("evolve", "method", "unknown", lambda: fp.evolve(ou1(), _p0, [0, 1], method="euler")),
    ("evolve", "order", "order 3", lambda: fp.evolve(ou1(), _p0, [0, 1], order=3)),
    ("evolve", "problem", "not a problem", lambda: fp.evolve("problem", _p0, [0, 1])),
    # -- fp.mean_first_passage_time
    ("mean_first_passage_time", "absorbing", "no absorbing wall", lambda: fp.mean_first_passage_time(ou1())),
    ("mean_first_passage_time", "start", "point outside", lambda: fp.mean_first_passage_time(absorbing1(), start=[5.0])),
    ("mean_first_passage_time", "start", "wrong shape", lambda: fp.mean_first_passage_time(absorbing1(), start=np.ones(3))),
    # -- fp.spectral_gap
    ("spectral_gap", "n_eigenvalues", "1", lambda: fp.spectral_gap(ou1(), n_eigenvalues=1)),
    ("spectral_gap", "n_eigenvalues", "0", lambda: fp.spectral_gap(ou1(), n_eigenvalues=0)),
    ("spectral_gap", "n_eigenvalues", "-3", lambda: fp.spectral_gap(ou1(), n_eigenvalues=-3)),
    ("spectral_gap", "n_eigenvalues", "more than the grid", lambda: fp.spectral_gap(ou1(), n_eigenvalues=40)),
    ("spectral_gap", "problem", "not a problem", lambda: fp.spectral_gap("problem")),
    # -- fp.linearized
    ("linearized", "hessian", "complex", lambda: fp.linearized(np.eye(2) + 1j * np.eye(2), np.eye(2))),
    ("linearized", "hessian", "not square", lambda: fp.linearized(np.ones((2, 3)), np.eye(2))),
    ("linearized", "hessian", "unstable", lambda: fp.linearized(-np.eye(2), np.eye(2))),
    ("linearized", "diffusion", "not PSD", lambda: fp.linearized(np.eye(2), -np.eye(2))),
    ("linearized", "diffusion", "wrong size", lambda: fp.linearized(np.eye(2), np.eye(3))),
    ("linearized", "learning_rate", "negative", lambda: fp.linearized(np.eye(2), np.eye(2), learning_rate=-0.1)),
    ("linearized", "learning_rate", "nan", lambda: fp.linearized(np.eye(2), np.eye(2), learning_rate=np.nan)),
    ("linearized", "mean", "nan", lambda: fp.linearized(np.eye(2), np.eye(2), mean=[np.nan, 0.0])),
    ("linearized", "mean", "wrong shape", lambda: fp.linearized(np.eye(2), np.eye(2), mean=[0.0])),
    # -- fp.closed_form_1d
    ("closed_form_1d", "1-D", "2-D problem", lambda: fp.closed_form_1d(fp.FokkerPlanck(
        fp.Grid((0, 0), (1, 1), (8, 8)), drift=lambda x: -x, diffusion=1.0))),
    ("closed_form_1d", "periodic", "periodic axis", lambda: fp.closed_form_1d(fp.FokkerPlanck(
        fp.Grid(0, 1, 16, boundary="periodic"), drift=lambda x: 0 * x, diffusion=1.0))),
    # -- fp.Landscape
    ("Landscape", "model", "not a model", lambda: fp.Landscape("model", None, [1.0, 2.0])),
    ("Landscape", "y", "empty", lambda: fp.Landscape(fp.models.GaussianMean(1.0, 2.0), None, [])),
    ("Landscape", "y", "nan", lambda: fp.Landscape(fp.models.GaussianMean(1.0, 2.0), None, [1.0, np.nan])),
    ("Landscape", "y", "strings", lambda: fp.Landscape(fp.models.GaussianMean(1.0, 2.0), None, ["a", "b"])),
    ("Landscape", "y", "complex", lambda: fp.Landscape(fp.models.GaussianMean(1.0, 2.0), None, [1.0 + 1j])),
    ("Landscape", "x", "rows differ from y", lambda: fp.Landscape(fp.models.TanhUnit(), np.ones(3), np.ones(4))),
    ("Landscape", "noise_std", "negative", lambda: fp.Landscape(fp.models.TanhUnit(), np.ones(3), np.ones(3), noise_std=-1.0)),
    ("Landscape", "noise_std", "string", lambda: fp.Landscape(fp.models.TanhUnit(), np.ones(3), np.ones(3), noise_std="a")),
    ("Landscape", "weight_decay", "negative", lambda: fp.Landscape(fp.models.TanhUnit(), np.ones(3), np.ones(3), weight_decay=-1.0)),
    ("Landscape.loss", "w", "wrong size", lambda: gauss_land().loss([0.0, 1.0])),
    ("Landscape.gradient", "w", "nan", lambda: gauss_land().gradient([np.nan])),
    # -- fp.SGD
    ("SGD", "learning_rate", "negative", lambda: fp.SGD(learning_rate=-0.1, batch_size=5)),
    ("SGD", "learning_rate", "nan", lambda: fp.SGD(learning_rate=np.nan, batch_size=5)),
    ("SGD", "batch_size", "zero", lambda: fp.SGD(learning_rate=0.1, batch_size=0)),
    ("SGD", "batch_size", "fractional", lambda: fp.SGD(learning_rate=0.1, batch_size=2.5)),
    ("SGD", "scheme", "unknown", lambda: fp.SGD(learning_rate=0.1, batch_size=5, scheme="shuffle")),
    ("SGD", "temperature", "negative", lambda: fp.SGD(learning_rate=0.1, batch_size=5, temperature=-1.0)),
    ("SGD", "epoch_noise", "unknown", lambda: fp.SGD(learning_rate=0.1, batch_size=5, epoch_noise="exact")),
    ("SGD", "n_permutations", "one", lambda: fp.SGD(learning_rate=0.1, batch_size=5, n_permutations=1)),
    ("SGD.linearized", "batch_size", "larger than N", lambda: fp.SGD(1e-3, 50).linearized(gauss_land(), [1.0])),
    ("SGD.linearized", "batch_size", "does not divide N (WOR)", lambda: fp.SGD(1e-3, 3, "without_replacement").linearized(gauss_land(), [1.0])),
    ("SGD.linearized", "learning_rate", "beyond 2/λmax", lambda: fp.SGD(10 / 20.25, 5).linearized(gauss_land(), [1.0])),
    ("SGD.linearized", "w", "wrong size", lambda: sgd().linearized(gauss_land(), [1.0, 2.0])),
    ("SGD.linearized", "max_iter", "zero", lambda: sgd().linearized(gauss_land(), [1.0], max_iter=0)),
    ("SGD.fokker_planck", "grid", "not a Grid", lambda: sgd().fokker_planck(gauss_land(), "grid")),
    ("SGD.fokker_planck", "axes", "index out of range", lambda: sgd().fokker_planck(tanh_land(), fp.Grid(-1, 1, 8), axes=(5,), reference=[0.1, 0.1])),
    ("SGD.fokker_planck", "reference", "missing", lambda: sgd().fokker_planck(tanh_land(), fp.Grid(-1, 1, 8), axes=(0,))),
    ("SGD.fokker_planck", "reference", "outside the grid", lambda: sgd().fokker_planck(tanh_land(), fp.Grid(-1, 1, 8), axes=(0,), reference=[5.0, 0.1])),
    ("SGD.grid_around", "axes", "four axes", lambda: sgd().grid_around(tanh_land(), [0.1, 0.1], axes=(0, 1, 0, 1))),
    ("SGD.grid_around", "n_std", "negative", lambda: sgd().grid_around(gauss_land(), gauss_land().minimize([0.0]), n_std=-1.0)),
    # -- fp.simulate.langevin
    ("simulate.langevin", "problem_or_fields", "not a problem", lambda: fp.simulate.langevin("p", 0.0, dt=0.1, n_steps=10)),
    ("simulate.langevin", "dt", "zero", lambda: fp.simulate.langevin(ou1(), 0.0, dt=0.0, n_steps=10)),
    ("simulate.langevin", "dt", "complex", lambda: fp.simulate.langevin(ou1(), 0.0, dt=1j, n_steps=10)),
    ("simulate.langevin", "n_steps", "zero", lambda: fp.simulate.langevin(ou1(), 0.0, dt=0.1, n_steps=0)),
    ("simulate.langevin", "burn_in", "not below n_steps", lambda: fp.simulate.langevin(ou1(), 0.0, dt=0.1, n_steps=10, burn_in=10)),
    ("simulate.langevin", "x0", "outside the grid", lambda: fp.simulate.langevin(ou1(), 9.0, dt=0.1, n_steps=10)),
    ("simulate.langevin", "x0", "nan", lambda: fp.simulate.langevin(ou1(), np.nan, dt=0.1, n_steps=10)),
    ("simulate.langevin", "x0", "complex", lambda: fp.simulate.langevin(ou1(), 1j, dt=0.1, n_steps=10)),
    ("simulate.langevin", "n_walkers", "zero", lambda: fp.simulate.langevin(ou1(), 0.0, dt=0.1, n_steps=10, n_walkers=0)),
    ("simulate.langevin", "n_walkers", "cannot fit in memory", lambda: fp.simulate.langevin(ou1(), 0.0, dt=0.1, n_steps=10, n_walkers=10**10)),
    ("simulate.langevin", "method", "unknown", lambda: fp.simulate.langevin(ou1(), 0.0, dt=0.1, n_steps=10, method="rk4")),
    ("simulate.langevin", "record_every", "negative", lambda: fp.simulate.langevin(ou1(), 0.0, dt=0.1, n_steps=10, record_every=-1)),
    ("simulate.langevin", "record_every", "records beyond max_record_bytes", lambda: fp.simulate.langevin(ou1(), 0.0, dt=0.1, n_steps=10**6, n_walkers=1000, max_record_bytes=1000)),
    # -- fp.simulate.sgd
    ("simulate.sgd", "landscape", "not a landscape", lambda: fp.simulate.sgd("land", sgd(), [0.0], n_steps=10)),
    ("simulate.sgd", "sgd", "not an SGD", lambda: fp.simulate.sgd(gauss_land(), "sgd", [0.0], n_steps=10)),
    ("simulate.sgd", "w0", "wrong size", lambda: fp.simulate.sgd(gauss_land(), sgd(), [[0.0, 1.0]], n_steps=10)),
    ("simulate.sgd", "w0", "nan", lambda: fp.simulate.sgd(gauss_land(), sgd(), [np.nan], n_steps=10)),
    ("simulate.sgd", "n_steps", "zero", lambda: fp.simulate.sgd(gauss_land(), sgd(), [0.0], n_steps=0)),
    ("simulate.sgd", "n_chains", "zero", lambda: fp.simulate.sgd(gauss_land(), sgd(), [0.0], n_steps=10, n_chains=0)),
    ("simulate.sgd", "n_chains", "cannot fit in memory", lambda: fp.simulate.sgd(gauss_land(), sgd(), [0.0], n_steps=10, n_chains=10**10)),
    ("simulate.sgd", "burn_in", "not below n_steps", lambda: fp.simulate.sgd(gauss_land(), sgd(), [0.0], n_steps=10, burn_in=10)),
    ("simulate.sgd", "divergence_bound", "below |w0|", lambda: fp.simulate.sgd(gauss_land(), sgd(), [1.0], n_steps=10, divergence_bound=0.5)),
    ("simulate.sgd", "batch_size", "larger than N", lambda: fp.simulate.sgd(gauss_land(), fp.SGD(1e-3, 50), [0.0], n_steps=10)),
    # -- fp.compare
    ("compare", "state", "not a state", lambda: fp.compare(object(), np.zeros((10, 1)))),
    ("compare", "samples", "wrong dimension", lambda: fp.compare(state1(), np.zeros((10, 2)))),
    ("compare", "samples", "nan rows", lambda: fp.compare(state1(), np.array([[0.0], [np.nan], [1.0]]))),
    ("compare", "samples", "one point", lambda: fp.compare(state1(), np.zeros((1, 1)))),
    ("compare", "samples", "strings", lambda: fp.compare(state1(), [["a"], ["b"]])),
    ("compare", "samples", "complex", lambda: fp.compare(state1(), np.zeros((10, 1)) + 1j)),
    ("compare", "bin_factor", "zero", lambda: fp.compare(state1(), np.zeros((10, 1)), bin_factor=0)),
    ("compare", "bin_factor", "does not divide", lambda: fp.compare(state1(), np.zeros((10, 1)), bin_factor=3)),
    ("compare", "samples", "gaussian vs wrong dimension", lambda: fp.compare(fp.linearized(np.eye(2), np.eye(2)), np.zeros((10, 1)))),
    ("plot.density", "state", "not a state", lambda: _plot().density("state")),
    ("plot.density", "axes", "same axis twice", lambda: _plot().density(state1(), axes=(0, 0))),
    ("plot.evolution", "run", "not an evolution", lambda: _plot().evolution("run")),
    ("plot.evolution", "n_snapshots", "zero", lambda: _plot().evolution(evolution1(), n_snapshots=0)),
]

def _plot():
    import matplotlib

    matplotlib.use("Agg")
    return fp.plot


# Entry points allowed to answer with a builtin exception (none: every entry point raises package errors).
BUILTIN_ALLOWED: set[str] = set()
