"""Every public entry point answers a bad input with a package error naming the argument.

The table is tests/bad_input_table.py; benchmarks/bad_input_tally.py runs the same table one
process per case and tallies clear / unhelpful / hang / silent.
"""

from __future__ import annotations

import os
import sys
import warnings

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from bad_input_table import BUILTIN_ALLOWED, CASES  # noqa: E402

import fpsolve as fp  # noqa: E402


@pytest.mark.parametrize("entry, argument, what, call", CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_bad_input_gets_a_package_error_naming_the_argument(entry, argument, what, call):
    allowed = (ValueError, TypeError, MemoryError) if entry in BUILTIN_ALLOWED else fp.FPSolveError
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stability / normalisation warnings are not the point here
        with pytest.raises(allowed) as info:
            call()
    assert argument in str(info.value), f"{entry} ({what}): the message does not name {argument!r}"


def test_every_public_entry_point_is_in_the_table():
    entries = {c[0].split(".")[0] for c in CASES}
    public = {"Grid", "FokkerPlanck", "stationary", "evolve", "mean_first_passage_time", "spectral_gap",
              "linearized", "closed_form_1d", "Landscape", "SGD", "compare"}
    assert public <= entries
    assert {"simulate.langevin", "simulate.sgd", "SGD.linearized", "SGD.fokker_planck",
            "SGD.grid_around"} <= {c[0] for c in CASES}
