"""The ``fpsolve`` command line."""

from __future__ import annotations

import argparse
import os
import sys

from ._version import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fpsolve",
        description="Fokker-Planck solvers for stochastic gradient descent as a physical process.",
    )
    parser.add_argument("--version", action="version", version=f"fpsolve {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="SGD on the paper's regression problem as a physical process: figures and a report",
        description="The main job: the regression data of Adhikari et al. (2023) and a 7-parameter "
        "tanh network; linearised states with and without replacement; a grid stationary state with "
        "its current on a 2-parameter slice against sampling. Writes figures and report.md.",
    )
    demo.add_argument("--out", default="fpsolve-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--quick", action="store_true", help="reduced sizes (seconds)")
    demo.add_argument("--cells", type=int, default=None,
                      help="cells per axis of the slice grid (default: 64, 48 with --quick)")
    _add_validate(sub)
    sweep = sub.add_parser(
        "sweep",
        help="run a parameter sweep described in a TOML file; write its store and phase diagrams",
        description="Run the sweep CONFIG.toml describes (function, axes, settings, store, executor; see "
        "docs/sweep.md), resuming its store if it exists, and save one phase diagram per variable.",
    )
    sweep.add_argument("config", metavar="CONFIG.toml", help="the sweep description")
    return parser


# -- fpsolve validate ------------------------------------------------------------------------------
def _add_validate(sub) -> None:
    validate = sub.add_parser(
        "validate",
        help="run the validation studies (published results) and print claim / measured / status",
        description="Run the studies of the validation suite (validation/<study>/ in an fpsolve "
        "source checkout), write each one's arrays, figures and report.md, and print one table of "
        "claim, measurement, tolerance and status.  Exit status 1 when a claim fails.",
    )
    validate.add_argument("studies", nargs="*", metavar="STUDY", help="studies to run (default: all)")
    validate.add_argument("--quick", action="store_true", help="reduced sizes (all studies in minutes)")
    validate.add_argument("--out", default="fpsolve-validation",
                          help="output folder, one sub-folder per study (default: %(default)s)")
    validate.add_argument("--list", action="store_true", help="list the studies and exit")


def _validation_suite():
    """Import the ``validation`` package of this checkout.

    The suite lives beside the package in the source tree (``<repo>/validation``), not inside the
    installed wheel: with an editable install (``pip install -e .``) it is found next to
    ``fpsolve/``; from any other install, run from the repository root or set ``PYTHONPATH``.
    """
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if (root / "validation" / "__init__.py").is_file() and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        suite = importlib.import_module("validation")
    except ModuleNotFoundError:
        suite = None
    if suite is None or not getattr(suite, "FPSOLVE_VALIDATION_SUITE", False):
        raise SystemExit(
            "fpsolve validate: the validation suite was not found; it is the validation/ folder of an "
            f"fpsolve source checkout (looked beside the package, in {root}, and on sys.path). Install "
            "with `pip install -e .` from the checkout or run from its root.")
    return suite


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    suite = _validation_suite()
    if args.list:
        for name in suite.STUDIES:
            print(name)
        return 0
    unknown = [s for s in args.studies if s not in suite.STUDIES]
    if unknown:
        parser.error(f"unknown study {unknown[0]!r}; valid studies: {', '.join(suite.STUDIES)}")
    from validation import _runner

    _runner.use_agg()
    results = []
    names = args.studies or list(suite.STUDIES)
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name}{' (quick)' if args.quick else ''} ...", flush=True)
        result = _runner.run_one(name, args.quick, args.out)
        verdict = "error: " + result.error if result.error else (
            f"{sum(c.passed for c in result.claims)}/{len(result.claims)} claims pass")
        print(f"[{i}/{len(names)}] {name}: {verdict} ({result.seconds:.1f} s)", flush=True)
        results.append(result)
    print()
    print(_runner.summary_table(results))
    failed = [r.study for r in results if not r.passed]
    from pathlib import Path

    print(f"\nreports: {Path(args.out).resolve()}/<study>/report.md")
    print("all claims pass" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        if args.cells is not None and (args.cells < 16 or args.cells % 2):
            parser.error(f"--cells must be an even number >= 16; got {args.cells}")
        from .demo import run_demo

        run_demo(args.out, quick=args.quick, n=args.cells)
        return 0
    if args.command == "validate":
        return _validate(parser, args)
    if args.command == "sweep":
        from .sweep import SweepError, run_config

        try:
            result = run_config(args.config)
        except (SweepError, ImportError) as exc:
            parser.error(str(exc))
        print(f"dataset (zarr store): {os.path.abspath(result['store'])}")
        for figure in result["figures"]:
            print(f"figure: {os.path.abspath(figure)}")
        return 0
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
