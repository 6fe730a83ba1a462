"""Gauss-Seidel sweeps on CSR matrices (multigrid smoothers)."""

from __future__ import annotations

from ._jit import jit


@jit
def gauss_seidel_forward(indptr, indices, data, inv_diag, x, b):
    """One forward sweep for ``A x = b`` in place (``A`` in CSR, ``inv_diag = 1 / diag(A)``)."""
    for i in range(x.shape[0]):
        s = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            s -= data[k] * x[indices[k]]
        x[i] += s * inv_diag[i]


@jit
def gauss_seidel_backward(indptr, indices, data, inv_diag, x, b):
    """One backward sweep for ``A x = b`` in place."""
    for i in range(x.shape[0] - 1, -1, -1):
        s = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            s -= data[k] * x[indices[k]]
        x[i] += s * inv_diag[i]
