"""Freed memory is kept for the next solve (glibc's malloc settings, ``fpsolve._memory``)."""

import json
import os
import platform
import subprocess
import sys

import pytest

FAULT_SHARE = 0.1  # repeated 128² solves: ~2 page faults per solve kept, ~970 not (measured)

SCRIPT = """
import json, resource, warnings
import numpy as np
import fpsolve as fp
from fpsolve import _memory
warnings.simplefilter("ignore")
K = np.array([[1.0, 1.5], [-0.5, 1.0]])
problem = fp.FokkerPlanck(fp.Grid((-6, -6), (6, 6), (128, 128)),
                          lambda x: -np.einsum("ij,j...->i...", K, x), np.diag([0.5, 0.25]))
for _ in range(2):
    fp.stationary(problem, order=2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    fp.stationary(problem, order=2)
after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
print(json.dumps({"faults": (after - before) / 3, "kept": _memory.keep_freed_memory()}))
"""


def _run(keep: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["FPSOLVE_KEEP_MEMORY"] = keep
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_repeated_solves_reuse_their_memory_instead_of_faulting_it_in():
    kept, returned = _run("1"), _run("0")
    assert kept["kept"] and not returned["kept"]
    assert returned["faults"] > 100  # the comparison means something: the untuned solve faults
    assert kept["faults"] < FAULT_SHARE * returned["faults"]
