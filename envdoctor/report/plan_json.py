"""`envdoctor plan --json` and `envdoctor fix --json`: the plan (and fix's result) as indented JSON."""

from __future__ import annotations

import json

from envdoctor.apply.results import ApplyResult
from envdoctor.document import head
from envdoctor.plan import Plan


def dump(obj: dict[str, object]) -> str:
    return json.dumps(obj, indent=2, default=str)


def plan_document(plan: Plan) -> str:
    return dump(plan.to_dict())


FIX_SCHEMA_VERSION = 2
"""2: the plan inside is envdoctor.plan 2, and each step's outcome carries the typed step as planned."""


def fix_document(plan: Plan | None, result: ApplyResult) -> str:
    doc = {"plan": plan.to_dict() if plan else None, "result": result.to_dict()}
    return dump({**head("envdoctor.fix", FIX_SCHEMA_VERSION), **doc})
