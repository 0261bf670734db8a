"""The document a failing command prints under `--json` (schema "envdoctor.error"), so a script reading
stdout gets JSON whether the command succeeded or not."""

from __future__ import annotations

import json

from envdoctor.document import head
from envdoctor.errors import Failure

SCHEMA = "envdoctor.error"


def document(failure: Failure) -> str:
    return json.dumps(
        {
            **head(SCHEMA),
            "command": failure.command,
            "code": failure.code,
            "message": failure.message,
            "exit_code": failure.exit_code,
        },
        indent=2,
    )
