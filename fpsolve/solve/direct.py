"""Null vectors of grid generators: the discrete stationary density.

``L`` has columns summing to zero and non-negative off-diagonal entries, so its
null space on a connected grid is spanned by one positive vector.  The vector is
found by replacing the equation of one cell ``i0`` by ``p[i0] = 1`` and solving.
That is only well conditioned if ``i0`` carries a good share of the mass, so
``i0`` is the most probable cell of a coarse-grid estimate, never a fixed cell.
The pinned row is a unit row, so eliminating it only moves its column to the
right-hand side, and the rest is Gaussian elimination on a non-singular M-matrix,
which is stable without pivoting in any symmetric order: SuperLU's minimum degree
on ``A + Aᵀ`` (``PINNED_ORDERING``), which follows the actual stencil (a geometric
nested dissection with one-cell separators does not separate wide stencils: 22M
factor entries against 1.5M for a 128² landscape problem with offsets of 16 cells).
Small systems (up to ``SMALL_SYSTEM`` cells: the coarser levels of a larger solve, which have no
estimate of their own) are pinned at their cell of least outflow instead, where the drift is
weakest: the bulk of a one-basin density; the caller checks every result.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._kernels.ordering import nested_dissection
from .._kernels.smooth import stencil_reach

SMALL_SYSTEM = 4096  # cells; up to this a level is pinned without a half-resolution estimate
PINNED_ORDERING = "MMD_AT_PLUS_A"  # measured as fast as nested dissection on 5-point stencils, far faster on wide ones
# SuperLU's panel size (columns factored together) for the pinned factors; its default (10) wastes
# work on the small supernodes of grid stencils.  Medians of 40 interleaved factorisations: NESS OU
# 64² 6.84 -> 5.58 ms, 32² 1.40 -> 1.17 ms; TanhUnit SGWORLD 64² 27.9 -> 26.2 ms (4: 5.68, 1.22, 26.4).
PINNED_PANEL_SIZE = 2
ORDERING_DROP_TOL = 1e300  # the ordering's throw-away ILU drops every off-diagonal entry
PATTERN_CACHE_SIZE = 8  # patterns remembered: the levels of a solve (4 for a landscape problem) and a repeat
PATTERN_CACHE_BYTES = 1 << 28  # and at most this much held per cache (256 MiB)


class PatternCache:
    """What depends only on a sparsity pattern (an ordering, a symbolic factorisation: an array or
    nested tuples of arrays and numbers), for the last ``PATTERN_CACHE_SIZE`` patterns and at most
    ``PATTERN_CACHE_BYTES``: a solve repeated on the same grid and stencil reuses it.  Keyed by a
    digest of the CSC structure and the grid shape (not of the values)."""

    def __init__(self):
        self._entries: OrderedDict[bytes, tuple[object, int]] = OrderedDict()

    @staticmethod
    def key(A: sp.csc_matrix, shape: tuple[int, ...]) -> bytes:
        """The digest of ``shape`` and ``A``'s index arrays, hashed in place (their buffers, with
        their dtypes: no int64 copies, 3x less to hash at 512² than copies of them cost)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(np.asarray(shape, dtype=np.int64).tobytes())
        for a in (A.indptr, A.indices):
            a = np.ascontiguousarray(a)
            h.update(a.dtype.str.encode())
            h.update(a)
        return h.digest()

    def get(self, key: bytes):
        hit = self._entries.get(key)
        if hit is None:
            return None
        self._entries.move_to_end(key)
        return hit[0]

    @staticmethod
    def nbytes(value) -> int:
        """The bytes of the arrays in ``value``, an array or (nested) tuples of arrays and numbers."""
        if isinstance(value, np.ndarray):
            return value.nbytes
        if isinstance(value, tuple):
            return sum(PatternCache.nbytes(v) for v in value)
        return 0

    def put(self, key: bytes, value) -> None:
        size = self.nbytes(value)
        self._entries[key] = (value, size)
        self._entries.move_to_end(key)
        while len(self._entries) > PATTERN_CACHE_SIZE or (
                len(self._entries) > 1 and sum(s for _, s in self._entries.values()) > PATTERN_CACHE_BYTES):
            self._entries.popitem(last=False)


_ORDERINGS = PatternCache()


@lru_cache(maxsize=16)
def grid_ordering(shape: tuple[int, ...]) -> np.ndarray:
    """Nested-dissection ordering of the cells of a grid (natural order in 1-D)."""
    n = int(np.prod(shape))
    if len(shape) == 1:
        return np.arange(n)
    padded = np.ones(3, dtype=np.int64)
    padded[: len(shape)] = shape
    out = np.empty(n, dtype=np.int64)
    nested_dissection(padded, out)
    return out


def _wide(W: sp.spmatrix, shape: tuple[int, ...]) -> bool:
    """Whether some jump of ``W`` (any pattern on the cells of ``shape``) spans more than one cell
    on an axis (a jump across a periodic wrap counts its short way round): a stencil beyond the
    3^d neighbourhood, which one-cell separators do not cut."""
    if W.nnz == 0 or len(shape) == 1:
        return False
    W = sp.csc_matrix(W)
    return stencil_reach(W.indptr, W.indices, np.asarray(shape, dtype=np.int64), np.ones(len(shape), dtype=np.bool_)) > 1


def fill_ordering(W: sp.spmatrix, shape: tuple[int, ...]) -> np.ndarray:
    """A fill-reducing elimination order (old indices in elimination order) for the pattern of
    ``W`` on the cells of ``shape``: the grid's nested dissection (:func:`grid_ordering`) for
    stencils within the 3^d neighbourhood, SuperLU's minimum degree on ``W + Wᵀ`` for wider ones.

    Nested dissection with one-cell separators does not separate wide stencils: GTH elimination of
    the ``TanhUnit`` SGLD generator at 64² (offsets up to 16 cells) took 2.0 s in that order and
    0.12 s in the minimum-degree one (plus 0.07 s to compute it).  Nor does a dissection whose
    separators follow the stencil (median cuts along either axis, the separator being the cells of
    one side coupled to the other, the best of five cut positions): on the 128² generator its GTH
    factors had 3.9M entries and took 1.27 s, against 1.07M and 0.19 s in minimum degree.  SuperLU gives its ordering only
    with a factorisation, so a diagonally dominant matrix with the pattern gets an incomplete one
    that keeps no fill (the same order as a complete factorisation, 4× faster at 512²).  The order
    is remembered per pattern (:class:`PatternCache`).
    """
    shape = tuple(shape)
    W = sp.csc_matrix(W)
    if not _wide(W, shape):
        return grid_ordering(shape)
    key = PatternCache.key(W, shape)
    order = _ORDERINGS.get(key)
    if order is None:
        order = _minimum_degree(W)
        order.flags.writeable = False  # shared through the cache
        _ORDERINGS.put(key, order)
    return order


def _minimum_degree(W: sp.csc_matrix) -> np.ndarray:
    """SuperLU's minimum-degree order of ``|W| + |Wᵀ|`` (old indices in elimination order)."""
    n = W.shape[0]
    S = W.copy()
    S.data = np.abs(S.data)
    S = S + S.T
    S = S + sp.diags(np.asarray(abs(S).sum(axis=0)).ravel() + 1.0)
    # an incomplete factorisation that drops every entry below the diagonal (drop_tol far above
    # any ratio): same column order as the complete one, without its fill
    lu = spla.spilu(sp.csc_matrix(S), permc_spec=PINNED_ORDERING, drop_tol=ORDERING_DROP_TOL, fill_factor=1,
                    diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    order = np.empty(n, dtype=np.int64)
    order[lu.perm_c] = np.arange(n)
    return order


def factor_without_pivoting(A: sp.spmatrix):
    """SuperLU factors of ``A``, already permuted into a fill-reducing order, with no pivoting.

    Only for non-singular M-matrices (and the pinned generator with its pinned cell last),
    for which Gaussian elimination in any order is stable without pivoting.
    """
    return spla.splu(sp.csc_matrix(A), permc_spec="NATURAL", diag_pivot_thresh=0.0,
                     options={"SymmetricMode": True})


class PinnedLU:
    """LU factors of ``L`` with the equation of cell ``pin`` replaced by ``p[pin] = 1``.

    ``null_vector()`` gives the (unnormalised) stationary vector; ``solve(r)`` solves
    ``L e = r`` for any consistent ``r`` (``Σ r = 0``) with ``e[pin] = 0``.
    """

    def __init__(self, L: sp.spmatrix, shape: tuple[int, ...], pin: int):
        self.n = int(np.prod(shape))
        self.pin = pin
        A = sp.csr_matrix(L, copy=True)
        start, stop = A.indptr[pin], A.indptr[pin + 1]
        A.data[start:stop] = np.where(A.indices[start:stop] == pin, 1.0, 0.0)
        A.eliminate_zeros()
        self.lu = spla.splu(sp.csc_matrix(A), permc_spec=PINNED_ORDERING, diag_pivot_thresh=0.0,
                            panel_size=PINNED_PANEL_SIZE, options={"SymmetricMode": True})

    def null_vector(self) -> np.ndarray:
        rhs = np.zeros(self.n)
        rhs[self.pin] = 1.0
        return self.lu.solve(rhs)

    def solve(self, r: np.ndarray) -> np.ndarray:
        rhs = np.array(r, dtype=float)
        rhs[self.pin] = 0.0
        return self.lu.solve(rhs)
