"""Linearised (Gaussian) analysis at a minimum, any dimension (docs/theory.md §3).

Near a minimum the SDE is the Ornstein--Uhlenbeck process ``dδ = −H δ dt + B dW`` with
``D = ½ B Bᵀ``.  Its stationary law is ``N(mean, C)`` with ``H C + C Hᵀ = 2 D``; the mean
velocity is ``v = −Q C⁻¹ δ`` with circulation ``Q = ½ (H C − C H)`` and the entropy
production rate is ``σ = −tr(Q D⁻¹ Q C⁻¹)`` (SDE time).  Equilibrium iff ``[H, D] = 0``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .._checks import scalar_float
from ..errors import FieldError, InputError, StabilityError, StabilityWarning
from .grid import Grid
from .problem import as_real

EQUILIBRIUM_RTOL = 1e-8  # ||[H, D]|| <= this * ||H|| ||D||: commuting up to round-off of the inputs
SINGULAR_RTOL = 1e-12  # eigenvalues of D below this * max eigenvalue count as zero
SYMMETRY_RTOL = 1e-10  # D - Dᵀ beyond round-off is an input error
SIGMA_ROUNDOFF = 1e-12  # σ above -this * tr H is round-off of a zero rate, reported as 0
STABILITY_LIMIT = 2.0  # SGD's linear map I − ηH is stable iff η λ < 2 for every eigenvalue λ of H


@dataclass(frozen=True, eq=False)
class GaussianState:
    """Stationary Gaussian state of a linearised Fokker--Planck problem (docs/theory.md §3).

    Attributes
    ----------
    mean : ndarray, shape (d,)
        Centre of the Gaussian (the minimum ``w*``).
    covariance : ndarray, shape (d, d)
        ``C``, the solution of ``H C + C Hᵀ = 2 D`` (SDE time).
    circulation : ndarray, shape (d, d)
        ``Q = ½ (H C − C Hᵀ)`` (antisymmetric; SDE time; ``½ (H C − C H)`` for a Hessian).
    entropy_production : float
        ``σ = −tr(Q D⁻¹ Q C⁻¹)`` per unit SDE time; NaN (with a warning) where ``D`` is singular.
    entropy_production_per_step : float or None
        ``σ η`` when the learning rate is known.
    is_equilibrium : bool
        ``‖[H, D]‖ <= equilibrium_rtol ‖H‖ ‖D‖`` (for a non-symmetric drift matrix:
        ``‖Q‖ <= equilibrium_rtol ‖H‖ ‖C‖``).
    hessian, diffusion : ndarray, shape (d, d)
        The drift matrix ``H`` and diffusion ``D`` (SDE time) the state was built from.
    learning_rate : float or None
        The learning rate η the state was built with, if any.
    method : str
        ``"continuous_lyapunov"`` or ``"epoch_lyapunov"`` (without-replacement SGD).
    ndim : int
        The dimension ``d``.
    status : str
        ``"solved"``: the Lyapunov equation was solved directly (bad inputs raise instead).
    message : str
        What was solved, and the equilibrium verdict with ``σ``; never empty.
    seconds : float
        Wall-clock time spent building the state (for :meth:`fpsolve.SGD.linearized`, the
        landscape's fields and minimum included).

    See Also
    --------
    fpsolve.linearized : Builds it.
    fpsolve.SGD.linearized : The state of an SGD run near a minimum of a landscape.
    """

    mean: np.ndarray
    covariance: np.ndarray
    circulation: np.ndarray
    entropy_production: float
    entropy_production_per_step: float | None
    is_equilibrium: bool
    hessian: np.ndarray
    diffusion: np.ndarray
    learning_rate: float | None = None
    method: str = "continuous_lyapunov"
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """``"solved"`` (the direct Lyapunov solve raises rather than fail)."""
        return "solved"

    @property
    def message(self) -> str:
        """The equation solved and the equilibrium verdict, in words."""
        equation = ("C = J C Jᵀ + Cov_epoch, J = (I − η H)^M" if self.method == "epoch_lyapunov"
                    else "H C + C Hᵀ = 2 D")
        verdict = ("in equilibrium" if self.is_equilibrium
                   else f"out of equilibrium, σ = {self.entropy_production:.4g} per unit SDE time")
        return f"{self.method}: {equation} solved directly (d = {self.ndim}); {verdict}"

    @property
    def ndim(self) -> int:
        """The dimension ``d`` of the state."""
        return int(self.mean.size)

    @property
    def std(self) -> np.ndarray:
        """Marginal standard deviations, shape (d,)."""
        return np.sqrt(np.diag(self.covariance))

    def density(self, x: np.ndarray) -> np.ndarray:
        """Gaussian density at points ``x`` of shape ``(d, *pts)``.

        Parameters
        ----------
        x : ndarray, shape ``(d, *pts)``
            Points, first axis the coordinates (as ``Grid.mesh()`` gives them).

        Returns
        -------
        ndarray, shape ``pts``
        """
        d = self.ndim
        pts = x.shape[1:]
        dx = x.reshape(d, -1) - self.mean[:, None]
        q = np.einsum("in,ij,jn->n", dx, np.linalg.inv(self.covariance), dx)
        norm = np.sqrt((2 * np.pi) ** d * np.linalg.det(self.covariance))
        return (np.exp(-0.5 * q) / norm).reshape(pts)

    def grid(self, n_std: float = 6.0, shape: int | tuple[int, ...] = 64,
             boundary: str | tuple[str, ...] = "reflecting") -> Grid:
        """A grid covering ``mean ± n_std`` marginal standard deviations on every axis (d <= 3).

        Parameters
        ----------
        n_std : float
            Half-width of the box in marginal standard deviations.
        shape : int or tuple of int
            Cells per axis (one int for every axis).
        boundary : str or tuple of str
            As for :class:`~fpsolve.Grid`.

        Returns
        -------
        Grid
        """
        if not n_std > 0:
            raise InputError(f"n_std must be positive; got {n_std!r}")
        half = n_std * self.std
        if not np.all(half > 0):
            raise FieldError(f"the covariance has a zero variance on an axis; got std {self.std}")
        shape = (shape,) * self.ndim if np.ndim(shape) == 0 else tuple(shape)
        return Grid(tuple(self.mean - half), tuple(self.mean + half), shape, boundary)


def check_matrix(value, name: str, d: int | None = None) -> np.ndarray:
    """``value`` as a finite real square matrix (of size ``d`` if given), or a FieldError naming ``name``."""
    arr = np.atleast_2d(as_real(value, name))
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or (d is not None and arr.shape[0] != d):
        expected = f"({d}, {d})" if d is not None else "square (d, d)"
        raise FieldError(f"{name} must be a {expected} matrix; got shape {np.shape(value)}")
    if not np.all(np.isfinite(arr)):
        raise FieldError(f"{name} must be finite; got {arr[~np.isfinite(arr)][0]}")
    return arr


def _check_diffusion(D: np.ndarray) -> None:
    scale = float(np.abs(D).max()) or 1.0
    if np.abs(D - D.T).max() > SYMMETRY_RTOL * scale:
        raise FieldError(f"diffusion must be symmetric; got |D - D^T| = {np.abs(D - D.T).max():.3g}")
    low = float(np.linalg.eigvalsh(D)[0])
    if low < -SINGULAR_RTOL * scale:
        raise FieldError(f"diffusion must be positive semidefinite; got eigenvalue {low:.6g}")


def check_learning_rate(learning_rate, name: str = "learning_rate") -> float | None:
    """None, or a positive finite real number (returned as float)."""
    if learning_rate is None:
        return None
    eta = scalar_float(learning_rate)
    if eta is None or not (np.isfinite(eta) and eta > 0):
        raise InputError(f"{name} must be a positive finite number or None; got {learning_rate!r}")
    return eta


def check_mean(mean, d: int) -> np.ndarray:
    """``mean`` as a finite vector of ``d`` entries (None: the origin)."""
    if mean is None:
        return np.zeros(d)
    mu = as_real(mean, "mean").reshape(-1)
    if mu.shape != (d,):
        raise FieldError(f"mean must have shape ({d},); got {np.shape(mean)}")
    if not np.all(np.isfinite(mu)):
        raise FieldError(f"mean must be finite; got {mu.tolist()}")
    return mu


def stability_check(hessian: np.ndarray, learning_rate: float, *, strict: bool, what: str) -> None:
    """SGD's linearised step ``δ ← (I − η H) δ`` grows unless ``η λ_max(H) < 2``.

    ``strict``: raise :class:`~fpsolve.errors.StabilityError` (discrete SGD states); else warn
    with :class:`~fpsolve.errors.StabilityWarning` (a continuous-time approximation, which
    stays finite but describes no SGD run).
    """
    lam = np.linalg.eigvals(0.5 * (hessian + hessian.T)).real
    top = float(lam.max())
    if learning_rate * top < STABILITY_LIMIT:
        return
    message = (
        f"learning_rate η = {learning_rate:.6g} is beyond SGD's stability limit: η λmax = "
        f"{learning_rate * top:.4g} >= {STABILITY_LIMIT:g} with λmax = {top:.6g} (the largest Hessian "
        f"eigenvalue {what}); SGD diverges there (in practice often somewhat below the limit). "
        f"Use η < 2/λmax = {STABILITY_LIMIT / top:.6g}"
    )
    if strict:
        raise StabilityError(message)
    warnings.warn(message + "; this continuous-time Gaussian describes no SGD run", StabilityWarning,
                  stacklevel=3)


def gaussian_state(H, D, C, mean, learning_rate, equilibrium_rtol, method, t0) -> GaussianState:
    """The :class:`GaussianState` of drift matrix ``H``, diffusion ``D`` and covariance ``C``:
    circulation, entropy production (NaN for a singular ``D``) and the equilibrium test;
    ``seconds`` counted from ``t0`` (``time.perf_counter()`` at the start of the call)."""
    C = 0.5 * (C + C.T)
    Q = 0.5 * (H @ C - C @ H.T)  # = ½ (H C − C H) for a symmetric H
    Q = 0.5 * (Q - Q.T)
    eig = np.linalg.eigvalsh(D)
    if eig[0] <= SINGULAR_RTOL * max(eig[-1], 0.0):
        warnings.warn(
            f"diffusion is singular (smallest eigenvalue {eig[0]:.3g}, largest {eig[-1]:.3g}): the entropy "
            f"production rate is not defined and is reported as NaN", RuntimeWarning, stacklevel=3)
        sigma = float("nan")
    else:
        sigma = float(-np.trace(Q @ np.linalg.solve(D, Q) @ np.linalg.inv(C)))
        sigma = max(sigma, 0.0) if sigma > -SIGMA_ROUNDOFF * abs(np.trace(H)) else sigma
    if np.allclose(H, H.T, rtol=0, atol=SYMMETRY_RTOL * np.abs(H).max()):
        comm = np.linalg.norm(H @ D - D @ H)
        equilibrium = bool(comm <= equilibrium_rtol * np.linalg.norm(H) * np.linalg.norm(D))
    else:  # a general drift matrix: detailed balance iff the circulation vanishes
        equilibrium = bool(np.linalg.norm(Q) <= equilibrium_rtol * np.linalg.norm(H) * np.linalg.norm(C))
    per_step = sigma * learning_rate if learning_rate is not None else None
    return GaussianState(mean, C, Q, sigma, per_step, equilibrium, H, D, learning_rate, method,
                         time.perf_counter() - t0)


def linearized(hessian: ArrayLike, diffusion: ArrayLike, mean: ArrayLike | None = None,
               learning_rate: float | None = None,
               equilibrium_rtol: float = EQUILIBRIUM_RTOL) -> GaussianState:
    """Stationary Gaussian state of ``dδ = −H δ dt + B dW``, ``D = ½ B Bᵀ`` (docs/theory.md §3).

    Parameters
    ----------
    hessian : array_like, shape (d, d)
        Drift matrix ``H`` (the loss Hessian at the minimum; any matrix with eigenvalues of
        positive real part is accepted, the drift being ``−H δ``).
    diffusion : array_like, shape (d, d)
        ``D`` in SDE time (symmetric positive semidefinite).
    mean : array_like, shape (d,), optional
        Where the Gaussian sits (default: the origin).
    learning_rate : float, optional
        η, to report the per-step entropy production ``σ η``.  With ``η λmax(H) >= 2`` SGD
        itself diverges: the state is still returned (it is the continuous-time
        approximation), with a :class:`~fpsolve.errors.StabilityWarning`.
    equilibrium_rtol : float
        Tolerance of the equilibrium test ``‖[H, D]‖ <= rtol ‖H‖ ‖D‖``.

    Returns
    -------
    GaussianState
        Mean, covariance ``C`` (``H C + C Hᵀ = 2 D``), circulation, entropy production.

    Raises
    ------
    FieldError
        If ``hessian`` has an eigenvalue with non-positive real part (not a stable minimum),
        ``diffusion`` is not symmetric positive semidefinite, a matrix is not square of the
        same size ``d`` or not finite, or ``mean`` is not finite of length ``d``.
    InputError
        For a ``learning_rate`` that is not a positive finite number.

    Warns
    -----
    StabilityWarning
        ``learning_rate`` times the largest eigenvalue of ``H`` is 2 or more (SGD diverges).

    See Also
    --------
    fpsolve.SGD.linearized : The same analysis for an SGD scheme on a landscape.
    fpsolve.stationary : The full nonlinear stationary state on a grid.

    Examples
    --------
    The non-equilibrium Ornstein--Uhlenbeck process with drift matrix ``H`` and diffusion
    ``D`` (they do not commute); its entropy production is 1.5625 exactly.

    >>> import numpy as np, fpsolve as fp
    >>> g = fp.linearized(np.array([[1.0, 1.5], [-0.5, 1.0]]), np.diag([0.5, 0.25]))
    >>> round(g.entropy_production, 4), g.is_equilibrium
    (1.5625, False)
    >>> bool(np.allclose(g.covariance * 56, [[31, -2], [-2, 13]]))  # the exact Lyapunov solution
    True
    """
    from scipy.linalg import solve_continuous_lyapunov

    t0 = time.perf_counter()
    H = check_matrix(hessian, "hessian")
    d = H.shape[0]
    D = check_matrix(diffusion, "diffusion", d)
    _check_diffusion(D)
    ev = np.linalg.eigvals(H)
    if np.min(ev.real) <= 0:
        raise FieldError(
            f"hessian must have eigenvalues with positive real part (a stable minimum); got "
            f"{ev[np.argmin(ev.real)]:.6g}"
        )
    mu = check_mean(mean, d)
    learning_rate = check_learning_rate(learning_rate)
    if learning_rate is not None:
        stability_check(H, learning_rate, strict=False, what="of the drift matrix")
    C = solve_continuous_lyapunov(H, 2.0 * D)
    return gaussian_state(H, D, C, mu, learning_rate, equilibrium_rtol, "continuous_lyapunov", t0)


__all__ = ["GaussianState", "linearized"]
