"""envdoctor explain: the failure in a traceback, a build log or a whole CI log, with its cause and fix."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from envdoctor.commands._common import add_target_args, resolve_target
from envdoctor.errors import UsageError
from envdoctor.explain import explain_text, owners, versions
from envdoctor.report import explain_json
from envdoctor.report import explain_text as explain_report

HELP = """\
Read a traceback, a pip or uv build log, or a whole CI log (tens of MB are fine), find the root
failure (the one that explains the exception ending the last traceback, else the first real error,
not its cascade) and every other failure, and say for each what failed, why, and the fix: an
envdoctor command or an exact pin. Warnings that working runs print too (MuseTalk's "please download
ffmpeg-static") are listed as warnings, never as the cause. Failures that are not environment
problems (GPU out of memory, an empty face crop, a wrong config path) are named as such. Pasted forms
are read alike: CRLF, Windows paths, CI timestamps and `>` quote prefixes. With --python/--venv the
target's versions are filled in. Nothing is changed.

examples:
  envdoctor explain build.log
  pip install mmcv 2>&1 | envdoctor explain -
  envdoctor explain ci.log --venv ~/musetalk/.venv    the target's versions in each explanation
  envdoctor explain trace.txt --json                  machine-readable (schema envdoctor.explain v1)

exit codes: 0 the root failure is explained; 1 it is unknown (the line taken for it is shown, with
what else was recognised); 2 usage or internal error.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="the cause and fix of a pasted error, build log or CI log",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "file", nargs="?", metavar="FILE", help="the text to explain; - (or nothing, when piped) reads stdin"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON (schema envdoctor.explain v1)")
    add_target_args(p)
    p.set_defaults(func=run)


def read_input(name: str | None) -> tuple[str, str]:
    """(text, the name to show) from a file or stdin."""
    if name in (None, "-"):
        if name is None and sys.stdin.isatty():
            raise UsageError("Give a FILE to explain, or - to read the text from stdin.")
        return sys.stdin.buffer.read().decode("utf-8", errors="replace"), "stdin"
    path = Path(name)
    if not path.exists():
        raise UsageError(f"{name} does not exist.")
    if not path.is_file():
        raise UsageError(f"{name} is not a file.")
    try:
        return path.read_bytes().decode("utf-8", errors="replace"), name
    except OSError as exc:
        raise UsageError(f"{name} cannot be read: {exc.strerror}.") from None


def _target_facts(
    args: argparse.Namespace,
) -> tuple[dict[str, str], dict[str, tuple[str, str]], dict[str, Any] | None]:
    if not (args.python or args.venv):
        return {}, {}, None
    from envdoctor.probe import facts_from_raw, run_facts_probe

    target = resolve_target(args)
    facts = facts_from_raw(run_facts_probe(target, sections=("python", "distributions")), [], None)
    return versions(facts), owners(facts), target.to_dict()


def run(args: argparse.Namespace) -> int:
    text, source = read_input(args.file)
    values, providers, target = _target_facts(args)
    result = explain_text(text, values, providers)
    code = 0 if result.recognised else 1
    if args.json:
        print(json.dumps(explain_json.to_document(result, source=source, target=target, exit_code=code), indent=2))
    else:
        explain_report.render(result, source, Console(highlight=False, soft_wrap=True))
    return code
