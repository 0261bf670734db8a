"""The command line: parse arguments, call the library, pick a formatter, set the exit code.

Each subcommand lives in its own module under envdoctor/commands/ and exposes
`register(subparsers)`; the module sets `func` on its parser, a callable taking the parsed
arguments and returning the exit code. Nothing else happens here.

Exit codes, for every command: 0 ok, 1 findings (something required is broken), 2 usage or
internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from envdoctor import __version__, commands
from envdoctor.errors import UsageError
from envdoctor.probe import ProbeError

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

DESCRIPTION = """\
envdoctor makes a MuseTalk environment work, and keeps it working.

It runs outside the environment it treats (like uv): point it at an interpreter with
--python PATH or at a virtual environment with --venv DIR; by default it takes the active
virtualenv, else ./.venv, else python3 on PATH, and says which one it took.

Start with:   envdoctor check            every problem, its cause and its fix
              envdoctor explain FILE     the cause and fix of an error, build log or CI log
"""

EPILOG = "Exit codes: 0 ok, 1 findings, 2 usage or internal error. `envdoctor COMMAND --help` for more."


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own exit code is already 2; keep one sentence
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"envdoctor: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="envdoctor",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"envdoctor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"envdoctor.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"envdoctor: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ProbeError as exc:
        print(f"envdoctor: {exc}.", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        # Said out loud: what was running and what was stopped (smoke says it stopped MuseTalk's group).
        print(f"envdoctor: {str(exc) or 'interrupted'}.", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        # An internal error still ends in one sentence and exit 2; the traceback is there on request.
        if os.environ.get("ENVDOCTOR_DEBUG"):
            raise
        print(
            f"envdoctor: internal error: {type(exc).__name__}: {exc} (set ENVDOCTOR_DEBUG=1 for the traceback).",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
