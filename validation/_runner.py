"""Shared machinery of the validation studies: claims, outputs with metadata, reports, tables.

A study module (``validation.<study>``) exposes ``TITLE``, ``CLAIM`` (one sentence: what the
paper says) and ``run_study(quick, out_dir, echo) -> StudyResult``; :func:`main` gives it its
``python -m validation.<study> [--quick] [--out DIR]`` command line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_OUT = "fpsolve-validation"


@dataclass(frozen=True)
class Claim:
    """One checked statement: what was claimed, what was measured, the tolerance, the verdict."""

    name: str
    claim: str
    measured: float
    target: str
    tolerance: str
    passed: bool

    @property
    def status(self) -> str:
        return "pass" if self.passed else "FAIL"


def close(name: str, claim: str, measured: float, expected: float, *, rtol: float | None = None,
          atol: float | None = None) -> Claim:
    """``measured`` within ``rtol·|expected|`` (or ``atol``) of ``expected``."""
    limit = (rtol * abs(expected) if rtol is not None else 0.0) + (atol or 0.0)
    tol = (f"rel {rtol:.2g}" if rtol is not None else "") + (f"abs {atol:.2g}" if atol else "")
    ok = bool(np.isfinite(measured) and abs(measured - expected) <= limit)
    return Claim(name, claim, float(measured), f"{expected:.4g}", tol, ok)


def below(name: str, claim: str, measured: float, limit: float, why: str = "") -> Claim:
    """``measured <= limit``."""
    ok = bool(np.isfinite(measured) and measured <= limit)
    return Claim(name, claim, float(measured), f"<= {limit:.3g}", why, ok)


def above(name: str, claim: str, measured: float, limit: float, why: str = "") -> Claim:
    """``measured >= limit``."""
    ok = bool(np.isfinite(measured) and measured >= limit)
    return Claim(name, claim, float(measured), f">= {limit:.3g}", why, ok)


@dataclass
class StudyResult:
    """What a study measured: its claims, where its files went, how long it took."""

    study: str
    title: str
    quick: bool
    claims: list[Claim]
    out_dir: Path
    seconds: float
    figures: list[Path] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.claims)


def fit_slope(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of ``log y`` against ``log x`` and its standard error."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if len(lx) < 2:
        return float("nan"), float("nan")
    A = np.vstack([lx, np.ones_like(lx)]).T
    coef, res, *_ = np.linalg.lstsq(A, ly, rcond=None)
    if len(lx) > 2:
        s2 = float(np.sum((ly - A @ coef) ** 2)) / (len(lx) - 2)
        se = math.sqrt(s2 / float(np.sum((lx - lx.mean()) ** 2)))
    else:
        se = float("nan")
    return float(coef[0]), se


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def metadata(study: str, settings: Any, seed: int | None) -> dict:
    """Package version, seed, settings and platform, stored beside every array file."""
    import fpsolve

    return {"study": study, "fpsolve_version": fpsolve.__version__, "seed": seed,
            "settings": _jsonable(settings), "python": platform.python_version(),
            "numpy": np.__version__, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def save_arrays(out_dir: Path, name: str, arrays: dict[str, Any], meta: dict) -> Path:
    """``<name>.npz`` with the arrays and a ``metadata`` entry (JSON), plus ``<name>.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.npz"
    np.savez_compressed(path, metadata=json.dumps(meta), **{k: np.asarray(v) for k, v in arrays.items()})
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


def claims_table(claims: Sequence[Claim], markdown: bool = True) -> str:
    rows = [(c.name, c.claim, f"{c.measured:.4g}", c.target, c.tolerance, c.status) for c in claims]
    head = ("check", "claim", "measured", "target", "tolerance", "status")
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    return plain_table([head, *rows])


def plain_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def write_report(result: StudyResult, claim_text: str, body: str, meta: dict) -> Path:
    """``report.md``: the claim, the table of checks, the body text, the figures inline."""
    lines = [f"# {result.title}", "", f"**Claim.** {claim_text}", "",
             f"Run: {'quick' if result.quick else 'full size'}, fpsolve {meta['fpsolve_version']}, "
             f"seed {meta['seed']}, {result.seconds:.1f} s.", "", claims_table(result.claims), "",
             body.strip(), ""]
    for fig in result.figures:
        lines += [f"![{fig.stem}]({fig.name})", ""]
    path = result.out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def pipeline(run: Callable[[Any], dict], analyse: Callable[[dict, Any], tuple[list[Claim], dict]],
             settings: Any) -> Callable[[], tuple[dict, list[Claim], dict]]:
    """The usual ``compute`` of :func:`run_and_report`: ``run(settings)``, then ``analyse(data, settings)``."""
    def compute():
        data = run(settings)
        return (data, *analyse(data, settings))
    return compute


def run_and_report(study: str, title: str, claim: str, quick: bool, settings: Any, out_dir: str | Path,
                   compute: Callable[[], tuple[dict, list[Claim], dict]],
                   figures: Callable[[dict, dict], dict[str, Any]],
                   body: Callable[[dict, dict], str],
                   save_extra: Callable[[Path], None] | None = None) -> StudyResult:
    """The plumbing every study shares: time ``compute()`` (run and analyse: arrays, claims,
    derived arrays), save ``results.npz``/``.json`` with the metadata, draw ``figures(data,
    derived)`` (name → matplotlib figure), write ``report.md`` with ``body(data, derived)``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data, claims, derived = compute()
    seconds = time.perf_counter() - t0
    meta = metadata(study, settings, getattr(settings, "seed", None))
    save_arrays(out, "results", {**data, **derived}, meta)
    if save_extra is not None:
        save_extra(out)
    result = StudyResult(study, title, quick, claims, out, seconds)
    result.figures += [save_figure(fig, out, name) for name, fig in figures(data, derived).items()]
    write_report(result, claim, body(data, derived), meta)
    return result


def study_runner(study: str, title: str, claim: str, full: Any, quick_settings: Any,
                 run: Callable[[Any], dict],
                 analyse: Callable[[dict, Any], tuple[list[Claim], dict]],
                 figures: Callable[[dict, dict, Any], dict[str, Any]],
                 body: Callable[[dict, dict, Any], str]) -> Callable[..., StudyResult]:
    """The ``run_study`` of a study made of ``run(settings)``, ``analyse(data, settings)``, its
    ``figures(data, derived, settings)`` and its report ``body(data, derived, settings)``, on the
    ``full`` settings or the ``quick_settings`` (see :func:`run_and_report`)."""
    def run_study(quick: bool = False, out_dir: str | Path = DEFAULT_OUT + "/" + study,
                  echo: Callable[[str], None] = print) -> StudyResult:
        s = quick_settings if quick else full
        return run_and_report(study, title, claim, quick, s, out_dir, pipeline(run, analyse, s),
                              lambda data, derived: figures(data, derived, s),
                              lambda data, derived: body(data, derived, s))
    return run_study


def save_figure(fig: Any, out_dir: Path, name: str) -> Path:
    import matplotlib.pyplot as plt

    path = out_dir / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def use_agg() -> None:
    import matplotlib

    matplotlib.use("Agg")


def run_one(study: str, quick: bool, out_root: str | Path, echo: Callable[[str], None] = print) -> StudyResult:
    """Import ``validation.<study>`` and run it; an exception becomes a failed result."""
    out_dir = Path(out_root) / study
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(f"validation.{study}")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"validation.{study}",):
            raise
        return StudyResult(study, study, quick, [], out_dir, 0.0,
                           error=f"study {study!r} is not in this checkout (validation/{study}/ missing)")
    try:
        result = module.run_study(quick=quick, out_dir=out_dir, echo=echo)
    except Exception as exc:  # noqa: BLE001 - a broken study is reported, the others still run
        return StudyResult(study, getattr(module, "TITLE", study), quick, [], out_dir,
                           time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
    return result


def summary_table(results: Sequence[StudyResult]) -> str:
    rows = [("study", "check", "measured", "target", "tolerance", "status")]
    for r in results:
        if r.error:
            rows.append((r.study, "(study did not run)", "-", "-", "-", "FAIL: " + r.error))
        for c in r.claims:
            rows.append((r.study, c.name, f"{c.measured:.4g}", c.target, c.tolerance, c.status))
    return plain_table(rows)


def main(study: str, argv: list[str] | None = None) -> int:
    """``python -m validation.<study> [--quick] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog=f"python -m validation.{study}")
    parser.add_argument("--quick", action="store_true", help="reduced sizes (seconds, for CI)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output root (default: %(default)s)")
    args = parser.parse_args(argv)
    use_agg()
    result = run_one(study, args.quick, args.out)
    print(summary_table([result]))
    print(f"report: {(result.out_dir / 'report.md').resolve()}")
    return 0 if result.passed else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1]))
