"""Random streams of the trajectory kernels: xoshiro256**, a ziggurat for normals, seeding.

Every walker owns an independent xoshiro256** generator (Blackman & Vigna 2018) whose
256-bit state is seeded from ``(seed, walker)`` alone::

    h      = splitmix64(splitmix64(seed) + walker)       # a bijection of the walker index
    s[k]   = mix(h + (k + 1) * GAMMA),   k = 0..3         # the splitmix64 stream from h

so a walker's noise does not depend on which thread runs it, nor on how many walkers
there are.  Uniforms are ``(next() >> 11) * 2**-53`` in ``[0, 1)``; standard normals come
from the 256-layer ziggurat of Marsaglia & Tsang (2000) in the 64-bit layout of
NumPy's generator (8 bits pick the layer, 1 bit the sign, 52 bits the abscissa; the wedges and
the tail cost extra uniforms in about 1% of draws).  Each step draws its ``d`` normals in
order, so ``standard_normals`` reproduces exactly the ``ξ`` a run used.  The generator state
travels as four scalars (``xoshiro`` returns the output and the new state), so in the step loops
it lives in registers.

Two forms of every draw: on four scalars (``xoshiro``, ``uniform``, ``normal``: the state in
registers, for step loops) and on a state array ``s`` (4 uint64) updated in place
(``next_u64``, ``normal_of``, ``fill_normals``).  The Langevin walkers, the SGD chains and the
softmax sampler all draw from here.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit, jit_inline

GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
TO_UNIT = 2.0**-53

@jit_inline
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return z ^ (z >> np.uint64(31))


@jit_inline
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@jit
def seed_walker(seed, walker, s):
    """Fill ``s`` (4 uint64) with the xoshiro256** state of ``walker`` for ``seed``."""
    h = _mix(_mix(np.uint64(seed) + GAMMA) + np.uint64(walker) + GAMMA)
    for k in range(4):
        s[k] = _mix(h + np.uint64(k + 1) * GAMMA)


@jit_inline
def xoshiro(s0, s1, s2, s3):
    """One xoshiro256** output and the next state (held in four scalars, so in registers)."""
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@jit_inline
def uniform(s0, s1, s2, s3):
    r, s0, s1, s2, s3 = xoshiro(s0, s1, s2, s3)
    return np.float64(np.int64(r >> np.uint64(11))) * TO_UNIT, s0, s1, s2, s3


def _ziggurat_tables(n=256, r=3.6541528853610088, v=0.00492867323399):
    """Marsaglia--Tsang ziggurat tables for the normal density (256 layers, 52-bit mantissa).

    ``r`` is the start of the tail and ``v`` the area of every layer (Marsaglia & Tsang
    2000, with the layout of NumPy's ``random_standard_normal``).
    """
    m1 = 2.0**52
    ki = np.zeros(n, np.uint64)
    wi = np.zeros(n)
    fi = np.zeros(n)
    dn = r
    q = v / math.exp(-0.5 * dn * dn)
    ki[0] = np.uint64((dn / q) * m1)
    ki[1] = np.uint64(0)
    wi[0] = q / m1
    wi[n - 1] = dn / m1
    fi[0] = 1.0
    fi[n - 1] = math.exp(-0.5 * dn * dn)
    for i in range(n - 2, 0, -1):
        new = math.sqrt(-2.0 * math.log(v / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64((new / dn) * m1)
        dn = new
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / m1
    return ki, wi, fi, r


ZIG_K, ZIG_W, ZIG_F, ZIG_R = _ziggurat_tables()
ZIG_INV_R = 1.0 / ZIG_R
MANTISSA = np.uint64(0x000FFFFFFFFFFFFF)
# Indexed by the low 9 bits (layer and sign) of a draw: the sign goes into the layer's width,
# so the fast path has no branch on it (rabs * -w == -(rabs * w) exactly).
ZIG_KS = np.concatenate((ZIG_K, ZIG_K))
ZIG_WS = np.concatenate((ZIG_W, -ZIG_W))


@jit
def _normal_slow(idx, x, negative, s0, s1, s2, s3):
    """The ziggurat after a first draw missed its rectangle (about 1% of draws): wedge or tail."""
    while True:
        if idx == 0:
            while True:
                u1, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                u2, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                xx = -ZIG_INV_R * math.log1p(-u1)
                yy = -math.log1p(-u2)
                if yy + yy > xx * xx:
                    return (-(ZIG_R + xx) if negative else ZIG_R + xx), s0, s1, s2, s3
        else:
            u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
            if (ZIG_F[idx - 1] - ZIG_F[idx]) * u + ZIG_F[idx] < math.exp(-0.5 * x * x):
                return x, s0, s1, s2, s3
        r, s0, s1, s2, s3 = xoshiro(s0, s1, s2, s3)
        idx = np.int64(r & np.uint64(0xFF))
        r = r >> np.uint64(8)
        negative = (r & np.uint64(1)) != np.uint64(0)
        rabs = (r >> np.uint64(1)) & MANTISSA
        x = np.float64(np.int64(rabs)) * ZIG_W[idx]
        if negative:
            x = -x
        if rabs < ZIG_K[idx]:
            return x, s0, s1, s2, s3


@jit_inline
def normal(s0, s1, s2, s3):
    """One standard normal from the ziggurat and the next state (one uint64 in 99% of calls).

    The rectangle test is inlined and branch-free up to it (the sign is in ``ZIG_WS``); the
    wedges and the tail are a call to :func:`_normal_slow`.
    """
    r, s0, s1, s2, s3 = xoshiro(s0, s1, s2, s3)
    layer = r & np.uint64(0x1FF)  # 8 bits pick the layer, the 9th the sign
    rabs = (r >> np.uint64(9)) & MANTISSA
    x = np.float64(np.int64(rabs)) * ZIG_WS[layer]
    if rabs < ZIG_KS[layer]:
        return x, s0, s1, s2, s3
    return _normal_slow(np.int64(layer & np.uint64(0xFF)), x, layer > np.uint64(0xFF),
                        s0, s1, s2, s3)


@jit_inline
def fill_normals(s, xi, d):
    """Fill ``xi[:d]`` with standard normals, in order, advancing the state array ``s`` (4,)."""
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    for k in range(d):
        xi[k], s0, s1, s2, s3 = normal(s0, s1, s2, s3)
    s[0], s[1], s[2], s[3] = s0, s1, s2, s3


@jit
def seed_states(seed, first, out):
    """Generator states of walkers ``first .. first + len(out) - 1`` into ``out`` (W, 4)."""
    for w in range(out.shape[0]):
        seed_walker(seed, first + w, out[w])


@jit
def standard_normals(seed, first, out):
    """The normals ``ξ`` a run with ``seed`` draws: ``out`` (W, n_steps, d) for walkers from ``first``."""
    s = np.empty(4, np.uint64)
    d = out.shape[2]
    for w in range(out.shape[0]):
        seed_walker(seed, first + w, s)
        for n in range(out.shape[1]):
            fill_normals(s, out[w, n], d)


@jit_inline
def next_u64(s):
    """One xoshiro256** output from a state array ``s`` (4 uint64), updated in place."""
    r, s[0], s[1], s[2], s[3] = xoshiro(s[0], s[1], s[2], s[3])
    return r


@jit_inline
def normal_of(s):
    """One standard normal from a state array ``s`` (4 uint64), updated in place."""
    x, s[0], s[1], s[2], s[3] = normal(s[0], s[1], s[2], s[3])
    return x


@jit_inline
def bounded(u, n):
    """A uniform integer in ``0..n-1`` from the 64-bit output ``u`` (bias below ``n · 2⁻⁵³``)."""
    return np.int64(np.float64(u >> np.uint64(11)) * TO_UNIT * n)
