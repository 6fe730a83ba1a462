"""The epoch-level linearised state of without-replacement SGD (docs/theory.md §2).

Only the SGD layer uses it (:meth:`fpsolve.SGD.linearized` with ``scheme="without_replacement"``);
the Gaussian state of any OU process, :func:`fpsolve.linearized`, is in :mod:`fpsolve.solve.gaussian`.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import ArrayLike

from ..errors import FieldError, InputError
from ..solve.gaussian import (
    EQUILIBRIUM_RTOL,
    GaussianState,
    check_learning_rate,
    check_matrix,
    check_mean,
    gaussian_state,
)


def linearized_epoch(hessian: ArrayLike, epoch_covariance: ArrayLike, learning_rate: float,
                     n_steps: int, mean: ArrayLike | None = None,
                     equilibrium_rtol: float = EQUILIBRIUM_RTOL) -> GaussianState:
    """Stationary Gaussian state of an epoch-level linear map (without-replacement SGD, docs/theory.md §2).

    Solves ``C = J C Jᵀ + Cov_epoch`` with ``J = (I − η H)^M``.  The state is reported through
    the continuous OU process whose epoch map is exactly this one: drift matrix
    ``K = −log(I − η H) / η`` (``= H + O(η H²)``) and diffusion ``D = ½ (K C + C Kᵀ)`` (SDE
    time), from which ``Q`` and ``σ`` follow as in :func:`linearized`.

    Parameters
    ----------
    hessian : (d, d)  ``H`` (symmetric, ``0 < η λ < 1`` for all eigenvalues)
    epoch_covariance : (d, d)  covariance of the displacement over one epoch
    learning_rate : float  η
    n_steps : int  M, steps per epoch
    """
    from scipy.linalg import solve_discrete_lyapunov

    t0 = time.perf_counter()
    H = check_matrix(hessian, "hessian")
    d = H.shape[0]
    S = check_matrix(epoch_covariance, "epoch_covariance", d)
    learning_rate = check_learning_rate(learning_rate)
    if learning_rate is None:
        raise InputError("learning_rate must be a positive finite number; got None")
    lam, V = np.linalg.eigh(0.5 * (H + H.T))
    if lam[0] <= 0 or lam[-1] * learning_rate >= 1:
        raise FieldError(
            f"hessian eigenvalues must lie in (0, 1/learning_rate) = (0, {1 / learning_rate:.6g}); got "
            f"[{lam[0]:.6g}, {lam[-1]:.6g}]"
        )
    J = (V * (1 - learning_rate * lam) ** n_steps) @ V.T
    C = solve_discrete_lyapunov(J, 0.5 * (S + S.T))
    K = (V * (-np.log1p(-learning_rate * lam) / learning_rate)) @ V.T
    D = 0.5 * (K @ C + C @ K.T)
    D = 0.5 * (D + D.T)
    mu = check_mean(mean, d)
    return gaussian_state(K, D, C, mu, learning_rate, equilibrium_rtol, "epoch_lyapunov", t0)


__all__ = ["linearized_epoch"]
