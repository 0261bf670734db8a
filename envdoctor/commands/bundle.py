"""`envdoctor bundle`: a lock folder made complete (every wheel, envdoctor itself, SHA256SUMS) for a machine
with no network."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envdoctor.deploy import bundle as bundle_mod
from envdoctor.deploy.hashes import default_sources
from envdoctor.report import deploy_bundle as render

HELP = """\
Complete the lock in DIR (written by `envdoctor lock --output DIR`) into a bundle that installs on a
machine with no network: every wheel the lock names is placed in DIR/wheels/ (copied from the folder the
lock found it in, or downloaded from the URL it names), each only once its sha256 equals the lock's; a
wheel that differs is never placed. envdoctor itself goes in DIR/tool/ (its wheel, built from this
checkout with uv or given with --envdoctor-wheel, and the wheels it needs) with a hashed
DIR/tool/requirements.txt. DIR/SHA256SUMS lists every file of the bundle for `sha256sum -c`. The size of
DIR is said before and after.

On the target machine:
  python3 -m venv envdoctor-env
  envdoctor-env/bin/pip install --no-index --find-links DIR/tool --require-hashes -r DIR/tool/requirements.txt
  envdoctor-env/bin/envdoctor fix --from DIR --venv .venv --create --offline

examples:
  envdoctor bundle deploy/
  envdoctor bundle deploy/ --models ~/MuseTalk/models     also the model files the lock names, hash-checked
  envdoctor bundle deploy/ --json                         machine-readable (schema envdoctor.bundle v1)

exit codes: 0 bundled; 2 a wheel cannot be had, its hash differs from the lock, or usage error.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bundle",
        help="fetch every wheel a lock names (hash-checked), envdoctor itself and SHA256SUMS into the lock folder",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("folder", metavar="DIR", help="the lock folder (pylock.toml), e.g. deploy/")
    p.add_argument("--models", metavar="MODELS_DIR", help="also copy the model files the lock names from this folder")
    p.add_argument(
        "--find-links", action="append", default=[], metavar="DIR", help="a folder of wheels for envdoctor's own needs"
    )
    p.add_argument("--envdoctor-wheel", metavar="FILE", help="this wheel of envdoctor, not one built from the source")
    p.add_argument("--no-tool", action="store_true", help="leave envdoctor itself out (the target machine has it)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (envdoctor.bundle v1)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    result = bundle_mod.make(
        Path(args.folder),
        sources=default_sources([Path(f) for f in args.find_links]),
        include_tool=not args.no_tool,
        envdoctor_wheel=Path(args.envdoctor_wheel) if args.envdoctor_wheel else None,
        models_dir=Path(args.models) if args.models else None,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(json.dumps(render.bundle_json(result), indent=2) if args.json else render.bundle_text(result))
    return 0
