"""`envdoctor models verify|fetch --json`: versioned documents (schemas "envdoctor.models.verify" and
"envdoctor.models.fetch", version 1). Within schema_version 1 fields are only added, never renamed or removed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from envdoctor.document import head
from envdoctor.models.fetch import FetchReport, FileOutcome
from envdoctor.models.verify import FileVerdict, Outcome, Wrong

VERIFY_SCHEMA = "envdoctor.models.verify"
FETCH_SCHEMA = "envdoctor.models.fetch"


def _outcome(o: Outcome | FileOutcome) -> dict[str, Any]:
    kind = type(o).__name__.lower()
    fields = {k: v for k, v in asdict(o).items() if k != "verdict"}
    if isinstance(o, Wrong):
        fields["kind"] = o.kind.value
    verdict = getattr(o, "verdict", None)
    if isinstance(verdict, FileVerdict):
        fields["verdict"] = _verdict(verdict)
    return {"state": kind, **fields}


def _verdict(v: FileVerdict) -> dict[str, Any]:
    return {
        "path": v.file.path,
        "root": v.file.root,
        "location": str(v.path),
        "alternative": v.alternative.path if v.alternative else None,
        "expected_sha256": v.file.sha256,
        "expected_size": v.file.size,
        "ok": v.ok,
        **_outcome(v.outcome),
    }


def verify_document(verdicts: Sequence[FileVerdict], *, exit_code: int) -> dict[str, Any]:
    return {
        **head(VERIFY_SCHEMA),
        "exit_code": exit_code,
        "files": [_verdict(v) for v in verdicts],
    }


def fetch_document(report: FetchReport, *, exit_code: int) -> dict[str, Any]:
    return {
        **head(FETCH_SCHEMA),
        "exit_code": exit_code,
        "endpoint": report.endpoint,
        "notes": list(report.notes),
        "transferred_bytes": report.transferred,
        "files": [
            {"path": r.file.path, "root": r.file.root, "location": str(r.target), "ok": r.ok, **_outcome(r.outcome)}
            for r in report.results
        ],
    }
