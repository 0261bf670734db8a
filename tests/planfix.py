"""The plan shown is the plan run: `plan --json` first, then `fix --json`, and the steps compared."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def plan_then_fix(cli: Callable[..., Any], venv: Path, *args: str) -> tuple[dict[str, Any], Any]:
    """(the plan document, fix's CLI run). Asserts that fix executed exactly the printed steps, in order,
    each as printed (every field: indexes, lockfile, the kept stub, the reason for a resolve)."""
    shown = cli("plan", "--venv", str(venv), "--json", *args)
    assert shown.code == 0, shown.out[-4000:]
    plan = shown.json()
    run = cli("fix", "--venv", str(venv), "--yes", "--json", *args)
    doc = run.json()
    executed = [outcome["step"] for outcome in doc["result"]["steps"]]
    assert executed == plan["steps"], "fix ran other steps than the plan printed"
    assert doc["plan"]["steps"] == plan["steps"] and doc["plan"]["sources"] == plan["sources"]
    return plan, run
