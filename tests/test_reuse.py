"""Speed structures of the grid solver: fill-reducing orders, caches reused across solves."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fpsolve as fp
from fpsolve.solve import linalg, robust
from fpsolve.solve.operator import assemble
from fpsolve.solve.robust import JumpGraph, gth_log_density

GTH_ORDER_RTOL = 1e-11  # GTH is subtraction-free in any order: two orders agree to a few roundings per step


def _wide_problem(n: int) -> fp.FokkerPlanck:
    """A constant, strongly anisotropic, rotated diffusion (Selling offsets up to ~8 cells) with a
    non-gradient drift."""
    c, s = np.cos(0.4), np.sin(0.4)
    R = np.array([[c, -s], [s, c]])
    D = R @ np.diag([1.0, 4e-3]) @ R.T
    K = np.array([[1.0, 0.7], [-0.7, 1.0]])
    grid = fp.Grid((-3, -3), (3, 3), (n, n))
    return fp.FokkerPlanck(grid, lambda x: -np.einsum("ij,j...->i...", K, x), D)


def test_fill_ordering_is_a_permutation_and_nested_dissection_for_short_stencils():
    op = assemble(_wide_problem(32))
    order = linalg.fill_ordering(op.matrix, (32, 32))
    assert np.array_equal(np.sort(order), np.arange(32 * 32))
    assert np.abs(op.offsets).max() > 1
    assert not np.array_equal(order, linalg.grid_ordering((32, 32)))
    grid = fp.Grid((-3, -3), (3, 3), (32, 32), boundary="periodic")
    short = assemble(fp.FokkerPlanck(grid, lambda x: -np.sin(x), 0.5))  # 5 points, wraps included
    assert np.array_equal(linalg.fill_ordering(short.matrix, (32, 32)), linalg.grid_ordering((32, 32)))


def test_gth_in_minimum_degree_order_matches_nested_dissection(monkeypatch):
    problem = _wide_problem(32)
    graph = JumpGraph(assemble(problem).matrix)
    fast = gth_log_density(graph, problem.grid.shape)
    monkeypatch.setattr(robust, "fill_ordering", lambda W, shape: linalg.grid_ordering(tuple(shape)))
    reference = gth_log_density(graph, problem.grid.shape)
    finite = np.isfinite(reference)  # a few wall cells no jump reaches have log p = -inf in both
    assert finite.sum() > 0.99 * len(reference)
    assert np.array_equal(np.isfinite(fast), finite)
    scale = 1 + np.abs(reference[finite]).max()
    assert np.max(np.abs(fast[finite] - reference[finite])) <= GTH_ORDER_RTOL * scale
