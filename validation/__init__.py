"""fpsolve's validation suite: one sub-package per published result.

Each study ``validation/<study>/`` holds ``settings.py`` (the paper's parameters and a quick
variant), ``run.py`` (computes the arrays), ``analyse.py`` (turns them into claims, each a
measurement against a stated tolerance) and ``plot.py`` (figures); ``python -m
validation.<study> [--quick]`` runs it and writes arrays with metadata, PNG figures and a
``report.md`` into ``fpsolve-validation/<study>/``.  ``fpsolve validate`` runs several and prints
one table; the shared machinery is :mod:`validation._runner`.

The suite uses fpsolve's public API only.
"""

from __future__ import annotations

#: The studies in the order ``fpsolve validate`` runs them (a study listed here whose package is
#: not present yet is reported as missing rather than skipped silently).
STUDIES: tuple[str, ...] = (
    "adhikari2023_regression_wr",
    "adhikari2023_regression_wor",
    "sgworld_vs_sgld",
    "grid_vs_sgd",
    "dln_mode",
    "digits_ft",
)

#: Marker that `fpsolve validate` checks, so that an unrelated package named ``validation`` on
#: ``sys.path`` is never mistaken for this suite.
FPSOLVE_VALIDATION_SUITE = True
