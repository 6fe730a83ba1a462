"""The ``fpsolve`` command line."""

from __future__ import annotations

import argparse
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
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
