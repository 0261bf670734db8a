"""`envdoctor-maint lock`: pin a strategy's environment for a target, or check the committed lockfiles."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from envdoctor import lock as lock_mod
from envdoctor import lockgate
from envdoctor.errors import UsageError
from envdoctor.outdir import check_writable
from envdoctor.report import lock_table, lock_text
from envdoctor.resources import installed, lockfiles_dir
from envdoctor.strategies import ALL
from envdoctor.strategies.sets import requirement_sets
from envdoctor.uv import UvError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lock",
        help="write lockfiles (requirements.txt with hashes + pylock.toml) per strategy and target",
        description="Resolve a strategy's requirement set with uv for a target (Python, accelerator, platform) "
        "and write lockfiles/<strategy>-<set>-py<XY>-<accelerator>-<platform>.txt and pylock.<same>.toml. "
        "Before writing, the wheel gate checks that every pin has a wheel for the target (or that the "
        "lockfile's inputs name its source build); otherwise lock refuses and names the package. Without "
        "--strategy, makes every cell of the matrix in envdoctor/data/lock.toml and records the cells the gate "
        "leaves out in lockfiles/matrix.json. torch and torchvision are held: never in a lockfile; the header "
        "names the index to take them from.",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a lockfile no longer matches its inputs, was edited by hand (pins, hashes, "
        "markers), or fails the wheel gate (no network, no changes)",
    )
    p.add_argument(
        "--drift",
        action="store_true",
        help="resolve the committed cells again against today's registry (network needed; nothing is "
        "written) and report each pin that would change; exit 1 when any cell drifted. With --strategy, "
        "that one cell",
    )
    p.add_argument(
        "--table",
        nargs="?",
        const="-",
        metavar="FILE",
        help="print the matrix table (Markdown), or write it between the lock-table markers of FILE (README.md)",
    )
    p.add_argument("--strategy", choices=[s.name for s in ALL])
    p.add_argument("--set", dest="set_name", choices=[s.name for s in requirement_sets()], default="modern")
    p.add_argument("--python-version", default="3.11", metavar="X.Y")
    p.add_argument("--accelerator", default="cpu", metavar="cpu|cuXYZ")
    p.add_argument(
        "--platform",
        "--os",
        dest="platform",
        default="linux",
        choices=list(lockgate.platforms()),
        help="linux (x86_64), linux-aarch64, macos (arm64) or windows (amd64)",
    )
    p.add_argument("--torch-series", metavar="M.m", help="prebuilt only: the torch series the mmcv wheel is for")
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="cells resolved at once (default 2)")
    p.add_argument("--output-dir", metavar="DIR", help=f"where the lockfiles go (default {lockfiles_dir()})")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    directory = Path(args.output_dir) if args.output_dir else lockfiles_dir()
    if args.table:
        return _table(args.table, directory)
    if args.check:
        results = lock_mod.check(directory)
        if not results:
            raise UsageError(f"No envdoctor lockfiles in {directory}.")
        print(lock_text.checks(results))
        return 0 if all(r.ok for r in results) else 1
    if args.drift:
        return _drift(args, directory)
    if not args.output_dir and installed():
        # The committed matrix belongs to envdoctor's repository; an installed package is never rewritten.
        raise UsageError(
            f"envdoctor is installed, so its lockfiles in {directory} are not rewritten; "
            "pass --output-dir DIR for the lockfiles to go there."
        )
    check_writable(directory, "--output-dir")  # before any resolution: a wrong folder costs one sentence
    if args.strategy:
        t = _target(args)
        # A cell of the committed matrix keeps matrix.json in step with its files.
        recorded = (directory / lock_mod.MATRIX).is_file() and t in lock_mod.committed_targets()
        try:
            result = lock_mod.make(t, directory)
        except (UvError, ValueError) as exc:
            print(lock_text.failed(t, exc))
            if recorded and isinstance(exc, (UvError, lock_mod.LockRefused)):
                lock_mod.record(directory, [lock_mod.left_out_by(t, exc)])
            return 1
        if recorded:
            lock_mod.record(directory, [result])
        print(lock_text.wrote(result))
        return 0
    targets = lock_mod.committed_targets()
    start = time.monotonic()
    done = [0]

    def progress(outcome: lock_mod.CellOutcome) -> None:
        done[0] += 1
        print(lock_text.progress(done[0], len(targets), time.monotonic() - start, outcome), flush=True)

    outcomes = lock_mod.make_all(targets, directory, jobs=args.jobs, progress=progress)
    print(lock_text.made_all(outcomes, time.monotonic() - start))
    return 0


def _target(args: argparse.Namespace) -> lock_mod.LockTarget:
    return lock_mod.LockTarget(
        args.strategy, args.set_name, args.python_version, args.accelerator, args.platform, args.torch_series
    )


def _drift(args: argparse.Namespace, directory: Path) -> int:
    targets = [_target(args)] if args.strategy else list(lock_mod.committed_targets())
    results = lock_mod.drift(
        targets, directory, jobs=args.jobs, progress=lambda d: print(lock_text.drift_line(d), flush=True)
    )
    if not results:
        raise UsageError(f"No committed lockfile in {directory} for {'that cell' if args.strategy else 'the matrix'}.")
    print(lock_text.drift_summary(results))
    return 0 if all(d.same for d in results) else 1


def _table(where: str, directory: Path) -> int:
    text = lock_table.render(directory)
    if where == "-":
        sys.stdout.write(text)
        return 0
    path = Path(where)
    if not path.is_file():
        raise UsageError(f"{path} is not a file.")
    print(lock_text.table_written(path, lock_table.write_into(path, text)))
    return 0
