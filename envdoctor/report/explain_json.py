"""`envdoctor explain --json`: a versioned document (schema "envdoctor.explain", version 1).

Compatibility promise: within schema_version 1, fields are only ever added, never renamed or removed.
`findings` lists the root failure first; each finding's `role` is "root", "secondary" (an earlier or later
failure, not the one that ended the run) or "warning" (a line that working runs print too, never the cause).
`recognised` is whether the root failure is known; when it is not, `root` is null and `root_line` quotes the
line taken for it (the exception that ended the last traceback).
"""

from __future__ import annotations

from typing import Any

from envdoctor.document import head
from envdoctor.explain import Explained

SCHEMA = "envdoctor.explain"
SCHEMA_VERSION = 1


def to_document(result: Explained, *, source: str, target: dict[str, Any] | None, exit_code: int) -> dict[str, Any]:
    return {
        **head(SCHEMA, SCHEMA_VERSION),
        "source": source,
        "characters": result.characters,
        "target": target,
        "recognised": result.recognised,
        "exit_code": exit_code,
        "root": result.root.to_dict() if result.root else None,
        "findings": [f.to_dict() for f in result.findings],
        "root_line": (
            {"text": result.root_line.text, "line_number": result.root_line.line_number} if result.root_line else None
        ),
    }
