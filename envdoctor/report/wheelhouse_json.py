"""`envdoctor wheelhouse --json`: what was indexed, or the wheels a folder holds (schema 1)."""

from __future__ import annotations

import json

from envdoctor.wheelhouse import IndexResult, ListedWheel

SCHEMA = 1


def indexed(result: IndexResult) -> str:
    return json.dumps({"schema": SCHEMA, "index": str(result.root), "projects": dict(result.projects)}, indent=2)


def listed(rows: list[ListedWheel]) -> str:
    wheels = [
        {
            "file": r.file,
            "name": r.name,
            "version": r.version,
            "torch": r.torch,
            "platform": r.platform,
            "tags": list(r.tags),
        }
        for r in rows
    ]
    return json.dumps({"schema": SCHEMA, "wheels": wheels}, indent=2)
