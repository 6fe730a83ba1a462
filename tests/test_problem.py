import numpy as np
import pytest

import fpsolve as fp


@pytest.fixture
def grid2():
    return fp.Grid((-1, -1), (1, 1), (8, 8))


def test_diffusion_forms_are_normalised(grid2):
    drift = np.zeros((2, 8, 8))
    scalar = fp.FokkerPlanck(grid2, drift, 0.5)
    assert scalar.constant_diffusion and np.allclose(scalar.diffusion_field, 0.5 * np.eye(2))
    matrix = fp.FokkerPlanck(grid2, drift, [[1.0, 0.2], [0.2, 0.5]])
    assert matrix.constant_diffusion and matrix.diffusion_field[0, 1] == 0.2
    isotropic = fp.FokkerPlanck(grid2, drift, np.full((8, 8), 0.3))
    assert not isotropic.constant_diffusion and isotropic.diffusion_field.shape == (2, 2, 8, 8)
    tensor = fp.FokkerPlanck(grid2, drift, lambda x: np.einsum("ij,...->ij...", np.eye(2), 1 + x[0] ** 2))
    assert tensor.diffusion_field[0, 0, 0, 0] == pytest.approx(1 + grid2.axes[0][0] ** 2)


def test_1d_fields_accept_plain_arrays():
    grid = fp.Grid(0, 1, 10)
    problem = fp.FokkerPlanck(grid, drift=np.ones(10), diffusion=np.full(10, 2.0))
    assert problem.drift_field.shape == (1, 10) and problem.diffusion_field.shape == (1, 1, 10)


def test_nonfinite_drift_names_location(grid2):
    def drift(x):
        out = -x.copy()
        out[1, 2, 5] = np.nan
        return out

    x = grid2.point((2, 5))
    with pytest.raises(fp.FieldError, match=rf"drift is not finite at x=\({x[0]:.6g}, {x[1]:.6g}\).*component \(1,\) is nan"):
        fp.FokkerPlanck(grid2, drift, 1.0)


def test_nonfinite_diffusion(grid2):
    D = np.broadcast_to(np.eye(2)[..., None, None], (2, 2, 8, 8)).copy()
    D[0, 0, 3, 3] = np.inf
    with pytest.raises(fp.FieldError, match=r"diffusion is not finite at .*cell \(3, 3\)"):
        fp.FokkerPlanck(grid2, np.zeros((2, 8, 8)), D)


def test_not_psd_reports_eigenvalue_and_place(grid2):
    def diffusion(x):
        D = np.einsum("ij,...->ij...", np.eye(2), np.ones_like(x[0]))
        D[0, 1] = D[1, 0] = 2.0 * (x[0] > 0.7)  # eigenvalue 1 - 2 = -1 where x0 > 0.7
        return D

    with pytest.raises(fp.FieldError, match=r"positive semidefinite; got eigenvalue -1 at x=\(0.875"):
        fp.FokkerPlanck(grid2, np.zeros((2, 8, 8)), diffusion)


def test_negative_scalar_diffusion():
    with pytest.raises(fp.FieldError, match="positive semidefinite; got eigenvalue -0.5 at every point"):
        fp.FokkerPlanck(fp.Grid(0, 1, 8), np.zeros(8), -0.5)


def test_asymmetric_diffusion(grid2):
    with pytest.raises(fp.FieldError, match="symmetric"):
        fp.FokkerPlanck(grid2, np.zeros((2, 8, 8)), [[1.0, 0.5], [0.0, 1.0]])


@pytest.mark.parametrize(
    "drift, diffusion, match",
    [
        (np.zeros((2, 8, 7)), 1.0, r"drift must have shape \(2, 8, 8\).*got \(2, 8, 7\)"),
        (np.zeros((8, 8)), 1.0, r"drift must have shape"),
        (np.zeros((2, 8, 8)), np.ones((3, 3)), r"diffusion must be a scalar.*got shape \(3, 3\)"),
        (lambda x: x[:1], 1.0, r"drift must have shape"),
    ],
)
def test_mismatched_shapes(grid2, drift, diffusion, match):
    with pytest.raises(fp.FieldError, match=match):
        fp.FokkerPlanck(grid2, drift, diffusion)


def test_grid_argument_type():
    with pytest.raises(fp.FieldError, match="grid must be an fpsolve.Grid"):
        fp.FokkerPlanck((0, 1), np.zeros(3), 1.0)


def test_resampled_array_problem_is_fourth_order():
    def f(x):
        return np.stack((np.sin(2 * x[0]) * x[1], np.cos(x[1]) + x[0] ** 3))

    errors = []
    for n in (32, 64):
        fine = fp.Grid((-1, -1), (1, 1), (n, n))
        problem = fp.FokkerPlanck(fine, f(fine.mesh()), 1.0)
        coarse = fine.coarsened()
        errors.append(np.abs(problem.on(coarse).drift_field - f(coarse.mesh())).max())
    # fourth order: halving h shrinks the error by 2^4 = 16; second order would give 4
    assert errors[0] / errors[1] > 12
