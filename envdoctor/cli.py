"""The command line: parse arguments, call the library, pick a formatter, set the exit code.

Each subcommand lives in its own module under envdoctor/commands/ and exposes
`register(subparsers)`; the module sets `func` on its parser, a callable taking the parsed
arguments and returning the exit code. Nothing else happens here.

Exit codes, for every command: 0 ok, 1 findings (something required is broken), 2 usage or
internal error. An error that ends a command (envdoctor.errors) is turned into its sentence here and
nowhere else: on stderr, and under --json also as the envdoctor.error document on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from envdoctor import __version__, commands, process
from envdoctor.errors import EnvdoctorError, Failure, failure
from envdoctor.report import error_json

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
COMMAND_PATH = "_command_path"

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


def new_parser(prog: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """A top-level parser with the options every envdoctor entry point shares (--version, --verbose)."""
    parser = _Parser(
        prog=prog, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"{prog} {__version__}")
    parser.add_argument(
        "--verbose",
        dest="log_commands",  # `check --verbose` is check's own (passing imports too)
        action="store_true",
        help="print every command envdoctor runs, with its duration, to stderr (also: ENVDOCTOR_LOG=1, or =FILE)",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser("envdoctor", DESCRIPTION, EPILOG)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"envdoctor.commands.{info.name}")
        module.register(sub)
    return parser


def _name_commands(parser: argparse.ArgumentParser, above: tuple[str, ...]) -> None:
    """Give every (sub)subparser its full name as a default (`stub install`), for the error document.

    argparse copies a nested parser's defaults over its parent's, so the deepest name wins."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                if child.get_default(COMMAND_PATH) is None:  # an alias shares its parser: the first name stays
                    child.set_defaults(**{COMMAND_PATH: " ".join((*above, name))})
                    _name_commands(child, (*above, name))


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse `argv` with `parser` (whose subcommands set `func`), run the command, map what ends it.

    Every entry point (`envdoctor`, `envdoctor-maint`) goes through here, so an error is said one way."""
    _name_commands(parser, ())
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    command = str(getattr(args, COMMAND_PATH, None) or args.command)
    process.set_verbose(bool(getattr(args, "log_commands", False)))
    ended: Failure
    try:
        return int(args.func(args))
    except KeyboardInterrupt as exc:
        ended = failure(command, exc)
    except Exception as exc:
        if not isinstance(exc, EnvdoctorError) and os.environ.get("ENVDOCTOR_DEBUG"):
            raise
        ended = failure(command, exc)
    print(f"envdoctor: {ended.message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(error_json.document(ended))
    return ended.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
