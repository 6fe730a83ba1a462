"""The TanhNet gradient of the SGD steps (the batch loop ``_grad_tanh_net``, which the
seven-parameter specialised loop is pinned to bit for bit in tests/test_kernels.py) against the
field kernels' gradient (``Landscape.gradient``): both take ``∂f/∂w`` from the one
``tanh_net_unit`` and sum ``∇ℓ_i = scale r_i ∂f/∂w + α w`` in the same order, so over the whole
data set in order they agree bit for bit, for one, two and three hidden units."""

import numpy as np
import pytest

import fpsolve as fp
from fpsolve._kernels import sgd as sk


@pytest.mark.parametrize("hidden", [1, 2, 3])
def test_sgd_batch_gradient_is_the_field_gradient(hidden):
    x, y, w_min = fp.datasets.load_adhikari2023()
    land = fp.Landscape(fp.models.TanhNet(hidden=hidden), x, y, noise_std=0.1, weight_decay=1e-3)
    d, N = land.n_params, land.n_samples
    rng = np.random.default_rng(hidden)
    for w in rng.normal(0.0, 1.0, (5, d)):
        g = np.empty(d)
        sk._grad_tanh_net(w, np.ascontiguousarray(land.x), np.ascontiguousarray(land.y),
                          np.arange(N, dtype=np.int64), 0, N, land.noise_std**2, float(N),
                          land.prior_precision, g, np.empty(2 * N), d)
        np.testing.assert_array_equal(g, land.gradient(w))
