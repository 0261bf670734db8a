"""`fix --from DIR`: the options of the reproduction of a bundle, and the call of its service."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from envdoctor.deploy import reproduce
from envdoctor.errors import UsageError
from envdoctor.report import deploy_bundle as render


def add_from_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("from a bundle (`envdoctor lock --output DIR`, then `envdoctor bundle DIR`)")
    g.add_argument(
        "--from",
        dest="from_bundle",
        metavar="DIR",
        help="install exactly the lock of this bundle into --venv (no index, no resolution, every hash "
        "required), verify the result against the lock, then run check",
    )
    g.add_argument("--offline", action="store_true", help="with --from: uv touches no network at all")
    g.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ID",
        help="with --from: run only these checks after (as check --only)",
    )


def main(args: argparse.Namespace) -> int:
    if not args.venv:
        raise UsageError("--from needs --venv DIR: the environment to install the bundle into.")
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    result = reproduce.reproduce(
        Path(args.from_bundle), Path(args.venv), create=args.create, offline=args.offline, only=args.only, progress=say
    )
    if args.json:
        print(json.dumps(render.reproduce_json(result), indent=2, default=str))
    else:
        render.reproduce_text(result, Console(highlight=False, soft_wrap=True))
    return result.exit_code
