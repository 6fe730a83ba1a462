"""Tally how the package answers the bad-input table: clear / unhelpful / hang / silent.

Runs every case of tests/bad_input_table.py in its own Python process (so a hang or a crash
cannot hide the others), with a time limit, and classifies the outcome:

clear      an exception whose message names the argument (``package`` counts those that are
           fpsolve errors, the rest are builtin exceptions);
unhelpful  an exception that does not name the argument, or a crash;
hang       no answer within ``--timeout`` seconds;
silent     the call returned: the bad input was accepted.

Usage: ``python benchmarks/bad_input_tally.py [--timeout 60] [--jobs 2] [--verbose]``
(``PYTHONPATH`` chooses which fpsolve is tested).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE_DIR = os.path.join(os.path.dirname(HERE), "tests")

CHILD = r"""
import json, sys, warnings
sys.path.insert(0, {table_dir!r})
warnings.simplefilter("ignore")
import fpsolve as fp
from bad_input_table import CASES
entry, argument, what, call = CASES[{index}]
try:
    call()
except BaseException as exc:
    print(json.dumps({{"outcome": "raised", "type": type(exc).__name__,
                      "package": isinstance(exc, fp.FPSolveError),
                      "names": argument in str(exc), "message": str(exc)[:300]}}))
else:
    print(json.dumps({{"outcome": "returned"}}))
"""


def run_case(index: int, timeout: float) -> dict:
    code = CHILD.format(table_dir=TABLE_DIR, index=index)
    start = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"kind": "hang", "seconds": timeout}
    seconds = time.perf_counter() - start
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"kind": "unhelpful", "message": f"crash (exit {out.returncode}): {out.stderr[-300:]}",
                "seconds": seconds}
    res = json.loads(lines[-1])
    if res["outcome"] == "returned":
        return {"kind": "silent", "seconds": seconds}
    kind = "clear" if res["names"] else "unhelpful"
    return {"kind": kind, "package": res["package"], "type": res["type"], "message": res["message"],
            "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, TABLE_DIR)
    from bad_input_table import CASES

    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda i: run_case(i, args.timeout), range(len(CASES))))
    tally = Counter(r["kind"] for r in results)
    package = sum(1 for r in results if r["kind"] == "clear" and r.get("package"))
    for (entry, argument, what, _), r in zip(CASES, results):
        if args.verbose or r["kind"] != "clear" or not r.get("package"):
            print(f"{r['kind']:9s} {entry:26s} {argument:18s} {what:32s} "
                  f"{r.get('type', ''):22s} {r.get('message', '')[:110]}")
    print(f"\n{len(CASES)} cases: clear {tally['clear']} (package errors {package}), unhelpful "
          f"{tally['unhelpful']}, hang {tally['hang']}, silent {tally['silent']}")


if __name__ == "__main__":
    main()
