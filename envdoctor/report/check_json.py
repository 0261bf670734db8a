"""`envdoctor check --json`: a versioned document (schema "envdoctor.check", version 1).

Compatibility promise: within schema_version 1, fields are only ever added, never renamed or removed.
"""

from __future__ import annotations

from typing import Any

from envdoctor.checkrun import CheckReport
from envdoctor.checks import CATEGORIES, CheckSpec, Status, worst
from envdoctor.document import head

SCHEMA = "envdoctor.check"
SCHEMA_VERSION = 1


def to_document(report: CheckReport, *, include_facts: bool = True) -> dict[str, Any]:
    categories = {cat: worst(r for r in report.results if r.category == cat).value for cat in CATEGORIES}
    doc: dict[str, Any] = {
        **head(SCHEMA, SCHEMA_VERSION),
        "target": report.target.to_dict(),
        "manifest": {"name": report.manifest.name, "source": report.manifest.source, "scopes": list(report.scopes)},
        "summary": {
            "exit_code": report.exit_code,
            "checks": len(report.results),
            "problems": len(report.failures),
            "warnings": len(report.warnings),
            "passed": sum(r.status is Status.OK for r in report.results),
            "skipped": sum(r.status is Status.SKIP for r in report.results),
            "text": report.summary(),
            "seconds": report.seconds,
        },
        "categories": categories,
        "results": [r.to_dict() for r in report.results],
        "notes": list(report.notes),
    }
    if include_facts:
        doc["facts"] = report.facts.to_dict()
    return doc


def check_list(specs: list[CheckSpec]) -> dict[str, Any]:
    """`envdoctor check --list-checks --json`: id, category and title of each check (schema "envdoctor.checks")."""
    checks = [{"id": s.id, "category": s.category, "title": s.title} for s in specs]
    return {**head("envdoctor.checks"), "checks": checks}
