"""`envdoctor wheelhouse`: index a folder of wheels so a fleet installs from it, and list what it holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from envdoctor import wheelhouse
from envdoctor.errors import UsageError
from envdoctor.wheellabel import parse_label

SCHEMA = 1


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
    if args.json:
        print(json.dumps({"schema": SCHEMA, "index": str(result.root),
                          "projects": {name: n for name, n in result.projects}}, indent=2))
        return 0
    total = sum(n for _p, n in result.projects)
    print(f"indexed {total} wheels of {len(result.projects)} projects: {result.root}/index.html")
    for name, n in result.projects:
        print(f"  {name}: {n}")
    print(f"serve {folder} (e.g. `python -m http.server -d {folder} 8000`), then on each machine:")
    print("  envdoctor fix --wheel-index http://HOST:8000/simple/")
    return 0


def _list(args: argparse.Namespace) -> int:
    folder = _folder(args.folder)
    rows = []
    for whl in wheelhouse.wheels_in(folder):
        try:
            name, version, _b, tags = parse_wheel_filename(whl.name)
        except InvalidWheelFilename:
            continue
        lab = parse_label(version.local)
        rows.append({
            "file": str(whl.relative_to(folder)),
            "name": str(name),
            "version": str(version),
            "torch": str(lab.torch) if lab else None,
            "platform": lab.platform if lab else None,
            "tags": sorted(str(t) for t in tags),
        })
    if args.json:
        print(json.dumps({"schema": SCHEMA, "wheels": rows}, indent=2))
        return 0
    for r in rows:
        built = f"torch {r['torch']} {r['platform']}" if r["torch"] else "no torch label"
        print(f"{r['file']}  ({built})")
    if not rows:
        print(f"no wheels under {folder}")
    return 0
