"""sha256 of a weight file, remembered per (size, mtime_ns, inode, device) so a repeat costs one stat."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from envdoctor.cachedir import cache_root
from envdoctor.digest import sha256_file

CACHE_FILE = "models-sha256.json"


@dataclass(frozen=True)
class Stamp:
    """What must not have changed for a remembered hash to still hold."""

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def _digest(entry: object, stamp: Stamp) -> str | None:
    """The remembered sha256 when the entry was taken at this very stamp, else None."""
    if not isinstance(entry, list) or len(entry) != 5:
        return None
    *fields, digest = entry
    if fields == [stamp.size, stamp.mtime_ns, stamp.inode, stamp.device] and isinstance(digest, str):
        return digest
    return None


class HashCache:
    """Hashes envdoctor computed, keyed by absolute path; stale when any field of the stamp moved."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_root() / CACHE_FILE
        self._entries: dict[str, list[object]] = {}
        self._dirty = False
        with contextlib.suppress(OSError, ValueError):
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(raw, dict):
                self._entries = raw

    def lookup(self, path: Path, stamp: Stamp) -> str | None:
        return _digest(self._entries.get(str(path.absolute())), stamp)

    def remember(self, path: Path, stamp: Stamp, digest: str) -> None:
        self._entries[str(path.absolute())] = [stamp.size, stamp.mtime_ns, stamp.inode, stamp.device, digest]
        self._dirty = True

    def hash(self, path: Path, stamp: Stamp) -> tuple[str, bool]:
        """(sha256, whether it came from the cache)."""
        known = self.lookup(path, stamp)
        if known:
            return known, True
        digest = sha256_file(path)
        self.remember(path, stamp, digest)
        return digest, False

    def _live(self) -> dict[str, list[object]]:
        """The entries that still hold: a file gone, or one whose stamp moved, is dropped, so the cache holds
        only files that are there as they were hashed and does not grow with every tree ever verified."""
        live: dict[str, list[object]] = {}
        for path, entry in self._entries.items():
            try:
                stamp = Stamp.of(os.stat(path))
            except OSError:
                continue
            if _digest(entry, stamp) is not None:
                live[path] = entry
        return live

    def save(self) -> None:
        """Write atomically, pruned (a stat per entry, only when there is something new to write); a cache
        that cannot be written only costs the next run its hashes again."""
        if not self._dirty:
            return
        self._entries = self._live()
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".models-sha256-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._entries, fh)
            os.replace(tmp, self.path)
            self._dirty = False
