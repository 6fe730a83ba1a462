"""Conservative finite-volume discretisation of the Fokker--Planck operator.

The discretisation
------------------
The density is kept as cell averages ``p_a``.  The operator is the generator of a
Markov jump process between cells, ``dp_b/dt = Σ_a (w_{a→b} p_a − w_{b→a} p_b)``,
so every column of the matrix sums to zero (mass is conserved to round-off) and,
all rates being non-negative, ``−L`` is an M-matrix: the discrete stationary
density is positive and unique on a connected grid.

*Diffusion.*  In grid-index units (``Dh = S⁻¹ D S⁻¹``, ``S = diag(h)``) the tensor
at each cell is split by Selling's formula into non-negative weights on integer
offsets, ``Dh = Σ_k ρ_k v_k v_kᵀ`` (Fehrenbach & Mirebeau, J. Math. Imaging Vis.
2014).  For a tensor that is diagonally dominant in index units these are the
axis offsets plus one diagonal (Kushner's scheme); strong anisotropy gives wider
offsets such as (1, 2).  This is how off-diagonal diffusion enters while keeping
the discretisation monotone; full state-dependent tensors are supported.

*Drift (exponential fitting).*  Writing ``D⁻¹A = G`` and using the same split,
the Itô flux is ``J = A p − ∇·(D p) = Σ_k v_k [ (v_k·G) (ρ_k p) − ∂_{v_k}(ρ_k p) ]``:
along each offset a one-dimensional drift--diffusion flux of ``u_k = ρ_k p``.  The
Scharfetter--Gummel flux of that 1-D problem gives the jump rates

``w_{a→a±v} = ρ_v(a) B(−β_{a,a±v})``,   ``β_{a,b} = ∫_a^b D⁻¹A · dx``,   ``B(z) = z / (eᶻ − 1)``,

with ``β`` integrated along the segment from ``G`` on the lattice of half cell steps
(callable fields, evaluated once per point and shared with the coarsened grids, see
:func:`edge_field`; 7-, 5- or 3-point rules, :func:`fpsolve._kernels.fv.edge_integral`) or by
the trapezoid rule on the cell centres (array fields).  No derivative of ``D`` is
needed.  In 1-D the zero-flux state is exactly the closed form
``p ∝ D⁻¹ exp(∫ A/D)`` at the cell centres (to quadrature accuracy), and in any
dimension a gradient system (``D⁻¹A = −∇U`` with constant ``D``, or ``D = d(x) M``)
has the exact Boltzmann state, because the rates satisfy detailed balance with it
(to round-off when ``G`` is linear, which every rule integrates exactly).

*Bounded stencils.*  Where the eigenvalue ratio of ``Dh`` exceeds ``STENCIL_ANISOTROPY`` the
small eigenvalues are raised to ``λ_max / STENCIL_ANISOTROPY`` before the decomposition (offsets
stay within about 16 cells); ``G`` keeps the original tensor, so equilibria are unchanged, and
the cells affected are reported (``Operator.regularized``).

*Order.*  The discretisation is second order in ``h`` for the density and the current
(measured in ``tests/test_convergence.py``).  ``fpsolve.stationary`` removes the
``h²`` term by Richardson extrapolation against the half-resolution grid, which
gives fourth order (see there).

*Boundaries.*  Periodic axes wrap.  On a reflecting axis a jump that would
leave the box is mirrored at the wall (the reflected path of the jump process),
so no probability crosses the wall.  For axis offsets the mirrored jump lands on
its own cell and is dropped: the wall face simply carries zero flux.  Diagonal
and wider offsets become jumps along the wall, with ``β`` by the trapezoid rule;
this first-order wall treatment only matters where the density at the wall is not
negligible, and the solver warns when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._kernels import fv
from .._memory import keep_freed_memory
from ..errors import FieldError
from .grid import Grid
from .problem import FokkerPlanck, coarsening_factors

SINGULAR_RTOL = 1e-12  # smallest/largest eigenvalue of D below this: D is singular there
# Largest eigenvalue ratio of the diffusion in grid-index units that the stencil follows exactly:
# Selling's offsets for ratio κ reach about sqrt(κ) / 2 cells (measured over all orientations in
# 2-D: at most 2, 3, 5, 9, 16, 50 cells for κ = 10, 30, 100, 300, 1e3, 1e4).  Beyond it the small
# eigenvalues are raised to λ_max / STENCIL_ANISOTROPY; the equilibrium (D⁻¹A from the original
# tensor) is kept, and the cells affected are reported (Operator.regularized).
STENCIL_ANISOTROPY = 1000.0


def solve_small(D: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Solve ``D G = A`` for fields ``D (ndim, ndim, *pts)`` (or constant ``(ndim, ndim)``), ``A (ndim, *pts)``."""
    if D.ndim == 2:
        return np.einsum("ij,j...->i...", np.linalg.inv(D), A)
    ndim = D.shape[0]
    if ndim == 1:
        return A / D[0]
    if ndim == 2:
        det = D[0, 0] * D[1, 1] - D[0, 1] * D[1, 0]
        return np.stack(
            ((D[1, 1] * A[0] - D[0, 1] * A[1]) / det, (D[0, 0] * A[1] - D[1, 0] * A[0]) / det)
        )
    mats = np.moveaxis(D, (0, 1), (-2, -1))
    return np.moveaxis(np.linalg.solve(mats, np.moveaxis(A, 0, -1)[..., None])[..., 0], -1, 0)


# The eigenvalue screens below skip the eigen-decomposition of tensors whose invariants bound
# λ_min / λ_max above the threshold by this much: the bound carries its own rounding error, and
# this covers that of the eigenvalues the decision is otherwise made on (backward stable: a few
# ulps of λ_max).
SCREEN_SLACK = 1e3 * np.finfo(float).eps
_SCREEN_ULPS = 16 * np.finfo(float).eps  # rounding of a sum of up to 12 products, relative to its terms


def _ratio_floor(M: np.ndarray) -> np.ndarray:
    """A lower bound on ``λ_min / λ_max`` of each symmetric matrix ``M`` (m, d, d), d ≤ 3, from
    its invariants (no eigen-decomposition), rounding errors included: in 2-D ``det / λ_max²``
    (exact), in 3-D ``det / (m₂ tr)`` (``m₂`` the sum of the principal 2x2 minors;
    ``λ_max ≤ tr``, ``λ_max λ_mid ≤ m₂``); ``0`` where that bound is not positive (then ``M`` is
    not certainly positive definite: all invariants positive is the test)."""
    d = M.shape[-1]
    tr = np.trace(M, axis1=1, axis2=2)
    if d == 1:
        return np.where(tr > 0, 1.0, 0.0)
    a, b, c = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
    with np.errstate(all="ignore"):
        if d == 2:
            det = a * c - b * b
            det_low = det - _SCREEN_ULPS * (np.abs(a * c) + b * b)
            lam_max = 0.5 * (np.abs(tr) + np.hypot(a - c, 2 * b)) * (1 + _SCREEN_ULPS)
            bound = det_low / lam_max**2
        else:
            e, f, g = M[:, 0, 2], M[:, 1, 2], M[:, 2, 2]
            minors = (c * g - f * f, a * g - e * e, a * c - b * b)
            det = a * minors[0] - b * (b * g - f * e) + e * (b * f - c * e)
            det_low = det - _SCREEN_ULPS * (np.abs(a) * (np.abs(c * g) + f * f)
                                            + np.abs(b) * (np.abs(b * g) + np.abs(f * e))
                                            + np.abs(e) * (np.abs(b * f) + np.abs(c * e)))
            m2_high = sum(minors) + _SCREEN_ULPS * (np.abs(a * c) + np.abs(a * g) + np.abs(c * g)
                                                    + b * b + e * e + f * f)
            bound = det_low / (m2_high * np.abs(tr) * (1 + _SCREEN_ULPS))
    return np.where((tr > 0) & (det_low > 0) & (bound > 0), bound, 0.0)


def check_definite(problem: FokkerPlanck) -> None:
    """Raise if the diffusion tensor is singular somewhere on the grid (``D⁻¹`` is needed)."""
    D = problem.diffusion_field
    ndim = problem.grid.ndim
    mats = np.moveaxis(D.reshape(ndim, ndim, -1), -1, 0)
    suspect = np.flatnonzero(~(_ratio_floor(mats) >= SINGULAR_RTOL + SCREEN_SLACK))
    if not len(suspect):
        return
    eig = np.linalg.eigvalsh(mats[suspect])
    ratio = eig[:, 0] / np.maximum(eig[:, -1], 1e-300)
    k = int(np.argmin(ratio))
    if eig[k, -1] <= 0 or ratio[k] < SINGULAR_RTOL:
        where = "every point"
        if D.ndim > 2:
            idx = np.unravel_index(suspect[k], problem.grid.shape)
            where = "x=(" + ", ".join(f"{v:.6g}" for v in problem.grid.point(idx)) + ")"
        n_bad = int(np.sum((eig[:, -1] <= 0) | (ratio < SINGULAR_RTOL)))
        raise FieldError(
            f"diffusion must be positive definite on the grid for this solver; got smallest "
            f"eigenvalue {eig[k, 0]:.3g} (largest {eig[k, -1]:.3g}) at {where}, singular (relative "
            f"eigenvalue below {SINGULAR_RTOL:g}) in {n_bad} of {len(mats)} cells. Degenerate noise "
            f"makes D⁻¹A and the entropy production undefined there. Low-rank gradient noise is "
            f"normal for SGD (Σ₁ vanishes where the per-sample gradients agree, e.g. on a line where "
            f"an output weight is 0): add a small temperature (SGLD, D + T I with T well above "
            f"{SINGULAR_RTOL:g} times the largest eigenvalue), or choose a grid whose cell centres "
            f"avoid that set (shift or resize the box so no centre lies on it)"
        )


@dataclass(frozen=True, eq=False)
class Operator:
    """The assembled generator ``L`` (CSC, ``n × n``) and its jump list.

    ``offsets`` (m, ndim) are the distinct canonical stencil offsets (grid units);
    jump ``j`` goes from ``src[j]`` to ``dst[j]`` at ``rate[j]``, displaced by ``disp[j]`` grid
    units (a jump mirrored at a reflecting wall is displaced less than its offset), with
    ``beta[j] = ∫ D⁻¹A · dx`` along it.  ``regularized`` (n,) marks the cells whose diffusion
    was made less anisotropic for the stencil (``STENCIL_ANISOTROPY``); the equilibrium is kept
    there, but a non-equilibrium state is perturbed where it has mass
    (:meth:`regularized_mass`).  ``regularized_factor``: the largest factor by which an eigenvalue
    of the diffusion was raised there (1 where nothing was changed).
    """

    grid: Grid
    matrix: sp.csc_matrix
    offsets: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    rate: np.ndarray
    disp: np.ndarray
    weight: np.ndarray
    beta: np.ndarray
    regularized: np.ndarray
    regularized_factor: float = 1.0

    def regularized_mass(self, p: np.ndarray) -> float:
        """Probability of the density ``p`` in the cells whose diffusion was regularised."""
        if not self.regularized.any():
            return 0.0
        flat = np.ascontiguousarray(p, dtype=float).ravel()
        return float(flat[self.regularized].sum() * self.grid.cell_volume)

    def current(self, p: np.ndarray) -> np.ndarray:
        """Probability current ``J`` (ndim, *shape) at cell centres for cell densities ``p``."""
        out = np.empty((self.grid.ndim, self.grid.size))
        fv.cell_current(self.src, self.dst, self.rate, self.disp, np.asarray(self.grid.spacing),
                        np.ascontiguousarray(p, dtype=float).ravel(), out)
        return out.reshape(self.grid.ndim, *self.grid.shape)

    def edge_flux(self, p: np.ndarray) -> dict[tuple[int, ...], np.ndarray]:
        """Net probability flow per unit time from each cell ``a`` to ``a + offset``, per offset.

        Offsets are canonical (first non-zero component positive).  For the axis offsets
        these are the face fluxes times the face area; the flows are exactly divergence free
        for a stationary density.
        """
        inside = self.dst >= 0
        flow = (self.rate * np.ascontiguousarray(p, dtype=float).ravel()[self.src] * self.grid.cell_volume)[inside]
        disp, src, dst = self.disp[inside], self.src[inside], self.dst[inside]
        first = np.argmax(disp != 0, axis=1)
        sign = np.sign(disp[np.arange(len(disp)), first])
        canonical = disp * sign[:, None]
        origin = np.where(sign > 0, src, dst)
        key = _encode(canonical)
        out = {}
        for k in np.unique(key):
            sel = key == k
            net = np.bincount(origin[sel], weights=sign[sel] * flow[sel], minlength=self.grid.size)
            out[tuple(int(c) for c in canonical[np.argmax(sel)])] = net.reshape(self.grid.shape)
        return out

    def exit_flows(self, p: np.ndarray) -> dict[str, float]:
        """Probability per unit time leaving through each absorbing wall, keyed ``"axis0-lower"``…"""
        out = {}
        exits = self.dst < 0
        if not exits.any():
            return out
        code = -1 - self.dst[exits]
        flow = self.rate[exits] * np.ascontiguousarray(p, dtype=float).ravel()[self.src[exits]]
        for axis, b in enumerate(self.grid.boundary):
            if b == "absorbing":
                for side, name in enumerate(("lower", "upper")):
                    out[f"axis{axis}-{name}"] = float(flow[code == 2 * axis + side].sum() * self.grid.cell_volume)
        return out

    def log_ratio_1d(self) -> np.ndarray:
        """For a 1-D grid: ``log(w_{k→k+1} / w_{k+1→k})`` for each interior face (n - 1 values)."""
        # B(-β) / B(β) = exp(β) exactly, so the ratio needs no exponentials (no overflow)
        forward = self.dst == self.src + 1
        log_w = np.log(self.weight[:, 0])
        return self.beta[forward] + log_w[:-1] - log_w[1:]


def _bound_anisotropy(Dh: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Raise eigenvalues of the index-scaled tensors below ``λ_max / STENCIL_ANISOTROPY`` to that
    bound (the nearest tensor, in every unitarily invariant norm, whose Selling offsets stay
    short); returns the tensors, a mask of the cells changed and the largest factor by which an
    eigenvalue was raised."""
    changed = np.zeros(len(Dh), dtype=bool)
    maybe = np.flatnonzero(~(_ratio_floor(Dh) >= 1 / STENCIL_ANISOTROPY + SCREEN_SLACK))
    if not len(maybe):
        return Dh, changed, 1.0
    if Dh.shape[-1] == 2:
        return _bound_anisotropy_2d(Dh, maybe, changed)
    lam, V = np.linalg.eigh(Dh[maybe])
    floor = lam[:, -1:] / STENCIL_ANISOTROPY
    hit = (lam < floor).any(axis=1)
    if not hit.any():
        return Dh, changed, 1.0
    changed[maybe[hit]] = True
    Dh = Dh.copy()
    lam_c, V_c = np.maximum(lam[hit], floor[hit]), V[hit]
    Dh[changed] = np.einsum("cik,ck,cjk->cij", V_c, lam_c, V_c)
    factor = float(np.max(lam_c / np.maximum(lam[hit], np.finfo(float).tiny)))
    return Dh, changed, factor


def _bound_anisotropy_2d(Dh: np.ndarray, maybe: np.ndarray, changed: np.ndarray):
    """:func:`_bound_anisotropy` in 2-D in closed form: ``λ_max = (tr + |(a − c, 2b)|) / 2``,
    ``λ_min = det / λ_max`` (absolute error a few ulps of ``λ_max``, as an eigensolver's), and the
    tensor raised along the unit eigenvector ``v`` of ``λ_min`` only, ``D + (floor − λ_min) v vᵀ``.
    A tenth of the time of NumPy's stacked ``eigh`` on the suspect cells."""
    M = Dh[maybe]
    a, b, c = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
    lam_max = 0.5 * ((a + c) + np.hypot(a - c, 2.0 * b))
    lam_min = (a * c - b * b) / lam_max
    floor = lam_max / STENCIL_ANISOTROPY
    hit = lam_min < floor
    if not hit.any():
        return Dh, changed, 1.0
    a, b, c = a[hit], b[hit], c[hit]
    lam_max, lam_min, floor = lam_max[hit], lam_min[hit], floor[hit]
    # the eigenvector of λ_max from the better conditioned of its two expressions
    first = np.abs(lam_max - a) <= np.abs(lam_max - c)
    vx = np.where(first, lam_max - c, b)
    vy = np.where(first, b, lam_max - a)
    norm = np.hypot(vx, vy)
    ux, uy = -vy / norm, vx / norm  # the unit eigenvector of λ_min
    raise_by = floor - lam_min
    out = np.empty((hit.sum(), 2, 2))
    out[:, 0, 0] = a + raise_by * ux * ux
    out[:, 0, 1] = out[:, 1, 0] = b + raise_by * ux * uy
    out[:, 1, 1] = c + raise_by * uy * uy
    changed[maybe[hit]] = True
    Dh = Dh.copy()
    Dh[changed] = out
    factor = float(np.max(floor / np.maximum(lam_min, np.finfo(float).tiny)))
    return Dh, changed, factor


def _decompose(problem: FokkerPlanck) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Selling's decomposition of the index-scaled diffusion: (vec, w, regularized, factor), one
    row per cell, or a single row for constant diffusion; ``regularized`` marks the cells whose
    tensor was made less anisotropic to keep the stencil short (see ``STENCIL_ANISOTROPY``), by
    eigenvalues raised up to ``factor``."""
    grid = problem.grid
    ndim, n = grid.ndim, grid.size
    h = np.asarray(grid.spacing)
    scale = 1.0 / np.outer(h, h)
    D = problem.diffusion_field
    cells = 1 if problem.constant_diffusion else n
    Dh = np.ascontiguousarray(np.moveaxis(D.reshape(ndim, ndim, -1), -1, 0) * scale[None])
    if ndim == 1:
        vec = np.ones((cells, 1, 1), dtype=np.int64)
        w = Dh[:, 0, :].copy()
        changed, factor = np.zeros(cells, dtype=bool), 1.0
    else:
        Dh, changed, factor = _bound_anisotropy(Dh)
        K = 3 if ndim == 2 else 6
        vec = np.empty((cells, K, ndim), dtype=np.int64)
        w = np.empty((cells, K))
        failed = fv.selling(np.ascontiguousarray(Dh), vec, w)
        if failed:
            raise FieldError(
                f"diffusion could not be decomposed on {failed} cells (anisotropy beyond "
                f"2**{fv.SELLING_MAX_ITER}); check the diffusion field or the grid spacing"
            )
    return vec, w, np.broadcast_to(changed, (n,)), factor


_KEY_BITS = 16  # offsets are far below 2**15 cells


def _encode(vectors: np.ndarray) -> np.ndarray:
    """One int64 key per integer vector (last axis), for fast grouping."""
    key = np.zeros(vectors.shape[:-1], dtype=np.int64)
    for d in range(vectors.shape[-1]):
        key = key * (1 << _KEY_BITS) + (vectors[..., d].astype(np.int64) + (1 << (_KEY_BITS - 1)))
    return key


def _offsets_in_use(vec: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Distinct offsets of positive weight (m, ndim), in lexicographic order (a histogram over the
    box the offsets span: no sort)."""
    used = vec[w > 0]
    ndim = vec.shape[2]
    if not len(used):
        return np.empty((0, ndim), dtype=np.int64)
    lo = used.min(axis=0)
    span = used.max(axis=0) - lo + 1
    key = np.zeros(len(used), dtype=np.int64)
    for d in range(ndim):
        key = key * span[d] + (used[:, d] - lo[d])
    rest = np.flatnonzero(np.bincount(key, minlength=int(np.prod(span))))
    offsets = np.empty((len(rest), ndim), dtype=np.int64)
    for d in reversed(range(ndim)):
        offsets[:, d] = rest % span[d] + lo[d]
        rest = rest // span[d]
    return offsets


LATTICE_CHUNK = 1 << 16  # lattice points per call of the fields (bounds the temporaries)
PROGRESS_SECONDS = 2.0  # show a progress bar when evaluating the fields will take longer


def lattice_shape(grid: Grid) -> tuple[int, ...]:
    """Points per axis of the lattice of half cell steps between the first and last cell centres
    (``2 n - 1``; ``2 n`` on a periodic axis, which closes the circle)."""
    return tuple(2 * n if p else 2 * n - 1 for n, p in zip(grid.shape, grid.periodic))


def _progress(total: int, desc: str):
    import sys

    if not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="pt", unit_scale=True, desc=desc, leave=False)


def _evaluate_lattice(problem: FokkerPlanck, grid: Grid, centres) -> np.ndarray:
    """``D⁻¹A`` (ndim, *lattice_shape(grid)) from the problem's callables, in chunks of points.

    ``centres = (A, D)`` are the fields already evaluated at the cell centres of ``grid`` (the
    lattice points with even indices on every axis): they are reused, and the callables are
    called at the other ``2**ndim - 1`` parity classes of the lattice only, each a product grid
    filled by strided slices, in slabs of at most ``LATTICE_CHUNK`` points (as flat
    ``(ndim, points)`` arrays, in C order).  Building the points this way, rather than from the
    flat lattice index, took the 128² NESS OU lattice from 2.9 to 0.6 ms (medians; the same bits).
    """
    import itertools
    import time

    shape = lattice_shape(grid)
    ndim = grid.ndim
    total = int(np.prod(shape))
    G = np.empty((ndim, *shape))
    A, D = centres
    G[(slice(None),) + (slice(None, None, 2),) * ndim] = solve_small(D, A)
    off_centre = total - int(np.prod([len(range(0, m, 2)) for m in shape]))
    done, bar = 0, None
    t0 = time.perf_counter()
    for parity in itertools.product((0, 1), repeat=ndim):
        if not any(parity):
            continue
        coords = [lo + 0.5 * (np.arange(q, m, 2) + 1) * h
                  for lo, h, q, m in zip(grid.lower, grid.spacing, parity, shape)]
        sub = G[(slice(None),) + tuple(slice(q, None, 2) for q in parity)]
        rest = int(np.prod(sub.shape[2:]))
        rows = max(1, LATTICE_CHUNK // max(rest, 1))
        for r0 in range(0, sub.shape[1], rows):
            slab = (coords[0][r0:r0 + rows],) + tuple(coords[1:])
            points = np.stack(np.meshgrid(*slab, indexing="ij")).reshape(ndim, -1)
            A, D = problem.fields_at(points)
            block = sub[:, r0:r0 + rows]
            block[...] = solve_small(D, A).reshape(block.shape)
            done += points.shape[1]
            if bar is not None:
                bar.update(points.shape[1])
            elif done < off_centre and (time.perf_counter() - t0) * off_centre / done > PROGRESS_SECONDS:
                bar = _progress(off_centre, "fields")
                if bar is not None:
                    bar.update(done)
    if bar is not None:
        bar.close()
    return G


def edge_field(problem: FokkerPlanck) -> tuple[np.ndarray, int]:
    """``D⁻¹A`` where the edge integrals need it, as (ndim, points) in C order, and the refinement.

    Callable fields: on the lattice of half cell steps (refinement 2), evaluated once for the
    problem's original grid and shared, by slicing, with every grid that coarsens it by powers of
    two (the multigrid and Richardson levels made by ``problem.on``), whose lattice points are
    a subset.  Array fields: on the cell centres (refinement 1).
    """
    grid = problem.grid
    if not problem.callable_fields:
        G = solve_small(problem.diffusion_field, problem.drift_field)
        return np.ascontiguousarray(G.reshape(grid.ndim, -1)), 1
    cache = problem.lattice_cache
    factors = coarsening_factors(cache.grid, grid)
    if factors is None:
        G = _evaluate_lattice(problem, grid, (problem.drift_field, problem.diffusion_field))
    else:
        if cache.values is None:  # fields_at takes any points
            cache.values = _evaluate_lattice(problem, cache.grid, cache.centres)
        G = cache.values[(slice(None),) + tuple(slice(f - 1, None, f) for f in factors)]
    return np.ascontiguousarray(G.reshape(grid.ndim, -1)), 2  # the original grid's: a view, no copy


def assemble(problem: FokkerPlanck) -> Operator:
    """Assemble the generator of ``problem`` (see the module docstring for the discretisation)."""
    keep_freed_memory()  # once per process: the next solve reuses this one's memory
    check_definite(problem)
    grid = problem.grid
    n = grid.size
    vec, w, regularized, factor = _decompose(problem)
    offsets = _offsets_in_use(vec, w)
    G, refine = edge_field(problem)
    shape = np.asarray(grid.shape, dtype=np.int64)
    kind = np.asarray([{"reflecting": fv.REFLECTING, "periodic": fv.PERIODIC,
                        "absorbing": fv.ABSORBING}[b] for b in grid.boundary], dtype=np.int64)
    lat_shape = np.asarray(lattice_shape(grid) if refine == 2 else grid.shape, dtype=np.int64)
    h = np.asarray(grid.spacing)
    (src, dst, rate, disp, beta), (indptr, indices, data) = fv.build_generator(
        fv.grid_layout(shape, kind), vec, w, G, lat_shape, refine, h, n)
    if not np.all(np.isfinite(beta)):
        raise FieldError("drift integrated along grid edges is not finite; check the drift field")
    matrix = sp.csc_matrix((data, indices, indptr), shape=(n, n))
    return Operator(grid, matrix, offsets, src, dst, rate, disp, np.broadcast_to(w, (n, w.shape[1])), beta,
                    regularized, factor)
