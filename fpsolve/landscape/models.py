"""Models: parameters ``w`` (d,), inputs ``x`` (p,), one output ``f(w, x)``.

The model protocol
------------------
A model is any object with these attributes:

``n_params`` : int
    Number of parameters ``d``.
``input_dim`` : int
    Length ``p`` of one input (0 for models that ignore ``x``).
``likelihood`` : str
    ``"gaussian"`` (squared error, targets are real) or ``"bernoulli"`` (``f`` is a logit,
    targets are 0 or 1).
``kernel`` : Numba-compiled function
    ``kernel(w, x, params, grad, hess, order) -> f`` for one parameter point ``w`` (d,) and
    one input ``x`` (p,): returns the output, writes ``∂f/∂w`` into ``grad`` (d,) when
    ``order >= 1`` and ``∂²f/∂w²`` into ``hess`` (d, d) when ``order >= 2``.  Derivatives are
    analytic.
``params`` : ndarray
    Constants handed to the kernel (may be empty).
``param_names`` : tuple of str
    One name per parameter.
``noise_std``, ``prior_precision`` : float or None
    The model's own observation noise and prior precision, if it carries them
    (:class:`GaussianMean`); ``None`` otherwise.

:class:`CustomModel` wraps a user's kernel; see ``docs/landscapes.md`` for an example.
The loss is built by :class:`fpsolve.Landscape` from the likelihood (docs/theory.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .._checks import real_array
from ..errors import InputError

from .._kernels import models as _k

LIKELIHOODS = {"gaussian": _k.GAUSSIAN, "bernoulli": _k.BERNOULLI}


@dataclass(frozen=True)
class Outputs:
    """Model outputs at ``P`` parameter points and ``N`` inputs.

    Attributes
    ----------
    value : ndarray, shape (P, N)
        ``f(w, x)`` for every point and input.
    gradient : ndarray, shape (P, N, d) or None
        ``∂f/∂w`` (``order >= 1``).
    hessian : ndarray, shape (P, N, d, d) or None
        ``∂²f/∂w²`` (``order >= 2``).

    See Also
    --------
    fpsolve.models.Model.predict : Computes them.
    """

    value: np.ndarray
    gradient: np.ndarray | None
    hessian: np.ndarray | None


class Model:
    """Base class of the models: batched evaluation over parameter points and inputs.

    Subclasses set the attributes of the model protocol (module docstring).

    Attributes
    ----------
    n_params : int
        Number of parameters ``d``.
    input_dim : int
        Length ``p`` of one input (0 for models without inputs).
    likelihood : str
        ``"gaussian"`` or ``"bernoulli"``.
    noise_std, prior_precision : float or None
        The model's own observation noise and prior precision, if it carries them.
    params : ndarray
        Constants handed to the kernel.
    param_names : tuple of str
        One name per parameter (default ``w1 … wd``).
    builtin : bool
        Whether the model runs on the cached built-in kernels.
    """

    n_params: int
    input_dim: int
    likelihood: str = "gaussian"
    noise_std: float | None = None
    prior_precision: float | None = None

    @property
    def params(self) -> np.ndarray:  # pragma: no cover - overridden
        """Constants handed to the kernel."""
        return np.empty(0)

    @property
    def param_names(self) -> tuple[str, ...]:
        """One name per parameter: ``w1 … wd``."""
        return tuple(f"w{i + 1}" for i in range(self.n_params))

    @property
    def builtin(self) -> bool:
        """Whether the model runs on the cached built-in kernels."""
        return False

    def _predict(self, W, X, order, F, G, Hs) -> None:
        """Fill ``F`` (P, N), ``G`` (P, N, d), ``Hs`` (P, N, d, d) from the model kernel."""
        if self.builtin:
            _k.predict_builtin(self.params, W, X, order, F, G, Hs)
        else:
            _k.predict_generic(self.kernel, self.params, W, X, order, F, G, Hs)

    def predict(self, w, x, order: int = 0) -> Outputs:
        """Outputs (and derivatives up to ``order``) at parameter points ``w`` and inputs ``x``.

        Parameters
        ----------
        w : array_like, shape (d,) or (P, d)
            Parameter points.
        x : array_like, shape (N, p), or (N,) when p == 1
            Inputs.
        order : {0, 1, 2}
            Highest derivative with respect to ``w`` computed.

        Returns
        -------
        Outputs
            With a leading axis of length P (1 when ``w`` is one point).

        Raises
        ------
        InputError
            For a bad ``order``, or points or inputs of the wrong shape or not finite.
        """
        if order not in (0, 1, 2):
            raise InputError(f"order must be 0, 1 or 2; got {order!r}")
        W = check_points(self, w)
        X = check_inputs(self, x, "x")
        P, N, d = W.shape[0], X.shape[0], self.n_params
        F = np.empty((P, N))
        G = np.zeros((P, N, d))
        Hs = np.zeros((P, N, d, d) if order >= 2 else (P, N, 1, 1))  # untouched below order 2
        self._predict(W, X, order, F, G, Hs)
        return Outputs(F, G if order >= 1 else None, Hs if order >= 2 else None)


def check_points(model, w, name: str = "w") -> np.ndarray:
    """``w`` as a C-contiguous float array of shape (P, d)."""
    W = real_array(w, name)
    if W.ndim == 1:
        W = W[None]
    if W.ndim != 2 or W.shape[1] != model.n_params:
        raise InputError(
            f"{name} must have shape ({model.n_params},) or (P, {model.n_params}) for a model with "
            f"{model.n_params} parameters; got shape {np.shape(w)}"
        )
    if not np.all(np.isfinite(W)):
        raise InputError(f"{name} must be finite; got {W[~np.isfinite(W)][0]} in {name}")
    return np.ascontiguousarray(W)


def check_inputs(model, x, name: str = "x", n: int | None = None) -> np.ndarray:
    """Inputs as a float array of shape (N, p); ``None`` is allowed for models without inputs."""
    p = model.input_dim
    if x is None:
        if p != 0:
            raise InputError(f"{name} must be given: the model takes inputs of length {p}")
        if n is None:
            raise InputError(f"{name}=None needs the number of samples from y")
        return np.zeros((n, 0))
    X = real_array(x, name)
    if X.ndim == 1 and p == 1:
        X = X[:, None]
    if X.ndim == 1 and p == 0:
        X = np.zeros((X.shape[0], 0))
    if X.ndim != 2 or X.shape[1] != p:
        expected = f"(N, {p})" + (" or (N,)" if p == 1 else "")
        raise InputError(f"{name} must have shape {expected} for this model; got shape {np.shape(x)}")
    if not np.all(np.isfinite(X)):
        row = int(np.argwhere(~np.isfinite(X))[0, 0])
        raise InputError(f"{name} must be finite; got {X[row]} in row {row}")
    return np.ascontiguousarray(X)


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


# The built-in models' Attributes entries for the kernel, filled into each class docstring at
# ``{kernel_attributes}`` (``param_names`` from the class's own property docstring, if it has one).
_KERNEL_ATTRIBUTES = """params : ndarray
        Constants handed to the kernel (the built-in model's code).
    param_names : tuple of str
        {param_names}
    kernel : Numba-compiled function
        ``kernel(w, x, params, grad, hess, order) -> f`` for one point (the module's protocol)."""


@dataclass(frozen=True)
class _Builtin(Model):
    _code = -1  # the built-in model's code in the shared kernel (fpsolve._kernels.models)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__doc__ is None:  # a user's subclass without a docstring
            return
        names = vars(cls).get("param_names")
        names_doc = names.__doc__ if names is not None else '``("w1", …, "wd")``.'
        cls.__doc__ = cls.__doc__.replace("{kernel_attributes}",
                                          _KERNEL_ATTRIBUTES.format(param_names=names_doc))

    @property
    def params(self) -> np.ndarray:
        """The built-in model's code."""
        return np.array([float(self._code)])

    @property
    def builtin(self) -> bool:
        """True: the model runs on the cached built-in kernels."""
        return True

    @property
    def kernel(self) -> Callable:
        """The built-in models' shared point kernel (``params`` selects the model)."""
        return _k.builtin_point


@dataclass(frozen=True)
class TanhNet(_Builtin):
    """One hidden tanh layer, scalar input: ``f = Σ_h v_h tanh(a_h x + c_h) + b``.

    Parameters are ordered ``(a_1..a_H, c_1..c_H, v_1..v_H, b)``, so for ``hidden=2`` they are
    the paper's ``w1..w7`` in ``f = w5 tanh(w1 x + w3) + w6 tanh(w2 x + w4) + w7``
    (docs/theory.md §6).

    Parameters
    ----------
    hidden : int
        Number of hidden units ``H``.

    Attributes
    ----------
    n_params : int
        Number of parameters ``d``: ``3 H + 1``.
    input_dim : int
        Length ``p`` of one input: 1.
    likelihood : str
        ``"gaussian"`` (squared error).
    {kernel_attributes}

    Raises
    ------
    InputError
        If ``hidden`` is not an integer >= 1.

    Examples
    --------
    >>> import fpsolve as fp
    >>> net = fp.models.TanhNet(hidden=2)
    >>> net.n_params, net.param_names
    (7, ('w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'))
    >>> out = net.predict([1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.5], [0.0, 1.0], order=1)
    >>> out.value.round(4)  # 2 tanh(x) + 0.5
    array([[0.5   , 2.0232]])
    """

    hidden: int = 2

    def __post_init__(self) -> None:
        _positive_int(self.hidden, "hidden")

    @property
    def n_params(self) -> int:
        """``3 H + 1``."""
        return 3 * self.hidden + 1

    input_dim = 1
    _code = _k.TANH_NET


@dataclass(frozen=True)
class TanhUnit(_Builtin):
    """``f = w2 tanh(w1 x)`` (2 parameters) or with ``bias=True`` ``f = w2 tanh(w1 x + w3)``.

    The 2- and 3-parameter relatives of :class:`TanhNet`, small enough for grid work.

    Parameters
    ----------
    bias : bool
        Add the bias ``w3`` inside the tanh.

    Attributes
    ----------
    n_params : int
        Number of parameters ``d``: 2, or 3 with ``bias``.
    input_dim : int
        Length ``p`` of one input: 1.
    likelihood : str
        ``"gaussian"`` (squared error).
    {kernel_attributes}
    """

    bias: bool = False
    input_dim = 1

    @property
    def n_params(self) -> int:
        """2, or 3 with ``bias``."""
        return 3 if self.bias else 2

    @property
    def _code(self) -> int:  # type: ignore[override]
        return _k.TANH_UNIT_BIAS if self.bias else _k.TANH_UNIT


@dataclass(frozen=True)
class LinearRegression(_Builtin):
    """``f = w[:p]·x (+ w[p])``: linear regression on ``n_features`` inputs.

    Parameters
    ----------
    n_features : int
        Number of inputs ``p``.
    intercept : bool
        Add the intercept ``w[p]``.

    Attributes
    ----------
    n_params : int
        Number of parameters ``d``: ``p`` (+ 1 with ``intercept``).
    input_dim : int
        Length ``p`` of one input: ``n_features``.
    likelihood : str
        ``"gaussian"`` (squared error).
    {kernel_attributes}

    Raises
    ------
    InputError
        If ``n_features`` is not an integer >= 1.
    """

    n_features: int = 1
    intercept: bool = True

    def __post_init__(self) -> None:
        _positive_int(self.n_features, "n_features")

    @property
    def n_params(self) -> int:
        """``n_features`` (+ 1 with ``intercept``)."""
        return self.n_features + int(self.intercept)

    @property
    def input_dim(self) -> int:  # type: ignore[override]
        """``n_features``."""
        return self.n_features

    _code = _k.LINEAR


@dataclass(frozen=True)
class LogisticRegression(LinearRegression):
    """Logistic regression: logit ``f = w[:p]·x (+ w[p])``, targets 0 or 1 (Bernoulli likelihood).

    Parameters
    ----------
    n_features : int
        Number of inputs ``p``.
    intercept : bool
        Add the intercept ``w[p]``.

    Attributes
    ----------
    n_params : int
        Number of parameters ``d``: ``p`` (+ 1 with ``intercept``).
    input_dim : int
        Length ``p`` of one input: ``n_features``.
    likelihood : str
        ``"bernoulli"`` (``f`` is a logit).
    {kernel_attributes}
    """

    likelihood = "bernoulli"


@dataclass(frozen=True)
class GaussianMean(_Builtin):
    """The mean θ of Gaussian data (docs/theory.md §2): ``y_i ~ N(θ, noise_std²)``, prior ``N(0, prior_std²)``.

    One parameter, no inputs.  The model carries its noise and prior, so
    ``fp.Landscape(fp.models.GaussianMean(s, s0), None, y)`` is the negative log posterior
    ``L = Σ_i (y_i − θ)² / (2 s²) + θ² / (2 s0²)``, with Hessian ``N / s² + 1 / s0²``.

    Parameters
    ----------
    noise_std : float
        ``s > 0``, the standard deviation of the data.
    prior_std : float
        ``s0 > 0``; ``np.inf`` (default) for a flat prior.

    Attributes
    ----------
    n_params : int
        Number of parameters ``d``: 1.
    input_dim : int
        Length ``p`` of one input: 0 (no inputs).
    likelihood : str
        ``"gaussian"`` (squared error).
    {kernel_attributes}
    prior_precision : float
        ``1 / s0²``.

    Raises
    ------
    InputError
        If ``noise_std`` is not positive and finite or ``prior_std`` is not positive.
    """

    noise_std: float = 1.0  # type: ignore[assignment]
    prior_std: float = np.inf
    input_dim = 0
    n_params = 1

    def __post_init__(self) -> None:
        if not (np.isfinite(self.noise_std) and self.noise_std > 0):
            raise InputError(f"noise_std must be positive and finite; got {self.noise_std!r}")
        if not self.prior_std > 0:
            raise InputError(f"prior_std must be positive (np.inf for a flat prior); got {self.prior_std!r}")

    @property
    def prior_precision(self) -> float:  # type: ignore[override]
        """``1 / prior_std²``."""
        return 1.0 / self.prior_std**2

    _code = _k.CONSTANT

    @property
    def param_names(self) -> tuple[str, ...]:
        """``("theta",)``."""
        return ("theta",)


@dataclass(frozen=True)
class DeepLinearMode(_Builtin):
    """One mode of a deep linear network (docs/theory.md §5): ``f = (a_1 a_2 … a_depth) x``.

    Scalar input and output; the mode strength is ``s = Π_l a_l`` (balanced: ``a_l = s^(1/depth)``).
    With ``depth=1`` and loss ``½ (y − w x)²`` (``noise_std = sqrt(N)`` in :class:`fpsolve.Landscape`)
    this is the exactly solvable multiplicative-noise example.

    Parameters
    ----------
    depth : int
        Number of layers (factors ``a_l``).

    Attributes
    ----------
    n_params : int
        Number of parameters ``d``: ``depth``.
    input_dim : int
        Length ``p`` of one input: 1.
    likelihood : str
        ``"gaussian"`` (squared error).
    {kernel_attributes}

    Raises
    ------
    InputError
        If ``depth`` is not an integer >= 1.
    """

    depth: int = 1
    input_dim = 1

    def __post_init__(self) -> None:
        _positive_int(self.depth, "depth")

    @property
    def n_params(self) -> int:
        """``depth``."""
        return self.depth

    _code = _k.DEEP_LINEAR


@dataclass(frozen=True)
class CustomModel(Model):
    """A user's model following the protocol (see the module docstring).

    Parameters
    ----------
    kernel : Numba ``@njit`` function ``(w, x, params, grad, hess, order) -> f``
        Returns ``f`` for one point ``w`` (d,) and one input ``x`` (p,), and writes ``∂f/∂w``
        into ``grad`` (``order >= 1``) and ``∂²f/∂w²`` into ``hess`` (``order >= 2``).
    n_params : int
        Number of parameters ``d``.
    input_dim : int
        Length ``p`` of one input (0 for none).
    likelihood : {"gaussian", "bernoulli"}
        Squared error, or ``f`` a logit with targets 0 or 1.
    constants : array_like, optional
        Constants passed to the kernel as its ``params`` argument (flattened to float).
    names : tuple of str, optional
        Parameter names (default ``w1 … wd``).

    Attributes
    ----------
    params : ndarray
        ``constants`` as a flat float array.
    param_names : tuple of str
        ``names``, or ``w1 … wd``.

    Raises
    ------
    InputError
        If ``kernel`` is not Numba-compiled, ``n_params`` or ``input_dim`` is not a suitable
        integer, the likelihood is unknown, or ``names`` has the wrong length.

    Notes
    -----
    Kernels passed in by the user compile once per process (Numba cannot cache a kernel that
    receives another compiled function); the built-in models load from the disk cache.

    Examples
    --------
    >>> import numba, fpsolve as fp
    >>> @numba.njit
    ... def quadratic(w, x, params, grad, hess, order):  # f = a x + b x²
    ...     if order >= 1:
    ...         grad[0] = x[0]
    ...         grad[1] = x[0] ** 2
    ...     if order >= 2:
    ...         hess[:, :] = 0.0
    ...     return w[0] * x[0] + w[1] * x[0] ** 2
    >>> model = fp.models.CustomModel(quadratic, n_params=2, input_dim=1, names=("a", "b"))
    >>> out = model.predict([1.0, 0.5], [2.0], order=1)
    >>> model.param_names, out.value.tolist(), out.gradient.tolist()
    (('a', 'b'), [[4.0]], [[[2.0, 4.0]]])
    """

    kernel: Any
    n_params: int  # type: ignore[misc]
    input_dim: int = 1  # type: ignore[misc]
    likelihood: str = "gaussian"
    constants: Any = field(default_factory=lambda: np.empty(0))
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not hasattr(self.kernel, "py_func"):
            raise InputError(
                f"kernel must be a Numba-compiled function (decorate it with numba.njit); got "
                f"{type(self.kernel).__name__}"
            )
        _positive_int(self.n_params, "n_params")
        _positive_int(self.input_dim, "input_dim", minimum=0)
        if self.likelihood not in LIKELIHOODS:
            raise InputError(
                f"unknown likelihood {self.likelihood!r}; expected one of {', '.join(LIKELIHOODS)}"
            )
        object.__setattr__(self, "constants", np.ascontiguousarray(self.constants, dtype=float).ravel())
        if self.names is not None and len(self.names) != self.n_params:
            raise InputError(f"names must have {self.n_params} entries; got {len(self.names)}")

    @property
    def params(self) -> np.ndarray:
        """``constants`` as a flat float array."""
        return self.constants

    @property
    def param_names(self) -> tuple[str, ...]:
        """``names``, or ``w1 … wd``."""
        return tuple(self.names) if self.names is not None else super().param_names


__all__ = [
    "CustomModel",
    "DeepLinearMode",
    "GaussianMean",
    "LinearRegression",
    "LogisticRegression",
    "Model",
    "Outputs",
    "TanhNet",
    "TanhUnit",
]


# -- softmax regression (multi-class; its own loss, outside the scalar-output protocol) ------
MIN_NEWTON_GTOL = 1e-10  # softmax minimum: |∇L|∞ below this (the loss is strictly convex with decay)


@dataclass(frozen=True)
class SoftmaxRegression:
    """Softmax (multinomial logistic) regression with weight decay, ``d = n_classes (n_features + 1)``.

    Its outputs are ``n_classes`` logits ``z_c = W_c · (x, 1)``, so it has its own loss rather
    than the scalar-output protocol above: per-sample loss
    ``ℓ_i = −ln softmax(z)_{y_i} + ½ λ |w|²`` and ``L = (1/N) Σ_i ℓ_i`` (strictly convex for
    ``λ > 0``).  Weights are class-major, ``w[c (p+1) + j]`` (``j = p`` the bias).  Gradients,
    per-sample gradients, ``Σ₁`` and the Hessian
    ``H = (1/N) Σ_i (diag π_i − π_i π_iᵀ) ⊗ x̃_i x̃_iᵀ + λ I`` are analytic (Numba kernels in
    ``fpsolve._kernels.softmax``), as is minibatch SGD (:meth:`sgd`).

    Parameters
    ----------
    n_features, n_classes : int
        Input length ``p`` and number of classes (at least 2).
    weight_decay : float
        ``λ >= 0``.

    Attributes
    ----------
    n_params : int
        ``d = n_classes (n_features + 1)``.

    Raises
    ------
    InputError
        If ``n_features`` or ``n_classes`` is not a suitable integer.
    ValueError
        If ``weight_decay`` is negative or not finite.
    """

    n_features: int
    n_classes: int
    weight_decay: float = 1e-3

    def __post_init__(self) -> None:
        _positive_int(self.n_features, "n_features")
        _positive_int(self.n_classes, "n_classes", minimum=2)
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be finite and >= 0; got {self.weight_decay!r}")

    @property
    def n_params(self) -> int:
        """``d = n_classes (n_features + 1)``."""
        return self.n_classes * (self.n_features + 1)

    @staticmethod
    def digits() -> tuple[np.ndarray, np.ndarray]:
        """scikit-learn's bundled 8×8 digits: inputs ``(1797, 64)`` scaled to ``[0, 1]`` and labels.

        Needs the ``digits`` extra (``pip install fpsolve[digits]``), used only for this data.
        """
        try:
            from sklearn.datasets import load_digits
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the digits data come with scikit-learn: install the 'digits' extra "
                "(pip install 'fpsolve[digits]')") from exc
        data = load_digits()
        return data.data / 16.0, data.target.astype(np.int64)

    def _data(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        X = np.ascontiguousarray(x, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"x must have shape (N, {self.n_features}); got {np.shape(x)}")
        Y = np.asarray(y)
        if Y.shape != (X.shape[0],) or not np.issubdtype(Y.dtype, np.integer):
            raise ValueError(f"y must be integer labels of shape ({X.shape[0]},); got {Y.dtype} {Y.shape}")
        if Y.min() < 0 or Y.max() >= self.n_classes:
            raise ValueError(f"y must lie in 0..{self.n_classes - 1}; got {Y.min()}..{Y.max()}")
        return X, np.ascontiguousarray(Y, dtype=np.int64)

    def _weights(self, w) -> np.ndarray:
        W = np.ascontiguousarray(w, dtype=float)
        if W.shape != (self.n_params,):
            raise ValueError(f"w must have shape ({self.n_params},); got {W.shape}")
        return W

    def _per_sample(self, w, x, y):
        from .._kernels import softmax as _s

        X, Y = self._data(x, y)
        w = self._weights(w)
        N = X.shape[0]
        loss, grad, prob = np.empty(N), np.empty((N, self.n_params)), np.empty((N, self.n_classes))
        _s.per_sample(w, X, Y, self.n_classes, loss, grad, prob)
        return X, w, loss, grad, prob

    def loss(self, w, x, y) -> float:
        """``L(w)``."""
        _, w, loss, _, _ = self._per_sample(w, x, y)
        return float(loss.mean() + 0.5 * self.weight_decay * w @ w)

    def per_sample_gradients(self, w, x, y) -> np.ndarray:
        """``∇ℓ_i`` for every sample, shape (N, d)."""
        _, w, _, grad, _ = self._per_sample(w, x, y)
        return grad + self.weight_decay * w

    def gradient(self, w, x, y) -> np.ndarray:
        """``∇L``, shape (d,)."""
        return self.per_sample_gradients(w, x, y).mean(axis=0)

    def gradient_covariance(self, w, x, y) -> np.ndarray:
        """``Σ₁ = (1/N) Σ_i (∇ℓ_i − ∇L)(∇ℓ_i − ∇L)ᵀ``, shape (d, d)."""
        G = self.per_sample_gradients(w, x, y)
        G = G - G.mean(axis=0)
        return G.T @ G / G.shape[0]

    def hessian(self, w, x, y) -> np.ndarray:
        """``∇²L``, shape (d, d), as one matrix product over samples."""
        X, w, _, _, prob = self._per_sample(w, x, y)
        N, K, q = X.shape[0], self.n_classes, self.n_features + 1
        Xt = np.concatenate([X, np.ones((N, 1))], axis=1)
        A = (np.einsum("nc,cd->ncd", prob, np.eye(K)) - np.einsum("nc,nd->ncd", prob, prob)).reshape(N, K * K)
        B = np.einsum("ni,nj->nij", Xt, Xt).reshape(N, q * q)
        H = (A.T @ B / N).reshape(K, K, q, q).transpose(0, 2, 1, 3).reshape(K * q, K * q)
        return 0.5 * (H + H.T) + self.weight_decay * np.eye(K * q)

    def minimize(self, x, y, w0=None, max_steps: int = 100) -> np.ndarray:
        """The minimum of ``L`` by Newton's method (``λ > 0``: strictly convex)."""
        if not self.weight_decay > 0:
            raise ValueError("minimize needs weight_decay > 0 (without it the minimum is not unique)")
        w = np.zeros(self.n_params) if w0 is None else self._weights(w0).copy()
        for _ in range(max_steps):
            g = self.gradient(w, x, y)
            if np.abs(g).max() < MIN_NEWTON_GTOL:
                return w
            step = np.linalg.solve(self.hessian(w, x, y), g)
            t = 1.0  # backtracking keeps the loss decreasing far from the minimum
            f0 = self.loss(w, x, y)
            while self.loss(w - t * step, x, y) > f0 - 1e-4 * t * (g @ step) and t > 1e-8:
                t *= 0.5
            w = w - t * step
        raise ValueError(f"Newton's method did not reach |∇L| < {MIN_NEWTON_GTOL:g} in {max_steps} steps; "
                         f"|∇L| = {np.abs(self.gradient(w, x, y)).max():.3g}")

    def sgd(self, x, y, w0, learning_rate: float, batch_size: int, n_steps: int, n_chains: int = 1,
            record_every: int = 1, rng: int = 0, *, burn_in: int = 0, center=None,
            basis=None) -> np.ndarray:
        """Minibatch SGD with replacement (``b`` distinct indices, fresh each step) from ``w0``.

        Returns the records ``(n_chains, (n_steps − burn_in) // record_every + 1, m)``: after
        steps ``burn_in, burn_in + record_every, …`` (SDE time ``step · learning_rate``), ``w``
        (``m = d``) or, with ``basis`` (m, d), the projection ``basis @ (w − center)``; ``nan``
        after divergence.  ``rng`` is an integer seed (chain ``c`` draws from the stream
        ``(seed, c)``).
        """
        from .._kernels import softmax as _s

        X, Y = self._data(x, y)
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be positive; got {learning_rate!r}")
        b = _positive_int(batch_size, "batch_size")
        if b > X.shape[0]:
            raise ValueError(f"batch_size must be at most N={X.shape[0]}; got {b}")
        n_steps = _positive_int(n_steps, "n_steps")
        n_chains = _positive_int(n_chains, "n_chains")
        record_every = _positive_int(record_every, "record_every")
        if isinstance(burn_in, bool) or not isinstance(burn_in, (int, np.integer)) or not 0 <= burn_in <= n_steps:
            raise ValueError(f"burn_in must be an integer in [0, n_steps={n_steps}]; got {burn_in!r}")
        d = self.n_params
        W0 = np.ascontiguousarray(np.broadcast_to(np.asarray(w0, dtype=float), (n_chains, d)))
        if basis is None:
            B = np.zeros((0, d))
            c0 = np.zeros(d)
        else:
            B = np.ascontiguousarray(basis, dtype=float)
            if B.ndim != 2 or B.shape[1] != d:
                raise ValueError(f"basis must have shape (m, {d}); got {np.shape(basis)}")
            c0 = np.zeros(d) if center is None else self._weights(center)
        m = d if basis is None else B.shape[0]
        records = np.full((n_chains, (n_steps - int(burn_in)) // record_every + 1, m), np.nan)
        perm = np.empty((n_chains, X.shape[0]), dtype=np.int64)
        _s.sgd_chains(W0, _s.SoftmaxData(X, Y, self.n_classes, float(self.weight_decay)),
                      _s.SoftmaxRun(float(learning_rate), b, n_steps, int(burn_in), record_every, int(rng)),
                      _s.Projection(c0, B), records, perm)
        return records


__all__ += ["SoftmaxRegression"]
