"""The head every `--json` document and smoke-report.json starts with: what it is, which version of it,
and which envdoctor wrote it.

Compatibility promise, for each schema: within one schema_version fields are only added, never renamed or
removed. (lockfiles/matrix.json is a committed file, not a `--json` document: it keeps `"schema": 1`.)
"""

from __future__ import annotations

from typing import Any

from envdoctor import __version__


def head(schema: str, version: int = 1) -> dict[str, Any]:
    return {"schema": schema, "schema_version": version, "envdoctor_version": __version__}
