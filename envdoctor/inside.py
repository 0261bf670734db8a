"""Run code inside the target interpreter and read what it reports: the one way in.

The contract with everything that runs in a target (probes/, the tests' and benchmarks' in-target
scripts): it prints one JSON object on the last line of its stdout. Anything printed before is
ignored (libraries talk at import), stderr is kept for the error. When no object comes, the error
says which of four things happened, naming the interpreter and what was run:

- NotPython: the interpreter cannot be started at all (missing, not executable, not a program
  this system runs). That a program which does start is Python is target.resolve's job.
- TimedOut: no exit within the timeout; the process and everything it started are killed.
- Crashed: it died (a signal, or a non-zero exit) without reporting.
- NoResult: it exited 0 but its last line is not a JSON object.

The imports probe speaks a stream of events instead (envdoctor.probe.ImportProber) and is not run here.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor import process

TAIL_CHARS = 300
"""Characters of the last stderr (or stdout) line an error message carries."""
_JSON_KINDS: dict[type, str] = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


@dataclass(frozen=True)
class InsideResult:
    """What a run in the target reported: its JSON object, and the raw run beside it."""

    python: str
    what: str
    data: dict[str, Any]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    removed_env: tuple[str, ...] = ()
    """What envdoctor's environment had that the run did not get (envdoctor.process.SCRUBBED)."""


class InsideError(RuntimeError):
    """`what` gave no JSON object in `python`; the message is one clause (no final full stop)."""

    kind = "failed"

    def __init__(
        self,
        message: str,
        *,
        python: str,
        what: str,
        returncode: int | None = None,
        stdout: str = "",
        stderr: str = "",
    ) -> None:
        super().__init__(message)
        self.python = python
        self.what = what
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class NotPython(InsideError):
    kind = "not-python"


class TimedOut(InsideError):
    kind = "timeout"


class Crashed(InsideError):
    kind = "crashed"


class NoResult(InsideError):
    kind = "no-json"


def last_json_object(stdout: str) -> dict[str, Any] | None:
    """The JSON object on the last non-empty line of `stdout`; None when that line is not one."""
    lines = stdout.strip().splitlines()
    if not lines:
        return None
    try:
        value = json.loads(lines[-1])
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def last_line(text: str, limit: int = TAIL_CHARS) -> str:
    """The last non-empty line of `text`, cut to `limit` characters, without a final full stop."""
    lines = text.strip().splitlines()
    line = lines[-1].strip() if lines else ""
    if len(line) > limit:
        line = line[: limit - 5] + " [...]"
    return line.rstrip(".")


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def run_json(
    python: str | Path,
    args: Sequence[str],
    *,
    what: str,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    stdin: str | None = None,
    require_exit_zero: bool = False,
    address_space: int | None = None,
) -> InsideResult:
    """Run `python ARGS...` (a script and its arguments, or "-c", code, ...) and read its JSON object.

    `what` names the run in errors ("the facts probe"). `env` is added to the child environment
    (envdoctor.process.child_env: this process's, less what changes a Python's imports).
    A JSON object is accepted whatever the exit code (a library may crash at interpreter exit, after
    the report), unless `require_exit_zero`. `address_space` caps the child's virtual memory in bytes
    (POSIX). Raises an InsideError subclass when no object comes.
    """
    exe = str(python)
    try:
        # Its own process group, so that a timeout kills what the run started too (a hung
        # nvidia-smi, an ffmpeg), and their open pipes cannot keep this call waiting.
        ran = process.run(
            [exe, *args],
            input=stdin,
            timeout=timeout,
            env=env,
            cwd=cwd,
            address_space=address_space,
        )
    except FileNotFoundError as exc:
        missing = exc.filename if exc.filename not in (None, exe) else None
        if missing is not None and cwd is not None and str(missing) == str(cwd):
            raise NotPython(f"{what} cannot start: the folder {cwd} does not exist", python=exe, what=what) from None
        raise NotPython(f"{exe} does not exist, so {what} cannot start", python=exe, what=what) from None
    except PermissionError:
        raise NotPython(f"{exe} is not executable, so {what} cannot start", python=exe, what=what) from None
    except process.TimeoutExpired as exc:
        raise TimedOut(
            f"{what} did not finish within {timeout:g} s in {exe}",
            python=exe,
            what=what,
            stdout=str(exc.output or ""),
            stderr=str(exc.stderr or ""),
        ) from None
    except OSError as exc:
        raise NotPython(
            f"{exe} is not a program this system can run ({exc.strerror or exc}), so {what} cannot start",
            python=exe,
            what=what,
        ) from None
    stdout, stderr, code, seconds = ran.stdout, ran.stderr, ran.returncode, ran.seconds
    data = last_json_object(stdout)
    if code != 0 and (data is None or require_exit_zero):
        tail = last_line(stderr) or last_line(stdout) or "no output"
        if code < 0:
            raise Crashed(
                f"{what} was killed by {_signal_name(code)} in {exe}: {tail}",
                python=exe,
                what=what,
                returncode=code,
                stdout=stdout,
                stderr=stderr,
            )
        raise Crashed(
            f"{what} failed in {exe} (exit {code}): {tail}",
            python=exe,
            what=what,
            returncode=code,
            stdout=stdout,
            stderr=stderr,
        )
    if data is None:
        line = last_line(stdout, 120)
        said = f"its last line was {line!r}" if line else "it printed nothing"
        try:
            kind = _JSON_KINDS.get(type(json.loads(stdout.strip().splitlines()[-1])), "") if line else ""
        except (ValueError, RecursionError):
            kind = ""
        if kind:
            said = f"its last line is a JSON {kind}, not an object"
        hint = last_line(stderr)
        raise NoResult(
            f"{what} printed no JSON object in {exe}: {said}" + (f"; stderr ends {hint!r}" if hint else ""),
            python=exe,
            what=what,
            returncode=code,
            stdout=stdout,
            stderr=stderr,
        )
    return InsideResult(
        python=exe,
        what=what,
        data=data,
        returncode=code,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
        removed_env=ran.removed_env,
    )
