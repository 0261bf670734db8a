"""Check an output folder before any work: a wrong --out costs one sentence, not a finished run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from envdoctor.errors import UsageError


def check_writable(path: Path, flag: str = "--out") -> Path:
    """`path` if it is a folder envdoctor can write into, or can create; UsageError otherwise.

    Nothing is left behind: a missing folder is not created here, and the write test in an existing
    one is a temporary file, removed at once.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file, not a folder.")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {path} cannot be created: {existing} is a file, not a folder.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".envdoctor-write-test-", dir=existing)
    except OSError as exc:
        where = "" if existing == path else f" ({existing} is where it would be created)"
        raise UsageError(f"{flag} {path} is not writable{where}: {exc.strerror or exc}.") from None
    os.close(fd)
    os.unlink(probe)
    return path


def check_writable_file(path: Path, flag: str = "--output") -> Path:
    """`path` if a file can be written there (its folder exists or can be made, it is not a folder)."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder, not a file.")
    check_writable(path.parent if str(path.parent) else Path("."), flag=f"{flag} {path}: the folder")
    return path
