"""Loss landscapes: a model, its data and the loss of docs/theory.md §6.

Per-sample loss (Gaussian likelihood, noise ``σ = noise_std``, weight decay ``λ``)

.. math::  ℓ_i(w) = N (y_i − f(w, x_i))² / (2σ²) + ½ α |w|²,   α = N λ / σ²,

and ``L = (1/N) Σ_i ℓ_i``, the negative log posterior.  For a Bernoulli likelihood
(logistic models) the first term is ``N (softplus(f) − y f)`` and ``α = N λ``.  A model that
carries its own noise and prior (:class:`fpsolve.models.GaussianMean`) supplies ``σ`` and ``α``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from .._kernels import models as _k
from .._checks import real_array, real_number
from ..errors import InputError, InputTypeError, SolverError
from .models import LIKELIHOODS, check_inputs, check_points

BLOCK = 4096  # user models: parameter points per pair of kernel calls, at most,
BUFFER_BYTES = 64 * 2**20  # and fewer where the (block, N, d, d) Hessian buffer would pass this
MINIMIZE_GTOL = 1e-10  # |∇L| below this times max(1, ‖∇²L‖ max(1, |w|)) counts as converged
NEWTON_STEP_RTOL = 1e-10  # a Newton step below this × max(1, |w|): w is converged to 10 digits
POLISH_STEPS = 20  # Newton steps after the trust region (whose loss comparisons stall at round-off)


@dataclass(frozen=True)
class LandscapeFields:
    """Loss and its derivatives at ``P`` parameter points.

    Attributes
    ----------
    w : ndarray, shape (P, d)
        The parameter points.
    loss : ndarray, shape (P,)
        ``L(w)``.
    gradient : ndarray, shape (P, d)
        ``∇L``.
    gradient_covariance : ndarray, shape (P, d, d)
        ``Σ₁ = (1/N) Σ_i (∇ℓ_i − ∇L)(∇ℓ_i − ∇L)ᵀ`` (docs/theory.md §2).
    hessian : ndarray, shape (P, d, d) or None
        ``∇²L`` (when requested).
    hessian_gradient : ndarray, shape (P, d) or None
        ``(1/N) Σ_i ∇²ℓ_i ∇ℓ_i`` (when requested): ``∇ tr Σ₁ = 2 (this − ∇²L ∇L)``.

    See Also
    --------
    fpsolve.Landscape.fields : Computes them.
    """

    w: np.ndarray
    loss: np.ndarray
    gradient: np.ndarray
    gradient_covariance: np.ndarray
    hessian: np.ndarray | None = None
    hessian_gradient: np.ndarray | None = None


@dataclass(frozen=True, eq=False, repr=False)
class Landscape:
    """The loss landscape of a model on a data set (docs/theory.md §2, §6).

    Parameters
    ----------
    model : model following the protocol of ``fpsolve.models``
        The network or regression model (for example :class:`fpsolve.models.TanhNet`).
    x : array_like, shape (N, p) or (N,), or None
        Inputs (``None`` for models without inputs).
    y : array_like, shape (N,)
        Targets.
    noise_std : float, optional
        Observation noise σ of the Gaussian likelihood.  Default: the model's own, else 1.
    weight_decay : float, optional
        λ; adds ``N λ |w|² / (2σ²)`` to every per-sample loss.  Default: the model's own prior,
        else 0.

    Attributes
    ----------
    n_samples, n_params : int
        ``N`` and ``d``.
    prior_precision : float
        Precision of the weight-decay term: ``N λ / σ²`` for a Gaussian likelihood (``N λ``
        otherwise), else the model's own prior precision, else 0.

    Raises
    ------
    InputTypeError
        If ``model`` does not follow the model protocol of ``fpsolve.models``.
    InputError
        For data of the wrong shape or not finite, or a ``noise_std`` or ``weight_decay`` that
        is not a positive (non-negative) finite number.

    See Also
    --------
    fpsolve.SGD : A minibatch scheme on the landscape.

    Examples
    --------
    >>> import numpy as np, fpsolve as fp
    >>> x, y, w_min = fp.datasets.load_adhikari2023()
    >>> land = fp.Landscape(fp.models.TanhNet(hidden=2), x, y, noise_std=0.1, weight_decay=1e-3)
    >>> land.n_samples, land.n_params
    (200, 7)
    >>> bool(abs(land.gradient(w_min)).max() < 1e-6 * land.hessian(w_min).max())
    True
    >>> bool(np.all(np.linalg.eigvalsh(land.hessian(w_min)) > 0))  # a minimum
    True
    """

    model: object
    x: ArrayLike | None
    y: ArrayLike
    noise_std: float | None = None
    weight_decay: float | None = None
    prior_precision: float = field(init=False)

    def __post_init__(self) -> None:
        model = self.model
        for attr in ("n_params", "input_dim", "likelihood", "kernel", "params"):
            if not hasattr(model, attr):
                raise InputTypeError(
                    f"model must follow the fpsolve model protocol (see fpsolve.models); "
                    f"{type(model).__name__} has no attribute {attr!r}"
                )
        if model.likelihood not in LIKELIHOODS:
            raise InputError(f"model.likelihood must be one of {', '.join(LIKELIHOODS)}; got {model.likelihood!r}")
        y = real_array(self.y, "y")
        if y.ndim != 1 or y.size == 0:
            raise InputError(f"y must be a non-empty 1-D array of targets; got shape {np.shape(self.y)}")
        if not np.all(np.isfinite(y)):
            i = int(np.argmax(~np.isfinite(y)))
            raise InputError(f"y must be finite; got y[{i}] = {y[i]}")
        if model.likelihood == "bernoulli" and not np.all((y == 0) | (y == 1)):
            raise InputError(f"y must hold 0 or 1 for a Bernoulli likelihood; got {y[(y != 0) & (y != 1)][0]}")
        X = check_inputs(model, self.x, "x", n=y.size)
        if X.shape[0] != y.size:
            raise InputError(f"x and y must have one row per sample; got {X.shape[0]} inputs and {y.size} targets")
        sigma = self.noise_std if self.noise_std is not None else (getattr(model, "noise_std", None) or 1.0)
        sigma = real_number(sigma, "noise_std")
        if not (np.isfinite(sigma) and sigma > 0):
            raise InputError(f"noise_std must be positive and finite; got {sigma!r}")
        n = y.size
        if self.weight_decay is not None:
            lam = real_number(self.weight_decay, "weight_decay")
            if not (np.isfinite(lam) and lam >= 0):
                raise InputError(f"weight_decay must be non-negative and finite; got {self.weight_decay!r}")
            alpha = n * lam / (sigma**2 if model.likelihood == "gaussian" else 1.0)
        else:
            alpha = float(getattr(model, "prior_precision", None) or 0.0)
        object.__setattr__(self, "x", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "noise_std", float(sigma))
        object.__setattr__(self, "prior_precision", float(alpha))

    def __repr__(self) -> str:
        """Shapes and a summary, not the data (a data set can have thousands of rows)."""
        x = "None" if self.x.size == 0 else f"<array of shape {self.x.shape}>"
        return (f"Landscape(model={self.model!r}, x={x}, y=<{self.y.size} targets in "
                f"[{self.y.min():.4g}, {self.y.max():.4g}]>, noise_std={self.noise_std:g}, "
                f"prior_precision={self.prior_precision:g})")

    # -- sizes ----------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        """N."""
        return int(self.y.size)

    @property
    def n_params(self) -> int:
        """d."""
        return int(self.model.n_params)

    def _loss_terms(self):
        """The kernels' loss constants (``_kernels.models.LossTerms``)."""
        return _k.LossTerms(self.y, LIKELIHOODS[self.model.likelihood], self.noise_std**2,
                            float(self.n_samples), self.prior_precision)

    # -- evaluation -----------------------------------------------------------------
    def fields(self, w: ArrayLike, hessian: bool = True) -> LandscapeFields:
        """Loss, gradient, Σ₁ (and Hessian) at one or many points ``w`` (d,) or (P, d).

        Evaluated by Numba kernels in parallel over the points: fused point by point for the
        built-in models; for a user's model, outputs then reductions in blocks of points.
        """
        return self.fields_over(w, np.arange(self.n_params), hessian)

    def fields_over(self, w: ArrayLike, params: ArrayLike, hessian: bool = True) -> LandscapeFields:
        """:meth:`fields` at points ``w`` (d,) or (P, d) over the parameters ``params`` (n,) only.

        The gradient, Σ₁ and Hessian are the ``params`` blocks of the whole ones (in the order
        of ``params``) and ``hessian_gradient`` is ``mean_i ∇²ℓ_i ∇ℓ_i`` of those blocks: the
        fields of the slice through ``w`` along ``params``.  The model's derivatives are cut
        to the ``params`` columns before the per-sample terms, so this costs what an
        ``n``-parameter landscape costs.

        Raises
        ------
        InputError
            For ``params`` that are not distinct parameter indices ``0..d-1``.
        """
        W = check_points(self.model, w)
        d = self.n_params
        idx = np.atleast_1d(np.asarray(params))
        if (idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer)
                or idx.min() < 0 or idx.max() >= d or np.unique(idx).size != idx.size):
            raise InputError(f"params must be distinct parameter indices in 0..{d - 1}; got {params!r}")
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        P, d, n, N = W.shape[0], self.n_params, idx.size, self.n_samples
        order = 2 if hessian else 1
        loss = np.empty(P)
        grad = np.empty((P, n))
        sigma = np.empty((P, n, n))
        hess = np.empty((P, n, n) if hessian else (1, n, n))  # not written below order 2
        hgrad = np.empty((P, n) if hessian else (1, n))
        if getattr(self.model, "builtin", False):
            _k.fields_builtin(self.model.params, W, self.x, idx, self._loss_terms(), order,
                              _k.FieldArrays(loss, grad, sigma, hess, hgrad))
        else:
            block = max(1, min(BLOCK, BUFFER_BYTES // (8 * N * (d * d if hessian else d))))
            nb = min(P, block)
            F = np.empty((nb, N))
            G = np.empty((nb, N, d))
            Hs = np.zeros((nb, N, d, d) if hessian else (nb, N, 1, 1))
            whole = n == d and bool(np.all(idx == np.arange(d)))
            for s in range(0, P, block):
                e = min(P, s + block)
                m = e - s
                _k.predict_generic(self.model.kernel, self.model.params, W[s:e], self.x, order,
                                   F[:m], G[:m], Hs[:m])
                Gs, Hss = (G[:m], Hs[:m]) if whole else _columns(G[:m], Hs[:m], idx, hessian)
                out = _k.FieldArrays(loss[s:e], grad[s:e], sigma[s:e],
                                     hess[s:e] if hessian else hess, hgrad[s:e] if hessian else hgrad)
                _k.fields_from_outputs(W[s:e], idx, F[:m], Gs, Hss, self._loss_terms(), order, out)
        return LandscapeFields(W, loss, grad, sigma, hess if hessian else None, hgrad if hessian else None)

    def per_sample(self, w: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-sample losses ``ℓ_i`` (N,), gradients ``∇ℓ_i`` (N, d) and Hessians ``∇²ℓ_i`` (N, d, d)
        at one point ``w`` (d,)."""
        W = check_points(self.model, w)
        if W.shape[0] != 1:
            raise InputError(f"w must be one point of shape ({self.n_params},); got shape {np.shape(w)}")
        out = self.model.predict(W, self.x, order=2)
        n, d = self.n_samples, self.n_params
        ell, grads, hess = np.empty((1, n)), np.empty((1, n, d)), np.empty((1, n, d, d))
        _k.per_sample_terms(W, out.value, out.gradient, out.hessian, self._loss_terms(), ell, grads, hess)
        return ell[0], grads[0], hess[0]

    def loss(self, w: ArrayLike) -> float | np.ndarray:
        """``L(w)``: a float for one point, shape (P,) for points (P, d)."""
        return self._one(w, self.fields(w, hessian=False).loss)

    def gradient(self, w: ArrayLike) -> np.ndarray:
        """``∇L``, shape (d,) or (P, d)."""
        return self._one(w, self.fields(w, hessian=False).gradient)

    def hessian(self, w: ArrayLike) -> np.ndarray:
        """``∇²L``, shape (d, d) or (P, d, d)."""
        return self._one(w, self.fields(w, hessian=True).hessian)

    def gradient_covariance(self, w: ArrayLike) -> np.ndarray:
        """Σ₁, shape (d, d) or (P, d, d) (docs/theory.md §2)."""
        return self._one(w, self.fields(w, hessian=False).gradient_covariance)

    def per_sample_gradients(self, w: ArrayLike) -> np.ndarray:
        """``∇ℓ_i`` for every sample at one point, shape (N, d)."""
        return self.per_sample(w)[1]

    @staticmethod
    def _one(w, value):
        return value[0] if np.ndim(w) == 1 else value

    # -- minimisation ---------------------------------------------------------------
    def minimize(self, w0: ArrayLike, gtol: float = MINIMIZE_GTOL, max_iter: int = 200) -> np.ndarray:
        """The local minimiser of ``L`` reached from ``w0`` (trust-region Newton, SciPy ``trust-exact``).

        Converged means ``|∇L| <= gtol · max(1, ‖∇²L‖₂ max(1, |w|))``.

        Raises
        ------
        SolverError
            If the gradient norm stays above that bound (the message gives it).
        """
        return newton_minimize(lambda w: self.fields(w, hessian=True), w0, self.model, gtol, max_iter,
                               "L")


def _columns(G: np.ndarray, Hs: np.ndarray, idx: np.ndarray, hessian: bool):
    """The model derivatives ``G`` (P, N, d) and ``Hs`` (P, N, d, d) cut to the parameters ``idx``."""
    Gs = np.ascontiguousarray(G[:, :, idx])
    Hss = np.ascontiguousarray(Hs[:, :, idx][:, :, :, idx]) if hessian else Hs
    return Gs, Hss


def newton_minimize(evaluate, w0, model, gtol: float, max_iter: int, what: str) -> np.ndarray:
    """Trust-region Newton on a function whose loss, gradient and Hessian ``evaluate(w)`` returns
    (as the ``LandscapeFields`` attributes)."""
    from scipy.optimize import minimize

    w0 = check_points(model, w0, "w0")[0]
    def grad_of(f):
        return f.gradient[0]

    def hess_of(f):
        return f.hessian[0]

    cache: dict = {}

    def get(w):
        key = w.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = evaluate(w)
        return cache[key]

    def bound(w, f):
        return gtol * max(1.0, float(np.linalg.norm(hess_of(f), 2)) * max(1.0, float(np.linalg.norm(w))))

    res = minimize(lambda w: float(get(w).loss[0]), w0, jac=lambda w: grad_of(get(w)),
                   hess=lambda w: hess_of(get(w)), method="trust-exact",
                   options={"gtol": 0.1 * bound(w0, get(w0)), "maxiter": max_iter})
    # Near the minimum the loss decrease falls below the loss round-off and the trust region
    # stalls; plain Newton steps, kept while they reduce |∇L|, take the gradient to its floor.
    w = res.x
    f = evaluate(w)
    gnorm = float(np.linalg.norm(grad_of(f)))
    for _ in range(POLISH_STEPS):
        try:
            trial = w - np.linalg.solve(hess_of(f), grad_of(f))
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(trial)):
            break
        f_trial = evaluate(trial)
        g_trial = float(np.linalg.norm(grad_of(f_trial)))
        if not g_trial < gnorm:
            break
        w, f, gnorm = trial, f_trial, g_trial
    if np.all(np.isfinite(w)) and gnorm > bound(w, f) and _newton_step(hess_of(f), grad_of(f)) <= \
            NEWTON_STEP_RTOL * max(1.0, float(np.linalg.norm(w))):
        return w  # the gradient sits at its round-off floor, but the next Newton step would not move w
    if not np.all(np.isfinite(w)) or gnorm > bound(w, f):
        raise SolverError(
            f"minimisation of {what} from w0={np.array2string(np.asarray(w0), precision=4)} did not "
            f"converge: |gradient| = {gnorm:.3g} after {res.nit} iterations (needed <= {bound(w, f):.3g}); "
            f"try a start closer to a minimum or a larger max_iter"
        )
    return w


def _newton_step(H: np.ndarray, g: np.ndarray) -> float:
    try:
        step = np.linalg.solve(H, g)
    except np.linalg.LinAlgError:
        return float("inf")
    return float(np.linalg.norm(step)) if np.all(np.isfinite(step)) else float("inf")


__all__ = ["Landscape", "LandscapeFields"]
