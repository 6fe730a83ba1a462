"""Models: analytic derivatives against findiff finite differences, the protocol, bad input."""

import numba
import numpy as np
import pytest
from findiff import Diff

import fpsolve as fp

FD_STEP = 1e-3  # finite-difference spacing in parameter space
FD_ACC = 6  # accuracy order: error ~ FD_STEP**6 * f^(7) ~ 1e-16 relative to O(1) outputs
FD_RTOL = 1e-8  # findiff derivatives against analytic ones (round-off / FD_STEP dominates)


def fd_gradient(func, w, j):
    """∂func/∂w_j at w by a centred 9-point stencil (func returns any array)."""
    offsets = FD_STEP * np.arange(-4, 5)
    values = np.stack([func(w + o * np.eye(w.size)[j]) for o in offsets])
    return Diff(0, FD_STEP, acc=FD_ACC)(values)[4]


MODELS = [
    (fp.models.TanhNet(hidden=2), 1),
    (fp.models.TanhNet(hidden=3), 1),
    (fp.models.TanhUnit(), 1),
    (fp.models.TanhUnit(bias=True), 1),
    (fp.models.LinearRegression(n_features=3), 3),
    (fp.models.LinearRegression(n_features=2, intercept=False), 2),
    (fp.models.LogisticRegression(n_features=2), 2),
    (fp.models.GaussianMean(1.0, 2.0), 0),
    (fp.models.DeepLinearMode(depth=3), 1),
]


@pytest.mark.parametrize("model, p", MODELS, ids=lambda m: repr(m) if not isinstance(m, int) else "")
def test_model_derivatives_match_findiff(model, p):
    rng = np.random.default_rng(0)
    w = rng.normal(size=model.n_params)
    x = rng.normal(size=(5, p))
    out = model.predict(w, x, order=2)
    assert out.value.shape == (1, 5)
    for j in range(model.n_params):
        fd_g = fd_gradient(lambda v: model.predict(v, x).value[0], w, j)
        np.testing.assert_allclose(out.gradient[0, :, j], fd_g, rtol=FD_RTOL, atol=FD_RTOL)
        fd_h = fd_gradient(lambda v: model.predict(v, x, order=1).gradient[0], w, j)
        np.testing.assert_allclose(out.hessian[0, :, :, j], fd_h, rtol=FD_RTOL, atol=FD_RTOL)


def test_tanh_net_parameter_order_is_the_papers():
    w = np.arange(1, 8) / 10.0
    x = np.array([0.3, -1.2])
    f = w[4] * np.tanh(w[0] * x + w[2]) + w[5] * np.tanh(w[1] * x + w[3]) + w[6]
    np.testing.assert_allclose(fp.models.TanhNet(hidden=2).predict(w, x).value[0], f, rtol=1e-15)


def test_built_in_models_share_one_code_per_model_and_their_documentation():
    models = (fp.models.TanhNet(), fp.models.TanhUnit(), fp.models.TanhUnit(bias=True),
              fp.models.LinearRegression(), fp.models.DeepLinearMode(), fp.models.GaussianMean())
    codes = [m.params[0] for m in models]
    assert len(set(codes)) == len(codes)  # each built-in model selects its own kernel branch
    assert fp.models.LogisticRegression().params[0] == fp.models.LinearRegression().params[0]
    assert "{kernel_attributes}" not in fp.models.TanhNet.__doc__
    assert '``("theta",)``' in fp.models.GaussianMean.__doc__

    class Mine(fp.models.TanhNet):  # a user's subclass without a docstring
        pass

    assert Mine().params[0] == fp.models.TanhNet().params[0]


def test_predict_over_many_points_matches_one_at_a_time():
    model = fp.models.TanhNet(hidden=2)
    rng = np.random.default_rng(1)
    W, x = rng.normal(size=(4, 7)), rng.normal(size=6)
    many = model.predict(W, x, order=2)
    for p in range(4):
        one = model.predict(W[p], x, order=2)
        np.testing.assert_array_equal(many.hessian[p], one.hessian[0])


@numba.njit
def quadratic_kernel(w, x, params, grad, hess, order):
    """f = w0 x + w1 x²  (the docs' custom-model example)."""
    if order >= 1:
        grad[0] = x[0]
        grad[1] = x[0] ** 2
    if order >= 2:
        hess[:, :] = 0.0
    return w[0] * x[0] + w[1] * x[0] ** 2


def test_custom_model_follows_the_protocol():
    model = fp.models.CustomModel(quadratic_kernel, n_params=2, input_dim=1, names=("a", "b"))
    assert model.param_names == ("a", "b")
    x = np.linspace(-1, 1, 7)
    y = 0.5 * x - 0.25 * x**2
    land = fp.Landscape(model, x, y, noise_std=0.1)
    w = land.minimize(np.zeros(2))
    np.testing.assert_allclose(w, [0.5, -0.25], rtol=1e-10)
    # same landscape as the built-in linear regression on features (x, x²)
    ref = fp.Landscape(fp.models.LinearRegression(2, intercept=False), np.stack([x, x**2], 1), y, noise_std=0.1)
    v = np.array([0.1, 0.3])
    np.testing.assert_allclose(land.gradient_covariance(v), ref.gradient_covariance(v), rtol=1e-12)


def test_bad_models_are_rejected():
    with pytest.raises(ValueError, match="hidden must be an integer >= 1; got 0"):
        fp.models.TanhNet(hidden=0)
    with pytest.raises(ValueError, match="kernel must be a Numba-compiled function"):
        fp.models.CustomModel(lambda *a: 0.0, n_params=2)
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'; expected one of gaussian, bernoulli"):
        fp.models.CustomModel(quadratic_kernel, n_params=2, likelihood="poisson")
    with pytest.raises(ValueError, match="noise_std must be positive"):
        fp.models.GaussianMean(0.0, 1.0)
    with pytest.raises(ValueError, match="order must be 0, 1 or 2; got 3"):
        fp.models.TanhUnit().predict(np.ones(2), np.ones(3), order=3)
    with pytest.raises(ValueError, match=r"w must have shape \(2,\) or \(P, 2\).*got shape \(3,\)"):
        fp.models.TanhUnit().predict(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\)"):
        fp.models.LinearRegression(2).predict(np.ones(3), np.ones(4))


TANH_ULP = 3  # the kernels' tanh against NumPy's (measured: 2 ulp)
TANH_EXACT_ULP = 1.5  # against tanh in extended precision (measured: 1.22 ulp)


def test_kernel_tanh_is_accurate_to_a_few_ulp():
    from fpsolve._kernels.models import TANH_RATIONAL, tanh

    edge = np.nextafter(TANH_RATIONAL, 0.0)  # the switch between the rational and exp branches
    u = np.concatenate([np.linspace(-30, 30, 20001), np.linspace(-0.7, 0.7, 20001),
                        np.random.default_rng(0).normal(0.0, 2.0, 20000),
                        [0.3, -0.3, 20.0, 22.0, 1e-300, 5e-324, TANH_RATIONAL, edge, -edge]])
    ours = np.array([tanh(v) for v in u])
    ref = np.tanh(u)
    assert np.max(np.abs(ours - ref) / np.spacing(np.abs(ref))) <= TANH_ULP
    if np.finfo(np.longdouble).nmant > np.finfo(float).nmant:  # x86 80-bit or quad long double
        exact = np.tanh(u.astype(np.longdouble))
        err = np.abs(ours.astype(np.longdouble) - exact) / np.spacing(np.abs(ref))
        assert float(err.max()) <= TANH_EXACT_ULP
    assert np.isnan(tanh(np.nan)) and tanh(np.inf) == 1.0 and tanh(-np.inf) == -1.0
    assert tanh(0.0) == 0.0 and np.signbit(tanh(-0.0)) and tanh(-40.0) == -1.0
