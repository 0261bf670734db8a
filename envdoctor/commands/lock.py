"""`envdoctor lock`: pin the environment the user made work, torch included, for deployment."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from envdoctor.commands._common import add_target_args, resolve_target
from envdoctor.deploy import lock as lock_mod
from envdoctor.deploy.hashes import default_sources
from envdoctor.report import deploy_lock as render

HELP = """\
Lock the target environment as it is: every distribution with the wheel it came from and that wheel's
sha256 (torch and torchvision too, with the index or folder they came from), the wheels envdoctor built
(the _ext stub, the DWPose port, a compiled mmcv) copied into DIR/wheels/, the target (Python, platform,
accelerator) and the model manifest. Writes DIR/pylock.toml (PEP 751) and DIR/requirements.txt (hashed).
Wheel hashes come from envdoctor's wheelhouse, pip's configured folders and indexes, then PyPI.
Refuses an environment that `envdoctor check` fails (--allow-failing locks it anyway), and one with a
distribution whose wheel hash cannot be known (--allow-unhashed locks that one by version only).

examples:
  envdoctor lock --venv .venv --output deploy/
  envdoctor lock --check deploy/ --venv .venv     exit 1 naming each distribution that differs

exit codes: 0 written / matches; 1 refused / differs; 2 usage or error.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lock",
        help="lock the environment as it is (pylock.toml + hashed requirements.txt), or check it against a lock",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_args(p)
    p.add_argument("--output", metavar="DIR", help="where the lock goes (e.g. deploy/)")
    p.add_argument("--check", metavar="DIR", help="compare the target with the lock in DIR; nothing is written")
    p.add_argument("--strategy", metavar="NAME", help="the strategy the environment was made with (recorded)")
    p.add_argument("--find-links", action="append", default=[], metavar="DIR", help="a folder of wheels to hash")
    p.add_argument(
        "--offline", action="store_true", help="ask no remote index for hashes: only local wheels and indexes"
    )
    p.add_argument("--allow-failing", action="store_true", help="lock even when check fails")
    p.add_argument("--allow-unhashed", action="store_true", help="lock a distribution without a known hash")
    p.add_argument("--json", action="store_true", help="print the result as JSON (envdoctor.lock-env v1)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from envdoctor.errors import UsageError

    if bool(args.output) == bool(args.check):
        raise UsageError("Pass --output DIR to write a lock, or --check DIR to compare with one.")
    target = resolve_target(args)
    if args.check:
        folder = Path(args.check)
        diffs = lock_mod.check(folder, target)
        print(json.dumps(render.check_json(folder, diffs), indent=2) if args.json else render.check_text(folder, diffs))
        return 1 if diffs else 0
    written = lock_mod.make(
        target,
        Path(args.output),
        sources=default_sources([Path(f) for f in args.find_links], network=not args.offline),
        strategy=args.strategy,
        allow_failing=args.allow_failing,
        allow_unhashed=args.allow_unhashed,
    )
    print(json.dumps(render.wrote_json(written), indent=2) if args.json else render.wrote_text(written, target.reason))
    return 0
