import numpy as np
import pytest

import fpsolve as fp


def test_attributes_2d():
    grid = fp.Grid(lower=(-3.0, 0.0), upper=(3.0, 1.0), shape=(60, 10), boundary=("reflecting", "periodic"))
    assert grid.ndim == 2 and grid.shape == (60, 10) and grid.size == 600
    assert grid.spacing == pytest.approx((0.1, 0.1))
    assert grid.cell_volume == pytest.approx(0.01)
    assert grid.periodic == (False, True)
    np.testing.assert_allclose(grid.axes[0][:2], [-2.95, -2.85])
    mesh = grid.mesh()
    assert mesh.shape == (2, 60, 10)
    np.testing.assert_allclose(mesh[1, 0], grid.axes[1])


def test_scalar_arguments_make_1d_grid():
    grid = fp.Grid(-1.0, 1.0, 20)
    assert grid.ndim == 1 and grid.boundary == ("reflecting",) and grid.spacing == (0.1,)


def test_grid_is_hashable_and_equal_by_value():
    a = fp.Grid((0, 0), (1, 1), (8, 8))
    b = fp.Grid([0.0, 0.0], [1.0, 1.0], [8, 8], "reflecting")
    assert a == b and hash(a) == hash(b)


def test_coarsen_and_refine():
    grid = fp.Grid((0, 0), (1, 2), (8, 16))
    assert grid.coarsened().shape == (4, 8)
    assert grid.refined().shape == (16, 32)
    with pytest.raises(fp.GridError, match="even number"):
        fp.Grid(0, 1, 9).coarsened()


def test_wrap_periodic_axis_only():
    grid = fp.Grid((0, 0), (1, 1), (4, 4), ("periodic", "reflecting"))
    x = grid.wrap(np.array([[1.25, -0.25], [1.5, 1.5]]))
    np.testing.assert_allclose(x, [[0.25, 0.75], [1.5, 1.5]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lower=(0, 0), upper=(1, -1), shape=(8, 8)), r"upper\[1\]=-1.0 <= lower\[1\]=0.0"),
        (dict(lower=0, upper=0, shape=8), "greater than lower"),
        (dict(lower=0, upper=1, shape=2), "too few cells"),
        (dict(lower=0, upper=1, shape=8.5), "whole numbers"),
        (dict(lower=(0, 0), upper=(1, 1), shape=(8,)), "one entry per axis"),
        (dict(lower=(0,) * 4, upper=(1,) * 4, shape=(4,) * 4), "1 to 3 entries"),
        (dict(lower=0, upper=1, shape=8, boundary="sticky"), "unknown boundary 'sticky'.*reflecting, periodic, absorbing"),
        (dict(lower=(0, 0), upper=(1, 1), shape=(8, 8), boundary=("periodic",)), "one per axis"),
        (dict(lower=0, upper=np.inf, shape=8), "finite"),
    ],
)
def test_bad_grid_rejected(kwargs, match):
    with pytest.raises(fp.GridError, match=match):
        fp.Grid(**kwargs)


def test_grid_error_is_value_error():
    with pytest.raises(ValueError):
        fp.Grid(0, 1, 1)
