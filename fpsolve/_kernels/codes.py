"""The integer codes the trajectory kernels and their Python drivers share (no Numba here).

Each code is defined once, here; kernels read them as compile-time constants and the drivers
use the name maps below to translate user strings and to describe results.
"""

from __future__ import annotations

# -- chain status (``Trajectory.chain_status``) --------------------------------------------
RUNNING = 0  # still stepping (or finished normally)
NON_FINITE = 1  # the position became non-finite (SGD kernels: or beyond the bound, see DIVERGED)
ABSORBED = 2  # left through an absorbing wall
NOT_PSD = 3  # a callable diffusion was not positive semidefinite at the walker's position
DIVERGED = 4  # SGD: stopped by the divergence bound with the weights still finite (set by the driver)

STATUS_NAMES = {RUNNING: "running", NON_FINITE: "non-finite", ABSORBED: "absorbed",
                NOT_PSD: "diffusion not PSD", DIVERGED: "beyond the divergence bound"}
DIVERGED_CODES = (NON_FINITE, NOT_PSD, DIVERGED)  # chain stops that mean the run diverged
SUMMARY_ORDER = (NON_FINITE, DIVERGED, NOT_PSD, ABSORBED)  # order of the stops in a run's message

# -- boundary conditions, per axis ---------------------------------------------------------
REFLECTING = 0
PERIODIC = 1
ABSORBING = 2
FREE = 3  # no wall (callable fields without a grid)

BOUNDARY_CODES = {"reflecting": REFLECTING, "periodic": PERIODIC, "absorbing": ABSORBING}

# -- SDE integrators (``langevin(method=...)``) -------------------------------------------
EULER_MARUYAMA = 0
HEUN = 1

# -- minibatch samplers (``SGD(scheme=...)``) ----------------------------------------------
WITH_REPLACEMENT = 0
IID = 1
WITHOUT_REPLACEMENT = 2

SAMPLER_CODES = {"with_replacement": WITH_REPLACEMENT, "iid": IID,
                 "without_replacement": WITHOUT_REPLACEMENT}

# -- SGD gradient paths --------------------------------------------------------------------
PATH_TANH_NET = 0  # the hand-written TanhNet loop (scalar input, Gaussian likelihood)
PATH_CONSTANT = 1  # the Gaussian mean, f = w[0]
PATH_POINT = 2  # any point kernel point(w, x, params, grad, hess, 1)

PATH_NAMES = {PATH_TANH_NET: "tanh_net", PATH_CONSTANT: "gaussian_mean", PATH_POINT: "point_kernel"}
