"""Measured convergence orders, by grid refinement and a log-log fit."""

import numpy as np
import pytest

import fpsolve as fp
from conftest import OU_D, OU_K, gaussian_density, lyapunov_covariance, ou_current, total_variation

GRIDS = (32, 64, 128)
# Declared orders of the scheme (fpsolve.solve.operator / stationary) and the slack allowed
# for pre-asymptotic behaviour on these coarse grids.
ORDER_SLACK = 0.3


def _slope(ns, errors):
    return -np.polyfit(np.log(ns), np.log(errors), 1)[0]


@pytest.mark.parametrize("order", [2, 4])
def test_density_and_current_orders_on_nonequilibrium_ou(ou_problem, order):
    C = lyapunov_covariance(OU_K, OU_D)
    tv, current = [], []
    for n in GRIDS:
        problem = ou_problem(n)
        state = fp.stationary(problem, order=order)
        grid = problem.grid
        tv.append(total_variation(state.density, gaussian_density(grid, C), grid))
        J = ou_current(grid, OU_K, OU_D, C)
        current.append(np.abs(state.current - J).max() / np.abs(J).max())
    assert _slope(GRIDS, tv) > order - ORDER_SLACK
    assert _slope(GRIDS, current) > order - ORDER_SLACK
    # and the fourth-order result is the more accurate one at every size
    if order == 4:
        assert tv[-1] < 1e-5


def test_error_estimate_tracks_second_order_error(ou_problem):
    C = lyapunov_covariance(OU_K, OU_D)
    problem = ou_problem(128)
    second = fp.stationary(problem, order=2)
    fourth = fp.stationary(problem, order=4)
    true_error = total_variation(second.density, gaussian_density(problem.grid, C), problem.grid)
    assert fourth.info.error_estimate == pytest.approx(true_error, rel=0.1)
