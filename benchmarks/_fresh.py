"""Run a benchmark's worker in a fresh Python process: the cold-cache, one-case-per-process
measurements of bench_3d.py, bench_landscape.py and bench_repeat.py (and their ``--before``
checkouts) share this."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_worker(script: str | Path, checkout: Path, args, timeout: float | None = None) -> dict:
    """``python script --worker *args`` importing fpsolve from ``checkout``; the dict the worker
    printed as JSON on its last line, or ``{"error": ...}`` (its last stderr line, or the timeout)."""
    env = dict(os.environ, PYTHONPATH=str(checkout) + os.pathsep + str(HERE))
    cmd = [sys.executable, str(Path(script).resolve()), "--worker", *(str(a) for a in args)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(checkout),
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"still running after {timeout:.0f} s"}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])
