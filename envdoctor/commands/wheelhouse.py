"""`envdoctor wheelhouse`: index a folder of wheels so a fleet installs from it, and list what it holds."""

from __future__ import annotations

import argparse
from pathlib import Path

from envdoctor import wheelhouse
from envdoctor.errors import UsageError
from envdoctor.report import wheelhouse_json, wheelhouse_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "wheelhouse",
        help="index a wheelhouse (static PEP 503 pages) so other machines install from it; list its wheels",
        description="A wheelhouse is a folder of wheels, e.g. the one `fix --build` writes "
        "(~/.cache/envdoctor/wheelhouse). Its mmcv wheels carry their torch in the version label "
        "(mmcv-2.1.0+pt2.13.0cpu-...), so one folder serves every torch.\n\n"
        "  envdoctor wheelhouse index DIR     write DIR/simple/ (PEP 503, sha256 on every link)\n"
        "  python -m http.server -d DIR 8000  or any static file server, bucket or pages site\n"
        "  envdoctor fix --wheel-index http://HOST:8000/simple/ ...   on every other machine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    idx = actions.add_parser("index", help="write DIR/simple/: a static PEP 503 index of every wheel under DIR")
    idx.add_argument("folder", metavar="DIR")
    idx.add_argument("--json", action="store_true", help="print JSON instead of text")
    idx.set_defaults(func=_index)
    ls = actions.add_parser("list", help="every wheel under DIR with the torch its label names")
    ls.add_argument("folder", metavar="DIR")
    ls.add_argument("--json", action="store_true", help="print JSON instead of text")
    ls.set_defaults(func=_list)
    p.set_defaults(func=lambda _a: (p.print_help(), 2)[1])


def _folder(value: str) -> Path:
    folder = Path(value)
    if not folder.is_dir():
        raise UsageError(f"{value} is not a folder.")
    return folder


def _index(args: argparse.Namespace) -> int:
    folder = _folder(args.folder)
    result = wheelhouse.index(folder)
    print(wheelhouse_json.indexed(result) if args.json else wheelhouse_text.indexed(result, folder))
    return 0


def _list(args: argparse.Namespace) -> int:
    folder = _folder(args.folder)
    rows = wheelhouse.listing(folder)
    print(wheelhouse_json.listed(rows) if args.json else wheelhouse_text.listed(rows, folder))
    return 0
