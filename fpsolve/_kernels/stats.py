"""Streaming moments of the trajectory kernels, in one convention.

A chain's samples ``x`` (d,) after burn-in are summed as deviations from a reference point
``ref`` (the chain's first such sample), so no division happens per step and the cancellation
stays at the scale of the chain's spread::

    S1 += x − ref,      S2 += (x − ref)(x − ref)ᵀ

Every ``(d, d)`` accumulator here (``S2``, Welford's ``M2``) is held flat (``d*d``, row major)
and filled in its **upper triangle** only (entries ``[i, j]`` with ``j >= i``);
:func:`mirror_upper` completes it on the Python side.  Mean and ``M2`` follow as
``ref + S1 / c`` and ``S2 − S1 S1ᵀ / c``; blocks of sums merge into a Welford triple
``(count, mean, M2)`` by Chan et al.'s pairwise update (:func:`merge_sums`).
"""

from __future__ import annotations

import numpy as np

from ._jit import jit_inline


@jit_inline
def add_sample(x, c, ref, S1, S2, e, d):
    """Add sample ``x`` to the shifted sums of ``c`` samples; returns ``c + 1``.

    The first sample (``c == 0``) becomes ``ref`` and adds nothing (its deviation is zero).
    ``e`` (d,) is scratch.
    """
    if c == 0:
        for i in range(d):
            ref[i] = x[i]
        return 1
    for i in range(d):
        e[i] = x[i] - ref[i]
        S1[i] += e[i]
    for i in range(d):
        ei = e[i]
        for j in range(i, d):
            S2[i * d + j] += ei * e[j]
    return c + 1


@jit_inline
def welford(x, c, mu, M2, delta, d):
    """Welford's update of ``(c, mu, M2)`` with sample ``x``; returns the new count."""
    c += 1
    inv = 1.0 / c
    for i in range(d):
        delta[i] = x[i] - mu[i]
        mu[i] += delta[i] * inv
    for i in range(d):
        xi = x[i] - mu[i]
        for j in range(i, d):
            M2[i * d + j] += delta[j] * xi
    return c


@jit_inline
def merge_sums(c, mu, M2, k, ref, S1, S2, delta, d):
    """Merge ``k`` samples summed by :func:`add_sample` into the Welford triple ``(c, mu, M2)``.

    The block's mean and squared deviations are ``ref + S1 / k`` and ``S2 − S1 S1ᵀ / k`` (exact
    up to rounding of order ``|x̄ − ref|² / var`` ulp, small because ``ref`` is a point of the
    block); blocks combine by Chan et al.'s pairwise update.  Returns the new count.
    """
    if k == 0:
        return c
    inv = 1.0 / k
    n = c + k
    f = c * (k / n)
    for i in range(d):
        delta[i] = (ref[i] + S1[i] * inv) - mu[i]
    for i in range(d):
        for j in range(i, d):
            M2[i * d + j] += (S2[i * d + j] - S1[j] * S1[i] * inv) + delta[j] * delta[i] * f
    w = k / n
    for i in range(d):
        mu[i] += delta[i] * w
    return n


def mirror_upper(a: np.ndarray) -> np.ndarray:
    """``a`` (..., d, d) with its strict lower triangle replaced by the mirrored upper one."""
    d = a.shape[-1]
    upper = np.triu(np.ones((d, d), dtype=bool))
    return np.where(upper, a, np.swapaxes(a, -1, -2))


def moments_from_sums(count: np.ndarray, ref: np.ndarray, sum1: np.ndarray,
                      sum2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-chain mean and Welford ``M2 = Σ (x − mean)(x − mean)ᵀ`` from the shifted sums.

    ``count`` (C,), ``ref`` and ``sum1`` (C, d), ``sum2`` (C, d, d) upper triangle, as
    :func:`add_sample` leaves them.  Chains with no samples get zeros.
    """
    S2 = mirror_upper(sum2)
    c = count.astype(float)[:, None]
    has = c > 0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean = np.where(has, ref + sum1 / c, 0.0)
        outer = sum1[:, :, None] * sum1[:, None, :]
        m2 = np.where(has[:, :, None], S2 - outer / c[:, :, None], 0.0)
    return mean, m2
