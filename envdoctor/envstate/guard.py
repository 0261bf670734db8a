"""One lock per environment, held by every envdoctor command that changes it (fix, stub install/remove).

The lock is an OS file lock on `<prefix>/.envdoctor/lock`: the OS releases it when its holder ends, however
it ends, so a killed run never leaves a stale lock behind. The file's text names the holder for the
message a second run prints.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from envdoctor.errors import EnvdoctorError, UsageError

STATE = ".envdoctor"


def state_dir(prefix: str | Path) -> Path:
    """Where envdoctor keeps its lock and journal inside an environment."""
    return Path(prefix) / STATE


class Busy(EnvdoctorError):
    """Another envdoctor holds the environment's lock and the caller asked not to wait."""

    code = "busy"
    exit_code = 1  # refused, nothing changed: the same run succeeds once the holder is done


def _try_lock(fh: IO[str]) -> bool:
    if sys.platform == "win32":  # the form mypy narrows on: msvcrt exists only there
        import msvcrt

        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
        return f"envdoctor {info.get('command', '?')} (pid {info.get('pid', '?')}, since {info.get('since', '?')})"
    except (OSError, ValueError):
        return "another envdoctor"


def _open(prefix: str | Path) -> tuple[Path, IO[str]]:
    folder = state_dir(prefix)
    try:
        folder.mkdir(exist_ok=True)
        path = folder / "lock"
        return path, open(path, "a+")
    except OSError as exc:
        raise UsageError(f"cannot write envdoctor's lock in {folder}: {exc.strerror or exc}.") from exc


def is_held(prefix: str | Path) -> str | None:
    """Who holds the lock now (a sentence), or None when nobody does. Takes and releases it at once."""
    if not state_dir(prefix).is_dir():
        return None
    path, fh = _open(prefix)
    with fh:
        if _try_lock(fh):
            return None
        return _holder(path)


@contextmanager
def locked(
    prefix: str | Path,
    command: str,
    *,
    wait: bool = True,
    say: Callable[[str], None] = lambda _m: None,
    poll: float = 0.2,
) -> Iterator[None]:
    """Hold the environment's lock for the block; wait for it with one message, or raise Busy."""
    path, fh = _open(prefix)
    with fh:
        if not _try_lock(fh):
            who = _holder(path)
            if not wait:
                raise Busy(f"{who} is changing {prefix}; not waiting (--no-wait). Try again when it has finished.")
            say(f"waiting: {who} is changing this environment (--no-wait to refuse instead)")
            while not _try_lock(fh):
                time.sleep(poll)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"command": command, "pid": os.getpid(), "since": time.strftime("%H:%M:%S")}))
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fh.flush()
