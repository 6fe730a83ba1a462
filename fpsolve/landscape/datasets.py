"""Data sets shipped with fpsolve (package data under ``fpsolve/data``)."""

from __future__ import annotations

from importlib import resources

import numpy as np


def load_adhikari2023() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonlinear regression example of Adhikari et al. (2023) (docs/theory.md §6).

    Returns
    -------
    x : ndarray, shape (200,)
        Inputs, -3.00 to 2.97 in steps of 0.03.
    y : ndarray, shape (200,)
        Targets, ``exp(-x²)`` plus Gaussian noise of standard deviation 0.1.
    w_min : ndarray, shape (7,)
        The minimum of the full loss (noise σ = 0.1, weight decay λ = 1e-3), parameters
        ``w1..w7`` of ``f = w5 tanh(w1 x + w3) + w6 tanh(w2 x + w4) + w7``
        (:class:`fpsolve.models.TanhNet` order).

    Notes
    -----
    Provenance: S. Adhikari, A. Kabakçıoğlu, A. Strang, D. Yuret, M. Hinczewski, "Machine
    learning in and out of equilibrium", arXiv:2306.03521 (2023); files as published by the
    authors in their repository hincz-lab/ml-nonequilibrium (commit c299a2f, folder
    "Nonlinear regression WR").  See ``fpsolve/data/adhikari2023_regression/SOURCE.md``.

    Examples
    --------
    >>> import fpsolve as fp
    >>> x, y, w_min = fp.datasets.load_adhikari2023()
    >>> x.shape, y.shape, w_min.shape
    ((200,), (200,), (7,))
    """
    folder = resources.files("fpsolve") / "data" / "adhikari2023_regression"
    x, y, w_min = (np.loadtxt(folder / name) for name in ("x_train.txt", "y_train.txt", "wmin.txt"))
    return x, y, w_min


__all__ = ["load_adhikari2023"]
