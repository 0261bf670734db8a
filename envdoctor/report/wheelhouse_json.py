"""`envdoctor wheelhouse --json`: what was indexed, or the wheels a folder holds (schema "envdoctor.wheelhouse")."""

from __future__ import annotations

import json

from envdoctor.document import head
from envdoctor.wheelhouse import IndexResult, ListedWheel

SCHEMA = "envdoctor.wheelhouse"


def indexed(result: IndexResult) -> str:
    doc = {**head(SCHEMA), "command": "wheelhouse index", "index": str(result.root), "projects": dict(result.projects)}
    return json.dumps(doc, indent=2)


def listed(rows: list[ListedWheel]) -> str:
    wheels = [
        {
            "file": r.file,
            "name": r.name,
            "version": r.version,
            "torch": r.torch,
            "platform": r.platform,
            "tags": list(r.tags),
            "sass": sorted(r.device.sass) if r.device else None,
            "ptx": sorted(r.device.ptx) if r.device else None,
        }
        for r in rows
    ]
    return json.dumps({**head(SCHEMA), "command": "wheelhouse list", "wheels": wheels}, indent=2)
