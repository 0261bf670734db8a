"""`envdoctor fix`: apply the plan with uv, verify with the check, roll back on any failure."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from envdoctor import apply as apply_mod
from envdoctor import plan as plan_mod
from envdoctor import target as target_mod
from envdoctor.commands._common import add_target_args, resolve_target
from envdoctor.commands._fixargs import add_plan_args, dump, options, render
from envdoctor.errors import UsageError
from envdoctor.pythons import find_python
from envdoctor.uv import Indexes, UvError, find_uv

SERIES = re.compile(r"3\.\d+")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fix",
        help="make this environment work: plan, apply with uv, verify with check, roll back on failure",
        description="Rank the strategies (as `envdoctor plan` does), show the plan and ask, then: snapshot the "
        "environment (`uv pip freeze`), apply the steps with uv (from the matching lockfile when there is one), "
        "add the mmcv stub if the strategy needs it, and run `envdoctor check` again. If anything fails, the "
        "environment is synced back to the snapshot and the message says what failed. torch and torchvision are "
        "never changed unless --allow-torch-change.",
    )
    add_target_args(p)
    add_plan_args(p)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before changing anything (CI)")
    p.add_argument("--dry-run", action="store_true", help="show the plan and stop (the same as `envdoctor plan`)")
    p.add_argument("--create", action="store_true", help="with --venv DIR: create the virtual environment first")
    p.add_argument("--python-version", metavar="X.Y", default="3.11",
                   help="with --create: the Python of the new environment (default 3.11)")
    g = p.add_argument_group("where packages come from")
    g.add_argument("--index-url", metavar="URL", help="the package index for everything but torch (default PyPI)")
    g.add_argument("--torch-index", metavar="URL", action="append", default=[],
                   help="index for torch/torchvision when the target has none (default: uv's --torch-backend auto)")
    g.add_argument("--torch-find-links", metavar="DIR", action="append", default=[],
                   help="local folder with torch wheels, for an environment without torch")
    p.set_defaults(func=main)


def _sources(args: argparse.Namespace) -> apply_mod.Sources:
    torch = None
    if args.torch_index or args.torch_find_links:
        # The torch indexes first, PyPI only for packages they do not have at all (e.g. cuda-bindings).
        # first-index: once an index has torch, only its versions count; never a fall-through to PyPI's torch.
        torch = Indexes(
            index_url="https://pypi.org/simple",
            extra_index_urls=tuple(args.torch_index),
            find_links=tuple(args.torch_find_links),
            strategy="first-index",
        )
    return apply_mod.Sources(indexes=Indexes(index_url=args.index_url), torch=torch)


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


def main(args: argparse.Namespace) -> int:
    if args.create:
        _create(args)
    target = resolve_target(args) if not args.create else target_mod.resolve(venv=args.venv)
    say = (lambda m: print(m, file=sys.stderr)) if args.json else (lambda m: print(m, flush=True))
    plan = plan_mod.make(target, options(args), progress=None)
    if args.dry_run or not plan.ok:
        print(dump(plan.to_dict()) if args.json else render(plan))
        return 0 if plan.ok else 1
    if not args.json:
        print(render(plan), flush=True)
        print()
    if not args.yes and not _ask(plan):
        print("Nothing changed.")
        return 1
    result = apply_mod.apply(plan, sources=_sources(args), progress=say)
    if args.json:
        print(dump({"plan": plan.to_dict(), "result": result.to_dict()}))
    else:
        print()
        print(("OK: " if result.ok else "FAILED: ") + result.message)
        if result.verification and result.verification.failures:
            for f in result.verification.failures:
                print(f"  - {f}")
    return result.exit_code
