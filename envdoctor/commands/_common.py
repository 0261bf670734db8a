"""Arguments that several subcommands share."""

from __future__ import annotations

import argparse

from envdoctor import target as target_mod
from envdoctor.target import Target


def add_target_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target (the environment to treat)")
    group.add_argument("--python", metavar="PATH", help="the interpreter of the environment to treat")
    group.add_argument("--venv", metavar="DIR", help="the virtual environment to treat")


def resolve_target(args: argparse.Namespace) -> Target:
    return target_mod.resolve(python=args.python, venv=args.venv)
