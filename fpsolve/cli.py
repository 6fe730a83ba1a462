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
        help="solve a 2-D non-equilibrium steady state, print its entropy production, save a figure",
        description="Solve the stationary state of a 2-D non-equilibrium Ornstein-Uhlenbeck "
        "process, compare density and entropy production with the exact answer, and save a "
        "density-with-current figure.",
    )
    demo.add_argument("--out", default="fpsolve-output", help="folder for the figure (default: %(default)s)")
    demo.add_argument("--cells", type=int, default=256, help="cells per axis (default: %(default)s)")
    sweep = sub.add_parser(
        "sweep",
        help="run a parameter sweep described in a TOML file; write its store and phase diagrams",
        description="Run the sweep CONFIG.toml describes (function, axes, settings, store, executor; see "
        "docs/sweep.md), resuming its store if it exists, and save one phase diagram per variable.",
    )
    sweep.add_argument("config", metavar="CONFIG.toml", help="the sweep description")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        if args.cells < 16 or args.cells % 2:
            parser.error(f"--cells must be an even number >= 16; got {args.cells}")
        from .demo import run_demo

        run_demo(args.out, n=args.cells)
        return 0
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
