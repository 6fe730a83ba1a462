"""The evolve driver is a plain loop over steppers: the steppers driven by hand give evolve's
result bit for bit, and each stepper's step is the scheme it names."""

import importlib

import numpy as np
import pytest
import scipy.linalg as sla

import fpsolve as fp
from fpsolve.solve.operator import assemble

ev = importlib.import_module("fpsolve.solve.evolve")  # the module: fp.solve.evolve is the function

STEP_RTOL = 1e-12  # one TR-BDF2 step by sparse LU against dense solves of the same stages: round-off


def _ou(n: int = 120, boundary: str = "reflecting"):
    grid = fp.Grid(-5.0, 5.0, n, boundary)
    problem = fp.FokkerPlanck(grid, drift=lambda x: -x + 0.5, diffusion=0.4)
    p0 = np.exp(-((grid.axes[0] - 1.5) ** 2) / 0.1)
    return grid, problem, p0 / (p0.sum() * grid.cell_volume)


@pytest.mark.parametrize("boundary", ["reflecting", "absorbing"])
def test_hand_loop_over_the_stepper_is_evolve(boundary):
    grid, problem, p0 = _ou(boundary=boundary)
    times = [0.0, 0.3, 1.0, 4.0]
    run = fp.evolve(problem, p0, times, tolerance=1e-7)
    p = ev._initial_density(p0, grid)  # evolve's normalisation, to the last bit
    stepper = ev._TRBDF2Stepper(assemble(problem), p.ravel(), 0.0, grid, tolerance=1e-7, dt0=None)
    densities = [p]
    for t_out in times[1:]:
        while not stepper.reached(t_out):
            stepper.step(t_out)
        densities.append(stepper.p.reshape(grid.shape))
    np.testing.assert_array_equal(run.densities, np.stack(densities))
    assert (run.n_steps, run.n_rejected, run.n_factorizations) == (
        stepper.n_steps, stepper.n_rejected, stepper.n_factorizations)
    assert run.mass_correction == stepper.mass_correction
    for wall, absorbed in run.absorbed.items():
        assert absorbed[-1] == stepper.absorbed[wall]


def test_time_dependent_stepper_with_constant_fields_is_the_constant_one():
    """The same matrices at every stage: the same steps and densities, two factorisations per attempt."""
    grid, problem, p0 = _ou()
    times = [0.0, 0.5, 2.0]
    constant = fp.evolve(problem, p0, times)
    dynamic = fp.evolve(lambda t: problem, p0, times)
    np.testing.assert_array_equal(constant.densities, dynamic.densities)
    assert (constant.n_steps, constant.n_rejected) == (dynamic.n_steps, dynamic.n_rejected)
    assert dynamic.n_factorizations == 2 * (dynamic.n_steps + dynamic.n_rejected)


def test_one_trbdf2_step_is_the_two_stage_formula():
    """``p_γ = (I − γΔt/2 L)⁻¹ (I + γΔt/2 L) p``, ``p₁ = (I − γΔt/2 L)⁻¹ (p_γ − (1−γ)² p) / (γ(2−γ))``."""
    grid, problem, p0 = _ou(n=60)
    op = assemble(problem)
    stepper = ev._TRBDF2Stepper(op, p0.ravel(), 0.0, grid, tolerance=1.0, dt0=0.05)
    stepper.step(1.0)
    L = op.matrix.toarray()
    g, dt = ev.GAMMA, 0.05
    A = np.eye(grid.size) - 0.5 * g * dt * L
    p_g = sla.solve(A, p0.ravel() + 0.5 * g * dt * (L @ p0.ravel()))
    p1 = sla.solve(A, (p_g - (1 - g) ** 2 * p0.ravel()) / (g * (2 - g)))
    p1 = np.maximum(p1, 0.0)
    p1 *= p0.sum() / p1.sum()  # the mass projection of a conserving step
    np.testing.assert_allclose(stepper.p, p1, rtol=STEP_RTOL, atol=STEP_RTOL * p1.max())
    assert (stepper.t, stepper.n_steps, stepper.n_rejected) == (dt, 1, 0)


def test_expm_stepper_reaches_each_output_exactly():
    grid, problem, p0 = _ou(n=60)
    stepper = ev._ExpmStepper(assemble(problem), ev._initial_density(p0, grid).ravel(), 0.0, grid)
    assert stepper.step(0.7) == 0.7 and stepper.reached(0.7) and stepper.t == 0.7
    run = fp.evolve(problem, p0, [0.0, 0.7], method="expm")
    np.testing.assert_array_equal(run.densities[-1].ravel(), stepper.p)
