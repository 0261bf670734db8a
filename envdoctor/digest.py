"""sha256 of a file on disk: the one reader every part of envdoctor hashes files with."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

# Large unbuffered reads keep the hash bound by sha256 itself, not by system calls (the buffer size
# sha256sum's speed comes from); hashlib releases the GIL, so a few files hash at once on a few cores.
_BLOCK = 1 << 20


def sha256_digest(path: Path) -> bytes:
    """The raw 32-byte sha256 of the file at `path`, read in blocks (never whole into memory)."""
    with open(path, "rb", buffering=0) as fh:
        if sys.version_info >= (3, 11):
            return hashlib.file_digest(fh, "sha256").digest()
        digest = hashlib.sha256()  # pragma: no cover - Python 3.10
        buf = bytearray(_BLOCK)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            digest.update(view[:n])
        return digest.digest()


def sha256_file(path: Path) -> str:
    """The sha256 of the file at `path`, as lowercase hex (the form manifests and indexes write)."""
    return sha256_digest(path).hex()
