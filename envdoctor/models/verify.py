"""Judge each file of the manifest on disk: by sha256 (remembered), or by size and its first bytes alone.

Each file ends in one outcome; a wrong file is named for what it is when its bytes tell: an HTML page saved
instead of the checkpoint, a git-LFS pointer, a zip checkpoint cut off before its directory, another file of
the manifest (v1.0's UNet under v1.5's path), a file of the right size with other bytes.
"""

from __future__ import annotations

import enum
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from envdoctor.models.hashing import HashCache, Stamp
from envdoctor.models.manifest import Alternative, Manifest, ModelFile, Roots

_PEEK = 512
# What a file whose sha256 the manifest lists as unknown is reported as: never "verified".
NO_HASH = "checked by size only, not verified by hash: the manifest has no sha256 for it (not gathered)"


def prefix_only(prefix: str) -> str:
    return (
        f"checked by size and its sha256 prefix {prefix} only, not verified by hash: "
        "the manifest has no full sha256 for it (not gathered)"
    )


class Wrongness(enum.Enum):
    HTML = "html-page"
    LFS_POINTER = "lfs-pointer"
    TRUNCATED_ZIP = "truncated-zip"
    TRUNCATED = "truncated"
    OTHER_FILE = "other-manifest-file"
    SAME_SIZE_OTHER_BYTES = "same-size-other-bytes"
    OTHER_BYTES = "other-bytes"
    EMPTY = "empty"


@dataclass(frozen=True)
class Verified:
    sha256: str
    size: int
    cached: bool
    """The hash came from envdoctor's cache (the file's stamp had not moved)."""


@dataclass(frozen=True)
class SizeOnly:
    """No full sha256 in the manifest: the size (and a hash prefix, if known) is right, the bytes unproven."""

    size: int
    reason: str


@dataclass(frozen=True)
class Missing:
    pass


@dataclass(frozen=True)
class Wrong:
    kind: Wrongness
    size: int
    detail: str
    found_sha256: str | None = None


Outcome = Verified | SizeOnly | Missing | Wrong


@dataclass(frozen=True)
class FileVerdict:
    file: ModelFile
    path: Path
    """Where the file was looked for (an alternative's path when that one was judged)."""
    outcome: Outcome
    alternative: Alternative | None = None

    @property
    def ok(self) -> bool:
        return isinstance(self.outcome, Verified | SizeOnly)


def _expected(f: ModelFile | Alternative) -> tuple[int | None, int | None, str | None, str | None, bool]:
    if isinstance(f, ModelFile):
        return f.size, f.min_size, f.sha256, f.sha256_prefix, f.zip
    return f.size, None, f.sha256, None, f.path.endswith((".bin", ".pth", ".pt"))


def sniff(path: Path, size: int, zip_expected: bool) -> Wrong | None:
    """What the first bytes (and a zip's directory) say the file is, when that is enough to tell it is wrong."""
    with open(path, "rb") as fh:
        head = fh.read(_PEEK)
    if size == 0:
        return Wrong(Wrongness.EMPTY, 0, "an empty file")
    if head.startswith(b"version https://git-lfs"):
        return Wrong(Wrongness.LFS_POINTER, size, "a git-LFS pointer file (a `git clone` without git-lfs)")
    if head.lstrip()[:1] == b"<":
        return Wrong(Wrongness.HTML, size, "an HTML page saved instead of the file (an error or login page)")
    # torch writes zip checkpoints whatever the suffix says; an old-format pickle has no directory to lose.
    zip_like = zip_expected or path.suffix in (".pth", ".bin", ".pt")
    if zip_like and head.startswith(b"PK\x03\x04") and not zipfile.is_zipfile(path):
        return Wrong(
            Wrongness.TRUNCATED_ZIP,
            size,
            "a zip checkpoint whose zip directory is missing (truncated: a cut-off download)",
        )
    return None


def judge_one(
    manifest: Manifest,
    f: ModelFile,
    spec: ModelFile | Alternative,
    path: Path,
    cache: HashCache,
) -> Outcome:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Missing()
    if not path.is_file():
        return Wrong(Wrongness.OTHER_BYTES, 0, "not a regular file")
    size, min_size, sha, prefix, zip_expected = _expected(spec)
    stamp = Stamp.of(st)
    known = cache.lookup(path, stamp)
    wrong_size = (size is not None and st.st_size != size) or (min_size is not None and st.st_size < min_size)
    # The repeat's whole cost: one stat, no open.
    if known and sha and known == sha:
        return Verified(known, st.st_size, True)
    if known and sha is None and prefix and known.startswith(prefix) and not wrong_size:
        return SizeOnly(st.st_size, prefix_only(prefix))
    sniffed = sniff(path, st.st_size, zip_expected)
    if sniffed:
        return sniffed
    if wrong_size and sha is None:
        return _size_wrong(st.st_size, size, min_size)
    if sha is None and prefix is None:
        return SizeOnly(st.st_size, NO_HASH)
    digest, cached = (known, True) if known else cache.hash(path, stamp)
    if sha and digest == sha:
        return Verified(digest, st.st_size, cached)
    if sha is None and prefix and digest.startswith(prefix):
        return SizeOnly(st.st_size, prefix_only(prefix))
    other = manifest.by_sha256().get(digest)
    if other is not None and other.path != f.path:
        return Wrong(Wrongness.OTHER_FILE, st.st_size, f"{other.title} ({other.why})", digest)
    if wrong_size:
        wrong = _size_wrong(st.st_size, size, min_size)
        return Wrong(wrong.kind, st.st_size, wrong.detail, digest)
    if size is not None:
        return Wrong(Wrongness.SAME_SIZE_OTHER_BYTES, st.st_size, "the right size with other bytes", digest)
    return Wrong(Wrongness.OTHER_BYTES, st.st_size, "other bytes than the official file", digest)


def _size_wrong(found: int, size: int | None, min_size: int | None) -> Wrong:
    if size is not None:
        kind = Wrongness.TRUNCATED if found < size else Wrongness.OTHER_BYTES
        words = "truncated" if found < size else "not the official file"
        return Wrong(kind, found, f"{found:,} bytes, expected {size:,} ({words})")
    return Wrong(Wrongness.TRUNCATED, found, f"{found:,} bytes, expected at least {min_size or 0:,} (truncated?)")


def judge(manifest: Manifest, f: ModelFile, roots: Roots, cache: HashCache) -> FileVerdict:
    """The entry's own file when it is there, else the first alternative that is there, else Missing."""
    base = roots.base(f.root)
    own = base / f.path
    if own.exists() or not f.alternatives:
        return FileVerdict(f, own, judge_one(manifest, f, f, own, cache))
    for alt in f.alternatives:
        path = base / alt.path
        if path.exists():
            return FileVerdict(f, path, judge_one(manifest, f, alt, path, cache), alt)
    return FileVerdict(f, own, Missing())


def verify(
    manifest: Manifest,
    files: Sequence[ModelFile],
    roots: Roots,
    cache: HashCache | None = None,
) -> tuple[FileVerdict, ...]:
    cache = cache or HashCache()
    verdicts = tuple(judge(manifest, f, roots, cache) for f in files)
    cache.save()
    return verdicts
