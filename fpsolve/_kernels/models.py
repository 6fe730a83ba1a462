"""Kernels of the landscape layer: model outputs, per-sample losses and their fields.

Every model is a *point kernel* with one signature,

``point(w, x, params, grad, hess, order) -> f``

``w``       (d,)     parameters
``x``       (p,)     one input (p may be 0)
``params``  (q,)     model constants (for the built-ins ``params[0]`` is the model code)
``grad``    (d,)     out: ``∂f/∂w`` (written when ``order >= 1``)
``hess``    (d, d)   out: ``∂²f/∂w²`` (written when ``order >= 2``)
``f``                the model output (a float)

The per-sample loss is ``ℓ_i = scale · nll(y_i, f_i) + ½ alpha |w|²`` with ``nll`` the Gaussian
(``(y − f)² / (2 s²)``, ``s² = noise_var``) or Bernoulli-logit (``softplus(f) − y f``) negative
log likelihood.  Array names in the field kernels:

``W``       (P, d)      parameter points
``X``       (N, p)      inputs;  ``Y`` (N,) targets
``F, G, Hs`` (P, N), (P, N, d), (P, N, d, d)  model outputs and their w-derivatives
``idx``     (n,)        the parameters the fields are over: ``0..d-1``, or a slice's axes
                        (then ``G``, ``Hs`` and the fields below have ``n`` in place of ``d``)
``loss``    (P,)        ``L = mean_i ℓ_i``
``grad``    (P, d)      ``∇L``
``sigma``   (P, d, d)   ``Σ₁ = mean_i (∇ℓ_i − ∇L)(∇ℓ_i − ∇L)ᵀ``
``hess``    (P, d, d)   ``∇²L``                      (when ``order == 2``)
``hgrad``   (P, d)      ``mean_i ∇²ℓ_i ∇ℓ_i``         (when ``order == 2``)

Built-in models: ``fields_builtin`` computes the outputs of one point into small buffers and
reduces them at once (cached on disk).  A user's point kernel: ``predict_generic`` fills the
outputs of a block of points (compiled once per process, because a kernel passed as an
argument defeats Numba's disk cache), then ``fields_from_outputs`` reduces them.  Both
reductions are :func:`_point_fields`.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import prange

from ._jit import jit, jit_inline, jit_parallel, jit_parallel_uncached, jit_reduce

TANH_NET = 0  # f = Σ_h v_h tanh(a_h x + c_h) + b;  w = (a_1..a_H, c_1..c_H, v_1..v_H, b)
TANH_UNIT = 1  # f = w2 tanh(w1 x)
TANH_UNIT_BIAS = 2  # f = w2 tanh(w1 x + w3)
LINEAR = 3  # f = w[:p]·x (+ w[p] when d == p + 1)
CONSTANT = 4  # f = w[0]
DEEP_LINEAR = 5  # f = (Π_l w_l) x

GAUSSIAN = 0
BERNOULLI = 1

# The loss constants and the field outputs, grouped (as the SGD kernels' ``Loss``): targets Y
# (N,), likelihood code, noise variance σ², scale (N: the sum of per-sample terms is N × the
# mean) and weight decay α; outputs loss (P,), grad (P, d), sigma (P, d, d), hess and hgrad
# ((P, d, d) and (P, d), or a leading length of 1 below order 2: not written).
LossTerms = namedtuple("LossTerms", "Y lik noise_var scale alpha")
FieldArrays = namedtuple("FieldArrays", "loss grad sigma hess hgrad")

CHUNK = 256  # parameter points per parallel task of the fused field kernel (one buffer set each)



# tanh(u) = sign(u) (A + B / C) with one division and no libm call, so that a loop of tanh calls
# vectorises (SGD evaluates 2 b of them per step):
#   |u| < TANH_RATIONAL:  A = |u|, B / C = |u| z P(z) / Q(z), z = u² (the Cephes rational)
#   otherwise:            A = 1,   B / C = -2 / (e^{2|u|} + 1)
# e^x = 2^k e^r (k = round(x / ln 2), |r| <= ln(2) / 2, Cody--Waite reduction) with
# e^r = 1 + r + r² q(r), q a degree-9 Chebyshev fit of (e^r − 1 − r) / r² evaluated by Estrin's
# scheme (relative error 1.4e-17 in e^r); 2^k is built from the exponent bits.  Measured: within
# 1.22 ulp of the exact tanh (1 ulp of the correctly rounded one) and 2 ulp of np.tanh, over
# |u| <= 30 and tiny |u|; NaN gives NaN, ±inf gives ±1, -0.0 gives -0.0.
TANH_RATIONAL = 0.625
TANH_P0, TANH_P1, TANH_P2 = (-9.64399179425052238628e-1, -9.92877231001918586564e1,
                             -1.61468768441708447952e3)
TANH_Q0, TANH_Q1, TANH_Q2 = (1.12811678491632931402e2, 2.23548839060100448583e3,
                             4.84406305325125486048e3)
EXP_Q0, EXP_Q1, EXP_Q2, EXP_Q3, EXP_Q4 = (0.5000000000000001, 0.16666666666666669,
                                          0.04166666666662064, 0.008333333333329793,
                                          0.0013888888918939168)
EXP_Q5, EXP_Q6, EXP_Q7, EXP_Q8, EXP_Q9 = (0.00019841269864380513, 2.4801518641395993e-05,
                                          2.75572664186123e-06, 2.7621338669142925e-07,
                                          2.510134692835034e-08)
LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01  # ln 2 = LN2_HI + LN2_LO; k LN2_HI is exact for |k| < 2^20
LN2_LO = 1.90821492927058770002e-10
ROUND_MAGIC = 6755399441055744.0  # 1.5 · 2^52: x + ROUND_MAGIC holds round(x) in its low bits
TANH_EXP_MAX = 44.0  # 2|u| is clamped here: 1 - 2 / (e^44 + 1) rounds to 1, and 2^k stays finite
_ONE_BITS = np.uint64(0x3FF0000000000000)
_EXP_SHIFT = np.uint64(52)


@jit_inline
def tanh(u):
    """``tanh(u)`` to 1.22 ulp, branch-free, without libm: loops of it vectorise."""
    a = abs(u)
    x = 2.0 * a
    if x > TANH_EXP_MAX:  # a select; NaN stays NaN
        x = TANH_EXP_MAX
    kb = x * LOG2E + ROUND_MAGIC
    k = kb - ROUND_MAGIC
    r = (x - k * LN2_HI) - k * LN2_LO
    r2 = r * r
    r4 = r2 * r2
    q = (((EXP_Q0 + EXP_Q1 * r) + r2 * (EXP_Q2 + EXP_Q3 * r))  # Estrin: a shorter dependency chain
         + r4 * (((EXP_Q4 + EXP_Q5 * r) + r2 * (EXP_Q6 + EXP_Q7 * r)) + r4 * (EXP_Q8 + EXP_Q9 * r)))
    two_k = np.uint64((np.float64(kb).view(np.uint64) << _EXP_SHIFT) + _ONE_BITS).view(np.float64)
    s = (1.0 + (r + r2 * q)) * two_k  # e^x
    z = a * a
    if a < TANH_RATIONAL:
        A = a
        B = a * z * ((TANH_P0 * z + TANH_P1) * z + TANH_P2)
        C = ((z + TANH_Q0) * z + TANH_Q1) * z + TANH_Q2
    else:
        A = 1.0
        B = -2.0
        C = s + 1.0
    # np.true_divide: IEEE division without Python's zero check, which would stop vectorisation
    return math.copysign(A + np.true_divide(B, C), u)


@jit_inline
def tanh_net_unit(v, t, z):
    """``∂f/∂(a_h, c_h, v_h)`` of one hidden unit of ``TanhNet`` at ``t = tanh(a_h z + c_h)``.

    The one copy of the network's gradient: the field kernels (:func:`_tanh_net`) and the SGD
    steps (``fpsolve._kernels.sgd``) both call it, with the output summed in one order
    (``f = β + Σ_h v_h t_h``), so their gradients agree bit for bit.
    """
    vs = v * (1.0 - t * t)
    return vs * z, vs, t


@jit
def _tanh_net(w, x, grad, hess, order):
    d = w.shape[0]
    H = (d - 1) // 3
    z = x[0]
    f = w[3 * H]
    if order >= 2:
        hess[:, :] = 0.0
    for h in range(H):
        t = tanh(w[h] * z + w[H + h])
        v = w[2 * H + h]
        f += v * t
        if order >= 1:
            grad[h], grad[H + h], grad[2 * H + h] = tanh_net_unit(v, t, z)
        if order >= 2:
            s = 1.0 - t * t
            c = -2.0 * t * s * v
            a, b, o = h, H + h, 2 * H + h
            hess[a, a] = c * z * z
            hess[a, b] = c * z
            hess[b, a] = c * z
            hess[b, b] = c
            hess[a, o] = s * z
            hess[o, a] = s * z
            hess[b, o] = s
            hess[o, b] = s
    if order >= 1:
        grad[3 * H] = 1.0
    return f


@jit
def _tanh_unit(w, x, grad, hess, order, bias):
    u = w[0] * x[0] + (w[2] if bias else 0.0)
    t = tanh(u)
    f = w[1] * t
    if order >= 1:
        s = 1.0 - t * t
        grad[0] = w[1] * s * x[0]
        grad[1] = t
        if bias:
            grad[2] = w[1] * s
    if order >= 2:
        s = 1.0 - t * t
        c = -2.0 * t * s * w[1]
        hess[:, :] = 0.0
        hess[0, 0] = c * x[0] * x[0]
        hess[0, 1] = s * x[0]
        hess[1, 0] = s * x[0]
        if bias:
            hess[0, 2] = c * x[0]
            hess[2, 0] = c * x[0]
            hess[1, 2] = s
            hess[2, 1] = s
            hess[2, 2] = c
    return f


@jit
def _linear(w, x, grad, hess, order):
    p = x.shape[0]
    intercept = w.shape[0] == p + 1
    f = w[p] if intercept else 0.0
    for j in range(p):
        f += w[j] * x[j]
    if order >= 1:
        for j in range(p):
            grad[j] = x[j]
        if intercept:
            grad[p] = 1.0
    if order >= 2:
        hess[:, :] = 0.0
    return f


@jit
def _deep_linear(w, x, grad, hess, order):
    d = w.shape[0]
    prod = 1.0
    for i in range(d):
        prod *= w[i]
    if order >= 1:
        for i in range(d):
            q = x[0]
            for k in range(d):
                if k != i:
                    q *= w[k]
            grad[i] = q
    if order >= 2:
        for i in range(d):
            hess[i, i] = 0.0
            for j in range(i + 1, d):
                q = x[0]
                for k in range(d):
                    if k != i and k != j:
                        q *= w[k]
                hess[i, j] = q
                hess[j, i] = q
    return prod * x[0]


@jit
def builtin_point(w, x, params, grad, hess, order):
    """Point kernel of the built-in models; ``params[0]`` selects the model."""
    code = int(params[0])
    if code == TANH_NET:
        return _tanh_net(w, x, grad, hess, order)
    if code == TANH_UNIT:
        return _tanh_unit(w, x, grad, hess, order, False)
    if code == TANH_UNIT_BIAS:
        return _tanh_unit(w, x, grad, hess, order, True)
    if code == LINEAR:
        return _linear(w, x, grad, hess, order)
    if code == DEEP_LINEAR:
        return _deep_linear(w, x, grad, hess, order)
    # CONSTANT
    if order >= 1:
        grad[0] = 1.0
    if order >= 2:
        hess[0, 0] = 0.0
    return w[0]


@jit
def nll_terms(lik, y, f, noise_var):
    """Negative log likelihood and its first two f-derivatives."""
    if lik == GAUSSIAN:
        r = f - y
        return 0.5 * r * r / noise_var, r / noise_var, 1.0 / noise_var
    # Bernoulli with logit f: softplus(f) - y f, computed without overflow
    if f > 0:
        sp = f + math.log1p(math.exp(-f))
        e = math.exp(-f)
        s = 1.0 / (1.0 + e)
    else:
        sp = math.log1p(math.exp(f))
        e = math.exp(f)
        s = e / (1.0 + e)
    return sp - y * f, s - y, s * (1.0 - s)


def _predict(point, params, W, X, order, F, G, Hs):
    for p in prange(W.shape[0]):
        for i in range(X.shape[0]):
            F[p, i] = point(W[p], X[i], params, G[p, i], Hs[p, i], order)


# A kernel passed as an argument defeats Numba's disk cache: ``predict_generic`` (any point
# kernel) compiles once per process; ``predict_builtin`` reaches the built-in models through
# the global ``builtin_point`` and loads from disk.
predict_generic = jit_parallel_uncached(_predict)


@jit
def _tanh_unit_rows(w, X, F, G, Hs, order, bias):
    """:func:`_tanh_unit` over all samples of one point (no per-sample array views).

    One loop per output column, each free of branches, so that every loop vectorises.
    """
    c0 = w[2] if bias else 0.0
    w0, w1 = w[0], w[1]
    N = X.shape[0]
    for i in range(N):
        t = tanh(w0 * X[i, 0] + c0)
        G[i, 1] = t  # ∂f/∂w1, also the t of every later loop
        F[i] = w1 * t
    if order < 1:
        return
    for i in range(N):
        t = G[i, 1]
        G[i, 0] = w1 * (1.0 - t * t) * X[i, 0]
    if bias:
        for i in range(N):
            t = G[i, 1]
            G[i, 2] = w1 * (1.0 - t * t)
    if order < 2:
        return
    for i in range(N):  # from t = G[i, 1]: no second tanh
        z = X[i, 0]
        t = G[i, 1]
        s = 1.0 - t * t
        c = -2.0 * t * s * w1
        Hs[i, 0, 0] = c * z * z
        Hs[i, 0, 1] = s * z
        Hs[i, 1, 0] = s * z
        Hs[i, 1, 1] = 0.0
    if bias:
        for i in range(N):
            z = X[i, 0]
            t = G[i, 1]
            s = 1.0 - t * t
            c = -2.0 * t * s * w1
            Hs[i, 0, 2] = c * z
            Hs[i, 2, 0] = c * z
            Hs[i, 1, 2] = s
            Hs[i, 2, 1] = s
            Hs[i, 2, 2] = c


@jit
def _builtin_rows(params, w, X, order, F, G, Hs):
    """Built-in model at one point ``w`` over all samples: ``F`` (N,), ``G`` (N, d), ``Hs`` (N, d, d).

    The model switch sits outside the sample loop so that each point kernel is inlined.
    """
    code = int(params[0])
    N = X.shape[0]
    if code == TANH_UNIT:
        _tanh_unit_rows(w, X, F, G, Hs, order, False)
    elif code == TANH_UNIT_BIAS:
        _tanh_unit_rows(w, X, F, G, Hs, order, True)
    elif code == TANH_NET:
        for i in range(N):
            F[i] = _tanh_net(w, X[i], G[i], Hs[i], order)
    elif code == LINEAR:
        for i in range(N):
            F[i] = _linear(w, X[i], G[i], Hs[i], order)
    elif code == DEEP_LINEAR:
        for i in range(N):
            F[i] = _deep_linear(w, X[i], G[i], Hs[i], order)
    else:
        for i in range(N):
            F[i] = builtin_point(w, X[i], params, G[i], Hs[i], order)


@jit_parallel
def predict_builtin(params, W, X, order, F, G, Hs):
    """Model outputs ``F`` (P, N), gradients ``G`` (P, N, d), Hessians ``Hs`` (P, N, d, d)."""
    for p in prange(W.shape[0]):
        _builtin_rows(params, W[p], X, order, F[p], G[p], Hs[p])


@jit_inline
def _gradient_columns(w, idx, j, G, terms, R, E, T, L, first):
    """Columns ``j, j+1, j+2`` (those below ``n``) of :func:`_loss_gradients`: the per-sample
    terms in a loop without sums (it vectorises), then their ordered sums side by side in one
    loop of additions only (independent chains), with ``first`` also ``Σ_i L[i]``.  ``T``
    receives the columns of ``G`` as rows.  Returns the sums ``(m0, m1, m2, Σ L)``."""
    alpha = terms.alpha
    n = idx.shape[0]
    N = G.shape[0]
    two, three = j + 1 < n, j + 2 < n
    for c in range(j, min(j + 3, n)):
        a = alpha * w[idx[c]]  # the weight decay's gradient
        for i in range(N):  # ∇ℓ_i = (scale r_i) ∂f/∂w + alpha w: one product, one sum, no FMA
            u = G[i, c]
            T[c, i] = u
            E[c, i] = R[0, i] * u + a
    m0 = m1 = m2 = total = 0.0
    for i in range(N):  # sample order, four chains side by side
        m0 += E[j, i]
        m1 += E[j + 1, i] if two else 0.0
        m2 += E[j + 2, i] if three else 0.0
        total += L[i] if first else 0.0
    return m0, m1, m2, total


@jit
def _loss_gradients(w, idx, F, G, terms, R, E, T, L, grad):
    """The per-sample loss gradients ``E[j, i] = ∇ℓ_i`` (one row per parameter of ``idx``) and
    their mean ``grad``; also ``R[0, i] = scale · ∂nll/∂f``, ``R[1, i] = scale · ∂²nll/∂f²`` and
    ``L[i] = nll_i``.  ``T[j, i]`` receives ``G[i, j]`` (rows for the later sample loops).
    Returns ``Σ_i nll``.

    Plain IEEE arithmetic summed in sample order (not reassociated): ``∇ℓ_i = (scale r_i) ∂f/∂w
    + alpha w`` as the SGD kernels form it, so the two gradients agree bit for bit
    (tests/test_gradients.py).  The per-sample terms are formed in loops without sums, which
    vectorise; the sums then run in sample order, three parameters (and the loss) per loop, so
    that their ordered sums do not wait on one another.
    """
    Y, lik, noise_var, scale = terms.Y, terms.lik, terms.noise_var, terms.scale
    N = F.shape[0]
    n = idx.shape[0]
    if lik == GAUSSIAN:
        r2 = scale * (1.0 / noise_var)
        for i in range(N):
            r = F[i] - Y[i]
            L[i] = 0.5 * r * r / noise_var
            R[0, i] = scale * (r / noise_var)
            R[1, i] = r2
    else:
        for i in range(N):
            nll, r1, r2 = nll_terms(lik, Y[i], F[i], noise_var)
            L[i] = nll
            R[0, i] = scale * r1
            R[1, i] = scale * r2
    total = 0.0
    for j in range(0, n, 3):
        m0, m1, m2, t = _gradient_columns(w, idx, j, G, terms, R, E, T, L, j == 0)
        if j == 0:
            total = t
        grad[j] = m0 / N
        if j + 1 < n:
            grad[j + 1] = m1 / N
        if j + 2 < n:
            grad[j + 2] = m2 / N
    return total


@jit_reduce
def _point_fields(w, idx, F, G, Hs, terms, order, out, p, q, scratch):
    """Fields at one point over the parameters ``idx`` (n,); returns ``L``.

    ``w`` (d,) is the whole point; ``F`` (N,) its outputs and ``G`` (N, n), ``Hs`` (N, n, n)
    their derivatives in the parameters ``idx`` only (all of them: ``idx = 0..d-1``).  Every
    per-sample term of parameter ``j`` reads only column ``j``, so a slice's fields are the
    ``idx`` blocks of the whole ones.  Writes ``out.grad[p]`` (n,), ``out.sigma[p]`` (n, n) and
    with ``order == 2`` ``out.hess[q]`` (n, n) and ``out.hgrad[q]`` (n,).  ``scratch``
    (2 n + 3, N) receives the residual factors, the per-sample loss gradients ``∇ℓ_i``, the
    columns of ``G`` (one row per parameter each) and the per-sample losses.

    The loss and its gradient are summed in sample order (:func:`_loss_gradients`); every other
    sum runs over the samples in the innermost loop with one accumulator per output, so that
    the loops vectorise (``jit_reduce`` lets them reassociate the sums; their rounding error
    stays that of a sum of ``N`` terms).
    """
    alpha = terms.alpha
    n = idx.shape[0]
    N = F.shape[0]
    R = scratch[:2]
    E = scratch[2:n + 2]
    T = scratch[n + 2:2 * n + 2]
    L = scratch[2 * n + 2]
    grad, sigma = out.grad[p], out.sigma[p]
    total = _loss_gradients(w, idx, F, G, terms, R, E, T, L, grad)
    w2 = 0.0
    for j in range(w.shape[0]):
        w2 += w[j] * w[j]
    for j in range(n):
        for k in range(j + 1):
            acc = 0.0
            for i in range(N):
                acc += (E[j, i] - grad[j]) * (E[k, i] - grad[k])
            sigma[j, k] = acc / N
            sigma[k, j] = acc / N
    if order >= 2:
        hess, hgrad = out.hess[q], out.hgrad[q]
        for j in range(n):
            hg = 0.0
            for k in range(n):
                hs = 0.0
                for i in range(N):
                    h = R[1, i] * T[j, i] * T[k, i] + R[0, i] * Hs[i, j, k]
                    hs += h
                    hg += h * E[k, i]
                if j == k:  # the weight decay's alpha in every sample's Hessian
                    hs += alpha * N
                    hg += alpha * N * grad[k]
                hess[j, k] = hs / N
            hgrad[j] = hg / N
    return terms.scale * total / N + 0.5 * alpha * w2


@jit_parallel
def fields_from_outputs(W, idx, F, G, Hs, terms, order, out):
    """Loss, gradient, Σ₁ (and with ``order == 2`` Hessian and ``mean ∇²ℓ_i ∇ℓ_i``) at every point.

    Over the parameters ``idx`` (n,) (all: ``0..d-1``; a slice: its axes).  ``W`` (P, d) are
    the whole points; ``F`` (P, N), ``G`` (P, N, n), ``Hs`` (P, N, n, n) the model outputs and
    their derivatives in the parameters ``idx`` (``Hs`` is read only when ``order == 2``; below
    that ``out.hess`` and ``out.hgrad`` may have a leading length of 1 and are not written);
    ``terms`` a :data:`LossTerms`, ``out`` a :data:`FieldArrays` over the ``n`` parameters.
    """
    P = W.shape[0]
    N = F.shape[1]
    n = idx.shape[0]
    full = out.hess.shape[0] == P
    loss = out.loss  # a local name: parfors do not write through a tuple's field
    n_chunks = (P + CHUNK - 1) // CHUNK
    for c in prange(n_chunks):
        scratch = np.empty((2 * n + 3, N))
        for p in range(c * CHUNK, min(P, (c + 1) * CHUNK)):
            q = p if full else 0
            loss[p] = _point_fields(W[p], idx, F[p], G[p], Hs[p], terms, order, out, p, q, scratch)


@jit
def _gather(idx, G, Hs, order, Gs, Hss):
    """The columns ``idx`` of ``G`` (N, d) into ``Gs`` (N, n), and with ``order == 2`` the
    ``idx`` blocks of ``Hs`` (N, d, d) into ``Hss`` (N, n, n)."""
    n = idx.shape[0]
    for i in range(G.shape[0]):
        for j in range(n):
            Gs[i, j] = G[i, idx[j]]
            if order >= 2:
                for k in range(n):
                    Hss[i, j, k] = Hs[i, idx[j], idx[k]]


@jit_parallel
def fields_builtin(params, W, X, idx, terms, order, out):
    """:func:`fields_from_outputs` fused with the built-in model's outputs, point by point.

    The outputs of one point live in small per-task buffers (no (P, N, d) arrays), which keeps
    the sample loop in cache.  With ``idx`` a proper subset (a slice) the model's derivatives
    are cut to the ``idx`` columns before the per-sample terms, which then cost what an
    ``n``-parameter landscape costs.
    """
    P, d = W.shape
    N = X.shape[0]
    n = idx.shape[0]
    dh = d if order >= 2 else 1
    nh = n if order >= 2 else 1
    sliced = n != d
    for j in range(n):
        if idx[j] != j:
            sliced = True
    full = out.hess.shape[0] == P
    loss = out.loss  # a local name: parfors do not write through a tuple's field
    n_chunks = (P + CHUNK - 1) // CHUNK
    for c in prange(n_chunks):
        F = np.empty(N)
        G = np.empty((d, N)).T
        Hs = np.zeros((dh, dh, N)).T
        Gs = np.empty((n, N)).T if sliced else G
        Hss = np.zeros((nh, nh, N)).T if sliced else Hs
        scratch = np.empty((2 * n + 3, N))
        for p in range(c * CHUNK, min(P, (c + 1) * CHUNK)):
            q = p if full else 0
            _builtin_rows(params, W[p], X, order, F, G, Hs)
            if sliced:
                _gather(idx, G, Hs, order, Gs, Hss)
            loss[p] = _point_fields(W[p], idx, F, Gs, Hss, terms, order, out, p, q, scratch)


@jit_parallel
def symmetric_sandwich(H, S, c, out):
    """``out[p] = c (M + Mᵀ) / 2`` with ``M = H[p] S[p] H[p]`` for stacks ``(P, d, d)``: the
    leading-order epoch covariance ``H Σ₁ H`` at every field point, without NumPy's per-matrix
    overhead of small stacked products."""
    P, d = H.shape[0], H.shape[1]
    for p in prange(P):
        HS = np.empty((d, d))
        for i in range(d):
            for j in range(d):
                acc = 0.0
                for k in range(d):
                    acc += H[p, i, k] * S[p, k, j]
                HS[i, j] = acc
        for i in range(d):
            for j in range(i + 1):
                a = 0.0
                b = 0.0
                for k in range(d):
                    a += HS[i, k] * H[p, k, j]
                    b += HS[j, k] * H[p, k, i]
                v = c * (0.5 * (a + b))
                out[p, i, j] = v
                out[p, j, i] = v


@jit
def per_sample_terms(W, F, G, Hs, terms, ell, grads, hess):
    """Per-sample losses ``ell`` (P, N), gradients ``grads`` (P, N, d), Hessians ``hess`` (P, N, d, d)
    from the model outputs ``F`` (P, N), ``G`` (P, N, d), ``Hs`` (P, N, d, d) (``terms``: :data:`LossTerms`)."""
    Y, lik, noise_var, scale, alpha = terms.Y, terms.lik, terms.noise_var, terms.scale, terms.alpha
    P, d = W.shape
    for p in range(P):
        w2 = 0.0
        for j in range(d):
            w2 += W[p, j] * W[p, j]
        for i in range(F.shape[1]):
            nll, r1, r2 = nll_terms(lik, Y[i], F[p, i], noise_var)
            ell[p, i] = scale * nll + 0.5 * alpha * w2
            for j in range(d):
                grads[p, i, j] = scale * r1 * G[p, i, j] + alpha * W[p, j]
                for k in range(d):
                    hess[p, i, j, k] = scale * (r2 * G[p, i, j] * G[p, i, k] + r1 * Hs[p, i, j, k])
                hess[p, i, j, j] += alpha


@jit_parallel
def epoch_displacements(G, Hs, perms, batch_size, eta, out):
    """Displacement after one epoch of linearised minibatch steps from a fixed point.

    ``G`` (N, d) per-sample gradients and ``Hs`` (N, d, d) per-sample Hessians at the start
    point; ``perms`` (n, N) sample orders; ``out`` (n, d) receives
    ``δ_M`` of ``δ_{m+1} = δ_m − η mean_{i∈B_m} (g_i + H_i δ_m)``, ``δ_0 = 0``.
    """
    n, N = perms.shape
    d = G.shape[1]
    M = N // batch_size
    for r in prange(n):
        delta = np.zeros(d)
        step = np.empty(d)
        for m in range(M):
            step[:] = 0.0
            for q in range(m * batch_size, (m + 1) * batch_size):
                i = perms[r, q]
                for j in range(d):
                    acc = G[i, j]
                    for k in range(d):
                        acc += Hs[i, j, k] * delta[k]
                    step[j] += acc
            for j in range(d):
                delta[j] -= eta * step[j] / batch_size
        for j in range(d):
            out[r, j] = delta[j]
