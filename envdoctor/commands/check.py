"""envdoctor check: every problem of a MuseTalk environment in one run, with cause and fix."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from envdoctor import checkrun as check_mod
from envdoctor.commands._common import add_target_args, resolve_target
from envdoctor.manifest import SCOPES
from envdoctor.probe import DEFAULT_IMPORT_TIMEOUT
from envdoctor.report import check_json, check_text

HELP = """\
Probe the target environment and report every problem at once: the interpreter and platform, the
GPU and driver, the installed packages (known-bad combinations from envdoctor's breaker catalog),
a real import of every module MuseTalk imports (each in the target, crash-isolated and timed),
the model files and ffmpeg. Each problem comes with what was found, what is expected, why it
breaks and how to fix it. Nothing is changed.

examples:
  envdoctor check                              the active venv, else ./.venv, else python3
  envdoctor check --venv ~/musetalk/.venv --models ~/MuseTalk/models
  envdoctor check --app ~/MuseTalk             the imports of that checkout, found with ast
  envdoctor check --app ~/MuseTalk --scope training   what its training entry points reach
  envdoctor check --json > report.json         machine-readable (schema envdoctor.check v1)
  envdoctor check --only imports --only packages.rules

exit codes: 0 every required check passes; 1 at least one fails; 2 usage or internal error.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="every problem of a MuseTalk environment, with cause and fix",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_args(p)
    p.add_argument(
        "--app",
        metavar="DIR",
        help="scan this MuseTalk checkout: the imports its entry points reach, found with ast "
        "(default: the built-in v1.5 list)",
    )
    p.add_argument(
        "--models",
        metavar="DIR",
        help="check the model files in this models/ folder by sha256 (remembered: a repeat is a stat per file)",
    )
    p.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help="import scopes to probe (default: inference); repeat for more, e.g. --scope inference --scope app",
    )
    p.add_argument(
        "--only", action="append", default=[], metavar="ID", help="run only these checks (see --list-checks)"
    )
    p.add_argument("--list-checks", action="store_true", help="list the checks and exit")
    p.add_argument(
        "--import-timeout",
        type=float,
        default=DEFAULT_IMPORT_TIMEOUT,
        metavar="S",
        help=f"seconds one import may take before it counts as hung (default {DEFAULT_IMPORT_TIMEOUT:g})",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON (schema envdoctor.check v1)")
    p.add_argument("-v", "--verbose", action="store_true", help="list passing imports too")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Console(highlight=False, soft_wrap=True)
    if args.list_checks:
        specs = check_mod.selected(args.only)
        if args.json:
            print(json.dumps(check_json.check_list(specs), indent=2))
        else:
            check_text.render_list(specs, out)
        return 0
    target = resolve_target(args)
    err = Console(stderr=True, highlight=False)
    show_progress = not args.json and sys.stderr.isatty()
    with err.status("probing the target...", spinner="dots") if show_progress else _Null() as status:

        def progress(msg: str) -> None:
            if status is not None:
                status.update(msg)

        report = check_mod.run(
            target,
            app=Path(args.app) if args.app else None,
            models=Path(args.models) if args.models else None,
            scopes=tuple(args.scope or ("inference",)),
            only=args.only,
            import_timeout=args.import_timeout,
            progress=progress,
        )
    if args.json:
        print(json.dumps(check_json.to_document(report), indent=2, default=str))
    else:
        check_text.render(report, out, verbose=args.verbose)
    return report.exit_code


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
