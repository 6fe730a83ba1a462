"""The TanhNet gradient written for the SGD chains (the batch loop ``_grad_tanh_net``, which the
seven-parameter specialised loop is pinned to bit for bit in tests/test_sgd.py) against the
field kernels' gradient (the model's point kernel, ``fpsolve._kernels.models``): the two copies
sum in different orders, so they agree to round-off, for one, two and three hidden units."""

import numpy as np
import pytest

import fpsolve as fp
from fpsolve._kernels import sgd as sk

GRADIENT_RTOL = 1e-11  # 200 samples summed in two orders: round-off of |∇L| ~ 1e3 terms


@pytest.mark.parametrize("hidden", [1, 2, 3])
def test_sgd_batch_gradient_is_the_field_gradient(hidden):
    x, y, w_min = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhNet(hidden=hidden), x, y, noise_std=0.1, weight_decay=1e-3)
    d, N = land.n_params, land.n_samples
    rng = np.random.default_rng(hidden)
    for w in rng.normal(0.0, 1.0, (5, d)):
        g = np.empty(d)
        sk._grad_tanh_net(w, np.ascontiguousarray(land.x), np.ascontiguousarray(land.y),
                          np.arange(N, dtype=np.int64), 0, N, 1.0 / land.noise_std**2, float(N),
                          land.prior_precision, g, np.empty(2 * N), d)
        reference = land.gradient(w)
        np.testing.assert_allclose(g, reference, rtol=GRADIENT_RTOL, atol=GRADIENT_RTOL * np.abs(reference).max())
