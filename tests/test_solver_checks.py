"""The stationary solver refuses to return results that fail its own checks."""

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.solve import steady_state as stationary_module
from fpsolve.solve.linalg import PinnedLU


def _problem(n=80):
    grid = fp.Grid((-5, -5), (5, 5), (n, n))
    return fp.FokkerPlanck(grid, drift=lambda x: -x + np.stack((x[1], -x[0])), diffusion=0.5)


def test_negative_density_raises_with_numbers(monkeypatch):
    def broken(self):
        p = np.ones(self.n)
        p[3] = -0.25
        return p

    monkeypatch.setattr(PinnedLU, "null_vector", broken)
    with pytest.raises(fp.SolverError, match=r"negative values down to -0.25 of its peak"):
        fp.stationary(_problem())


def test_large_residual_raises_with_numbers(monkeypatch):
    monkeypatch.setattr(PinnedLU, "null_vector", lambda self: np.ones(self.n))
    with pytest.raises(fp.SolverError, match=r"relative residual [0-9.e+-]+ exceeds 1e-08"):
        fp.stationary(_problem())


def test_nonfinite_solution_raises(monkeypatch):
    monkeypatch.setattr(PinnedLU, "null_vector", lambda self: np.full(self.n, np.nan))
    with pytest.raises(fp.SolverError, match="non-finite"):
        fp.stationary(_problem())


def test_pinned_cell_is_the_most_probable_cell_not_a_fixed_one():
    """Mass far from the centre: the scale-fixing cell must follow the mass."""
    grid = fp.Grid((-10, -10), (10, 10), (96, 96))
    centre = np.array([6.0, -6.5])  # off centre, but 6 standard deviations from the walls
    problem = fp.FokkerPlanck(grid, drift=lambda x: -(x - centre.reshape(2, *([1] * (x.ndim - 1)))), diffusion=0.3)
    state = fp.stationary(problem, check_boundary=False)
    pinned = np.unravel_index(state.info.pinned_cell, grid.shape)
    assert np.allclose(grid.point(pinned), centre, atol=2 * grid.spacing[0])
    np.testing.assert_allclose(state.mean(), centre, atol=1e-6)
    np.testing.assert_allclose(state.covariance(), 0.3 * np.eye(2), atol=1e-7)  # spectral midpoint sums


def test_multigrid_failure_falls_back_to_direct_solve(monkeypatch):
    problem = _problem(n=256)
    reference = fp.stationary(problem, order=2)
    assert reference.info.method.startswith("multigrid-preconditioned GMRES")

    def no_convergence(levels, coarse_solve, x0):
        return x0, 7, False

    monkeypatch.setattr(stationary_module, "solve_level", no_convergence)
    state = fp.stationary(problem, order=2)
    assert "multigrid did not converge in 7 iterations" in state.info.method
    np.testing.assert_allclose(state.density, reference.density, rtol=1e-9, atol=1e-12 * reference.density.max())


MULTIGRID_AGREEMENT = 1e-10  # GMRES stops at residual 1e-12 (relative); the gap is conditioning


@pytest.mark.parametrize("boundary", ["reflecting", ("periodic", "reflecting")])
def test_multigrid_matches_direct_solve(boundary):
    grid = fp.Grid((-4, -4), (4, 4), (256, 256), boundary)
    problem = fp.FokkerPlanck(
        grid, drift=lambda x: np.stack((np.sin(x[0] * np.pi / 4) + 0.5 * x[1], -x[1] - 0.5 * np.cos(x[0]))),
        diffusion=np.array([[0.4, 0.25], [0.25, 0.3]]))
    level = stationary_module._solve_discrete(problem)
    assert level.method.startswith("multigrid-preconditioned GMRES (2 levels")
    direct = PinnedLU(level.operator.matrix, grid.shape, int(np.argmax(level.p))).null_vector()
    direct /= direct.sum() * grid.cell_volume
    np.testing.assert_allclose(level.p, direct, rtol=0, atol=MULTIGRID_AGREEMENT * direct.max())
