"""`envdoctor lock`: pin a strategy's environment for a target, or check the committed lockfiles."""

from __future__ import annotations

import argparse
from pathlib import Path

from envdoctor import lock as lock_mod
from envdoctor.errors import UsageError
from envdoctor.resources import lockfiles_dir
from envdoctor.strategies import ALL
from envdoctor.strategies.sets import requirement_sets
from envdoctor.uv import UvError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lock",
        help="write lockfiles (requirements.txt with hashes + pylock.toml) per strategy and target",
        description="Resolve a strategy's requirement set with uv for a target (Python, accelerator, OS) and "
        "write lockfiles/<strategy>-<set>-py<XY>-<accelerator>-<os>.txt and pylock.<same>.toml. Without "
        "--strategy, makes every lockfile listed in envdoctor/data/lock.toml. torch and torchvision are held: "
        "never in a lockfile; the header names the index to take them from.",
    )
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a lockfile no longer matches its inputs (no network, no changes)")
    p.add_argument("--strategy", choices=[s.name for s in ALL])
    p.add_argument("--set", dest="set_name", choices=[s.name for s in requirement_sets()], default="modern")
    p.add_argument("--python-version", default="3.11", metavar="X.Y")
    p.add_argument("--accelerator", default="cpu", metavar="cpu|cuXYZ")
    p.add_argument("--os", default="linux", choices=["linux", "windows", "macos"])
    p.add_argument("--torch-series", metavar="M.m", help="prebuilt only: the torch series the mmcv wheel is for")
    p.add_argument("--output-dir", metavar="DIR", help=f"where the lockfiles go (default {lockfiles_dir()})")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    directory = Path(args.output_dir) if args.output_dir else lockfiles_dir()
    if args.check:
        results = lock_mod.check(directory)
        if not results:
            raise UsageError(f"No envdoctor lockfiles in {directory}.")
        for r in results:
            print(("ok    " if r.ok else "STALE ") + r.message)
        bad = [r for r in results if not r.ok]
        print(f"{len(results) - len(bad)}/{len(results)} lockfiles match their inputs.")
        return 1 if bad else 0
    if args.strategy:
        targets = [
            lock_mod.LockTarget(
                args.strategy, args.set_name, args.python_version, args.accelerator, args.os, args.torch_series
            )
        ]
    else:
        targets = list(lock_mod.committed_targets())
    failed = 0
    for t in targets:
        try:
            result = lock_mod.make(t, directory)
        except (UvError, ValueError) as exc:
            failed += 1
            print(f"FAILED {t.name}: {exc}")
            continue
        print(f"wrote {result.requirements_txt} and {result.pylock.name} ({result.packages} packages)")
    return 1 if failed else 0
