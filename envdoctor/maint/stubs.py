"""`envdoctor-maint stubs`: regenerate the `_ext` stubs kept under stubs/, or check them (`--check`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from envdoctor.errors import UsageError
from envdoctor.outdir import check_writable
from envdoctor.report import stub_json, stub_text
from envdoctor.resources import installed
from envdoctor.stub import kept as kept_lib

EXIT_OK, EXIT_FINDINGS = 0, 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stubs",
        help="regenerate the mmcv _ext stubs kept under stubs/ from the mmcv sdists on PyPI",
        description="Download (or take from --cache) the sdist of every mmcv release in envdoctor/data/stub.toml, "
        "generate its mmcv/_ext.py and write it to stubs/mmcv-<version>/_ext.py. With --check, change nothing "
        "and exit 1 when a kept stub differs from a fresh generation (after a change to the template or to "
        "envdoctor's version). An installed envdoctor can only --check.",
    )
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 when a kept stub drifted")
    p.add_argument("--cache", metavar="DIR", help="where downloaded sdists are kept")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    cache = Path(args.cache) if args.cache else None
    if cache is not None:
        check_writable(cache, "--cache")
    if installed() and not args.check:
        raise UsageError(
            "stubs rewrites the kept stubs of envdoctor's repository; an installed envdoctor can only --check them."
        )
    drifts = kept_lib.check(cache, write=not args.check)
    print(stub_json.kept(drifts) if args.json else stub_text.kept(drifts, check=args.check))
    return EXIT_FINDINGS if args.check and any(d.state != "same" for d in drifts) else EXIT_OK
