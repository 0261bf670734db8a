"""The remembered hashes are pruned when written: a file that is gone, or whose stamp moved, leaves the cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

from envdoctor.models.hashing import HashCache, Stamp


def _entries(path: Path) -> set[str]:
    return set(json.loads(path.read_text(encoding="utf-8")))


def test_a_write_drops_entries_whose_file_is_gone_or_changed(tmp_path: Path) -> None:
    store = tmp_path / "cache" / "models-sha256.json"
    files = {name: tmp_path / name for name in ("kept", "deleted", "rewritten", "touched", "replaced")}
    for name, path in files.items():
        path.write_bytes(name.encode() * 100)
    cache = HashCache(store)
    for path in files.values():
        cache.hash(path, Stamp.of(os.stat(path)))
    cache.save()
    assert _entries(store) == {str(p.absolute()) for p in files.values()}

    files["deleted"].unlink()
    files["rewritten"].write_bytes(b"other bytes, another size")
    st = os.stat(files["touched"])
    os.utime(files["touched"], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    # Same size and mtime, another inode: a file put in its place.
    st = os.stat(files["replaced"])
    new = tmp_path / "replaced.new"
    new.write_bytes(files["replaced"].read_bytes())
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(new, files["replaced"])

    fresh = tmp_path / "fresh"
    fresh.write_bytes(b"new")
    again = HashCache(store)
    again.hash(fresh, Stamp.of(os.stat(fresh)))  # something new to write
    again.save()
    assert _entries(store) == {str(files["kept"].absolute()), str(fresh.absolute())}
    # What was kept still answers for its file without a hash.
    assert HashCache(store).lookup(files["kept"], Stamp.of(os.stat(files["kept"]))) is not None


def test_nothing_new_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    store = tmp_path / "models-sha256.json"
    path = tmp_path / "f"
    path.write_bytes(b"x")
    cache = HashCache(store)
    cache.hash(path, Stamp.of(os.stat(path)))
    cache.save()
    before = store.stat().st_mtime_ns
    path.unlink()
    HashCache(store).save()  # a run that hashed nothing writes nothing (the repeat's cost stays a stat per file)
    assert store.stat().st_mtime_ns == before and _entries(store) == {str(path.absolute())}
