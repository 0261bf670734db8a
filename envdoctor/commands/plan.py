"""`envdoctor plan`: which strategy works on this target and why, and the steps `fix` would take."""

from __future__ import annotations

import argparse
import sys

from envdoctor import plan as plan_mod
from envdoctor.commands._common import add_target_args, resolve_target
from envdoctor.commands._fixargs import add_plan_args, options, package_sources
from envdoctor.envstate.journal import unfinished
from envdoctor.report import plan_json, plan_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="rank the strategies for this environment and show the steps of `fix` (changes nothing)",
        description="Judge every strategy against the target's facts, say why each is chosen or rejected, and "
        "print the ordered steps `envdoctor fix` would take. The same as `envdoctor fix --dry-run`.",
    )
    add_target_args(p)
    add_plan_args(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    pending = unfinished(target.prefix)
    if pending is not None:
        print(f"note: {pending.sentence()}.", file=sys.stderr)
    say = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr))
    plan = plan_mod.make(target, options(args), package_sources(args), progress=say)
    print(plan_json.plan_document(plan) if args.json else plan_text.render(plan))
    return 0 if plan.ok else 1
