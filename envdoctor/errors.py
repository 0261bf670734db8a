"""The one error model: every error that ends a command is an EnvdoctorError.

Each carries the sentence the user sees (its message), a stable `code` a script can branch on, and the
exit code the command ends with (1 refused or failed, 2 usage or environment error). cli.py maps the
base once: the sentence on stderr, and under --json also the envdoctor.error document on stdout. The codes
are part of that document's promise: a code, once given, keeps its meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class EnvdoctorError(Exception):
    """An error that ends a command with one sentence; nothing has been changed unless it says so."""

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 2

    @property
    def message(self) -> str:
        return str(self)


class UsageError(EnvdoctorError):
    """Bad input from the user: a wrong path, a non-Python executable, an empty app folder.

    The message is the whole sentence the user sees; nothing has been changed when it is raised.
    """

    code = "usage"


@dataclass(frozen=True)
class Failure:
    """How a command ended that raised: the sentence cli.py prints and what the envdoctor.error document holds."""

    command: str
    """The subcommand as typed, e.g. `check` or `stub install`."""
    code: str
    message: str
    exit_code: int


INTERNAL = "internal"
INTERRUPTED = "interrupted"


def failure(command: str, exc: BaseException) -> Failure:
    """The Failure of `exc`: its own code and sentence for an EnvdoctorError, else interrupted or internal."""
    if isinstance(exc, EnvdoctorError):
        return Failure(command, exc.code, exc.message, exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        # Said out loud: what was running and what was stopped (smoke says it stopped MuseTalk's group).
        return Failure(command, INTERRUPTED, f"{str(exc) or 'interrupted'}.", 2)
    # Still one sentence and exit 2; the traceback is there on request.
    sentence = f"internal error: {type(exc).__name__}: {exc} (set ENVDOCTOR_DEBUG=1 for the traceback)."
    return Failure(command, INTERNAL, sentence, 2)
