"""`envdoctor fix`: parse the options, show the plan, call the transaction, print its result."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from envdoctor import apply as apply_mod
from envdoctor import plan as plan_mod
from envdoctor import target as target_mod
from envdoctor.apply.verification import baseline
from envdoctor.commands import _fromargs
from envdoctor.commands._common import add_target_args, resolve_target
from envdoctor.commands._fixargs import add_plan_args, options, package_sources
from envdoctor.envstate.journal import unfinished
from envdoctor.errors import UsageError
from envdoctor.pythons import find_python
from envdoctor.report import plan_json, plan_text
from envdoctor.uv import UvError, find_uv

SERIES = re.compile(r"3\.\d+")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fix",
        help="make this environment work: plan, apply with uv, verify with check, roll back on failure",
        description="Rank the strategies (as `envdoctor plan` does), show the plan and ask, then, holding the "
        "environment's lock: keep a snapshot (the package list and every installed file), write a journal, apply "
        "the steps with uv, and run `envdoctor check` again. If a step fails, a check fix owns fails, or fix is "
        "interrupted (Ctrl-C, SIGTERM), the environment is put back file for file and every restored RECORD hash "
        "is verified. Findings fix does not manage (model files, GPU driver, system tools) are listed as left for "
        "you and the repaired environment is kept; with --models DIR each model file that fails is named there, "
        "with the exact `envdoctor models fetch` command that places it. torch and torchvision are never changed "
        "unless --allow-torch-change.",
    )
    add_target_args(p)
    add_plan_args(p)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before changing anything (CI)")
    p.add_argument("--dry-run", action="store_true", help="show the plan and stop (the same as `envdoctor plan`)")
    p.add_argument(
        "--models",
        metavar="DIR",
        help="MuseTalk's models/ folder: the check after the changes verifies its files by sha256, and those that "
        "fail are left for you with the `envdoctor models fetch` command (fix never downloads weights itself)",
    )
    p.add_argument("--create", action="store_true", help="with --venv DIR: create the virtual environment first")
    p.add_argument(
        "--python-version",
        metavar="X.Y",
        default="3.11",
        help="with --create: the Python of the new environment (default 3.11)",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="when another envdoctor is changing this environment, refuse at once instead of waiting",
    )
    unfinished_g = p.add_mutually_exclusive_group()
    unfinished_g.add_argument(
        "--rollback",
        action="store_true",
        help="finish an interrupted fix by putting the environment back exactly as it was",
    )
    unfinished_g.add_argument(
        "--resume", action="store_true", help="finish an interrupted fix: roll it back exactly, then run fix again"
    )
    _fromargs.add_from_args(p)
    p.set_defaults(func=main)


def request(args: argparse.Namespace) -> apply_mod.Request:
    """Every option of the command line, parsed once."""
    models = Path(args.models) if args.models else None
    if models is not None and not models.is_dir():
        raise UsageError(f"--models {models} is not a folder.")
    return apply_mod.Request(
        options=options(args),
        sources=package_sources(args),
        wait=not args.no_wait,
        models=models.absolute() if models is not None else None,
    )


def _create(args: argparse.Namespace) -> None:
    if not args.venv:
        raise UsageError("--create needs --venv DIR: the folder of the new environment.")
    venv = Path(args.venv)
    if venv.exists() and any(venv.iterdir()):
        if (venv / "pyvenv.cfg").is_file():
            print(f"{venv} already exists; treating it as it is.", file=sys.stderr)
            return
        raise UsageError(f"{venv} exists and is not a virtual environment; pick an empty folder.")
    python = args.python_version
    found = find_python(python) if SERIES.fullmatch(python) else None
    if found is not None:
        # uv alone misses an installed pyenv Python that is not selected, and may not reach its downloads.
        python = str(found.python)
        print(f"Python {args.python_version}: {found.python} (found via {found.via})", file=sys.stderr)
    try:
        find_uv().venv(venv, python=python)
    except UvError as exc:
        raise UsageError(
            f"uv could not create {venv} with Python {args.python_version} (none found via uv, PATH or pyenv; "
            f"install one, e.g. `uv python install {args.python_version}`): {exc}"
        ) from exc
    print(f"created {venv} (Python {args.python_version})", file=sys.stderr)


def _ask(plan: plan_mod.Plan) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("fix changes the environment: pass --yes to apply without asking (stdin is not a terminal).")
    answer = input(f"Apply the {plan.chosen} plan to {plan.target.python}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _print_result(args: argparse.Namespace, result: apply_mod.ApplyResult, plan: plan_mod.Plan | None) -> None:
    print(plan_json.fix_document(plan, result) if args.json else plan_text.render_result(result))


def main(args: argparse.Namespace) -> int:
    if args.from_bundle:
        return _fromargs.main(args)
    if args.create:
        _create(args)
    target = resolve_target(args) if not args.create else target_mod.resolve(venv=args.venv)
    req = request(args)
    say = (lambda m: print(m, file=sys.stderr)) if args.json else (lambda m: print(m, flush=True))
    if args.rollback or args.resume:
        done = apply_mod.rollback(target, progress=say, wait=req.wait)
        if args.rollback or not done.ok:
            _print_result(args, done, None)
            return done.exit_code
        say(done.message)
    pending = unfinished(target.prefix)
    if pending is not None and not args.dry_run:
        print(f"FAILED: {pending.sentence()}.", file=sys.stderr)
        return 1
    plan = plan_mod.make(target, req.options, req.sources, progress=None)
    if args.dry_run or not plan.ok:
        if pending is not None:
            print(f"note: {pending.sentence()}.", file=sys.stderr)
        print(plan_json.plan_document(plan) if args.json else plan_text.render(plan))
        return 0 if plan.ok else 1
    if not args.json:
        print(plan_text.render(plan), flush=True)
        print()
    if not args.yes and not _ask(plan):
        print("Nothing changed.")
        return 1
    models = req.models
    result = apply_mod.apply(
        plan,
        progress=say,
        wait=req.wait,
        verifier=lambda t, p: apply_mod.check_verifier(t, p, models=models),
        before=lambda t: baseline(t, models=models),
    )
    _print_result(args, result, plan)
    return result.exit_code
