"""Exact restore: keep every installed file before the first change, put back what changed, verify.

Before fix changes anything, each file listed in a distribution's RECORD is hard-linked into the
environment's `.envdoctor/keep/` (copied where links are not possible). uv replaces files, it does not
write into them, so the kept link still holds the original bytes after an uninstall or an upgrade. A
locally compiled mmcv therefore comes back as the very same files, never as a rebuild from an sdist.

The restore lets uv uninstall whatever is not in the snapshot (and the current state of each changed
distribution), links the kept files back, and then checks every restored file against its RECORD hash
(or, where two distributions wrote the same path, against the hash seen when it was kept).

An install cut short (uv killed) can leave what no RECORD describes: a `.dist-info` folder whose RECORD
was never written (`uv pip freeze` still lists it) or half a package folder. The top level of each
site folder is listed when kept, and a restore removes any new entry there that no RECORD owns.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.digest import sha256_digest
from envdoctor.facts import canonical
from envdoctor.inside import InsideError, run_json
from envdoctor.target import Target
from envdoctor.uv import Uv

_SITE_DIRS = (
    "import json, sysconfig; p = sysconfig.get_paths(); "
    "print(json.dumps({'dirs': sorted({p['purelib'], p['platlib']})}))"
)


@dataclass(frozen=True)
class Installed:
    """One installed distribution: its .dist-info folder and the files its RECORD lists."""

    name: str
    version: str
    dist_info: Path
    rows: tuple[tuple[str, str], ...]
    """(absolute path, RECORD hash such as sha256=...; empty when RECORD gives none)."""

    @property
    def key(self) -> str:
        return canonical(self.name)


def site_dirs(target: Target) -> list[Path]:
    try:
        ran = run_json(
            target.python, ["-c", _SITE_DIRS], what="naming its site-packages", timeout=60, require_exit_zero=True
        )
    except InsideError as exc:
        raise RuntimeError(f"{target.python} could not name its site-packages: {exc}") from exc
    return [Path(p) for p in ran.data.get("dirs", [])]


def _metadata(dist_info: Path) -> tuple[str, str]:
    name = version = ""
    try:
        with open(dist_info / "METADATA", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break
                if line.startswith("Name:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("Version:"):
                    version = line.split(":", 1)[1].strip()
    except OSError:
        pass
    if not name:
        name, _, version = dist_info.name[: -len(".dist-info")].partition("-")
    return name, version


def _rows(record: Path) -> tuple[tuple[str, str], ...]:
    base = record.parent.parent
    with open(record, newline="", encoding="utf-8") as fh:
        return tuple((os.path.normpath(base / row[0]), row[1] if len(row) > 1 else "") for row in csv.reader(fh) if row)


def scan(dirs: list[Path]) -> dict[str, Installed]:
    """Every distribution with a RECORD in `dirs`, by its .dist-info path."""
    found: dict[str, Installed] = {}
    for site in dirs:
        if not site.is_dir():
            continue
        for info in sorted(site.glob("*.dist-info")):
            record = info / "RECORD"
            if not record.is_file():
                continue
            name, version = _metadata(info)
            found[str(info)] = Installed(name, version, info, _rows(record))
    return found


def record_hash(path: Path) -> str:
    return "sha256=" + base64.urlsafe_b64encode(sha256_digest(path)).rstrip(b"=").decode()


def _slot(keep: Path, path: str) -> Path:
    return keep / hashlib.sha1(path.encode()).hexdigest()


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@dataclass(frozen=True)
class Kept:
    """What `keep()` saved: enough for `restore()` to bring back the same bytes."""

    folder: Path
    dirs: tuple[str, ...]
    dists: tuple[str, ...]
    """The .dist-info paths kept."""
    shared: dict[str, str]
    """Paths that several RECORDs list, with the hash of the bytes that were there."""
    linked: bool
    files: int
    bin_dir: str = ""
    """The environment's scripts folder, where a step may create a file no distribution owns (the ffmpeg link)."""
    bin_names: tuple[str, ...] = ()
    """What that folder held when kept: anything else there that no RECORD owns is removed by a restore."""
    site_names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The top level of each site folder when kept, by folder (the same rule as bin_names)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "folder": str(self.folder), "dirs": list(self.dirs), "dists": list(self.dists),
            "shared": self.shared, "linked": self.linked, "files": self.files,
            "bin_dir": self.bin_dir, "bin_names": list(self.bin_names),
            "site_names": {k: list(v) for k, v in self.site_names.items()},
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Kept:
        """The journal's JSON, which to_dict wrote."""
        return cls(
            Path(str(d["folder"])), tuple(d["dirs"]), tuple(d["dists"]),
            dict(d["shared"]), bool(d["linked"]), int(d["files"]),
            str(d.get("bin_dir", "")), tuple(d.get("bin_names", ())),
            # A journal written before site_names existed: nothing is known, so nothing is removed.
            {str(k): tuple(v) for k, v in dict(d.get("site_names", {})).items()},
        )  # fmt: skip


def keep(target: Target, folder: Path) -> Kept:
    """Link (else copy) every file of every distribution into `folder`; returns what was kept."""
    dirs = site_dirs(target)
    installed = scan(dirs)
    shutil.rmtree(folder, ignore_errors=True)  # a leftover of a run that ended between its journal and here
    folder.mkdir(parents=True)
    counts = Counter(p for d in installed.values() for p, _h in d.rows)
    shared: dict[str, str] = {}
    linked = True
    files = 0
    for dist in installed.values():
        for path, _h in dist.rows:
            src = Path(path)
            dest = _slot(folder, path)
            if dest.exists() or not src.is_file() or src.is_symlink():
                continue
            if linked:
                try:
                    os.link(src, dest)
                except OSError:
                    linked = False  # another file system, or links not allowed: copy from here on
            if not linked:
                shutil.copy2(src, dest)
            files += 1
            if counts[path] > 1:
                shared[path] = record_hash(src)
    bin_dir = Path(target.python).parent
    bin_names = tuple(sorted(os.listdir(bin_dir))) if bin_dir.is_dir() else ()
    site_names = {str(d): tuple(sorted(os.listdir(d))) for d in dirs if d.is_dir()}
    return Kept(
        folder, tuple(map(str, dirs)), tuple(installed), shared, linked, files, str(bin_dir), bin_names, site_names
    )


@dataclass(frozen=True)
class Restored:
    exact: bool
    changed: tuple[str, ...]
    """`name version` of each distribution that was put back."""
    removed: tuple[str, ...]
    """Names uv uninstalled because the snapshot did not hold them (as they are now)."""
    mismatches: tuple[str, ...]
    """Files whose bytes do not match their RECORD (or the kept hash) after the restore."""
    note: str


def _kept_rows(kept: Kept, dist_info: str) -> tuple[tuple[str, str], ...]:
    record = _slot(kept.folder, os.path.normpath(Path(dist_info) / "RECORD"))
    base = Path(dist_info).parent
    with open(record, newline="", encoding="utf-8") as fh:
        return tuple((os.path.normpath(base / row[0]), row[1] if len(row) > 1 else "") for row in csv.reader(fh) if row)


def _unchanged(kept: Kept, rows: tuple[tuple[str, str], ...]) -> bool:
    for path, _h in rows:
        slot = _slot(kept.folder, path)
        if not slot.exists():
            continue  # not a regular file when kept (a link, a missing .pyc): nothing to compare
        if kept.linked:
            if not _same(Path(path), slot):
                return False
        elif not Path(path).is_file() or record_hash(Path(path)) != record_hash(slot):
            return False
    return True


def restore(kept: Kept, uv: Uv, python: Path) -> Restored:
    """Put the environment's distributions back to exactly what `keep()` saw; verify every hash."""
    dirs = [Path(d) for d in kept.dirs]
    snap_rows = {d: _kept_rows(kept, d) for d in kept.dists}
    now = scan(dirs)
    changed = [d for d in kept.dists if d not in now or not _unchanged(kept, snap_rows[d])]
    extra = [d for d in now if d not in snap_rows]
    names = sorted({now[d].key for d in extra} | {now[d].key for d in changed if d in now})
    if names:
        # uv removes the current state of each, by its RECORD; the kept files go back below.
        uv.pip_uninstall(python, names)
    # An uninstall may have removed a path that a distribution which did not change shares with one
    # that did (mmcv and mmcv-lite both write mmcv/): look again after it.
    changed = [d for d in kept.dists if not _unchanged(kept, snap_rows[d])]
    for d in changed:
        for path, _h in snap_rows[d]:
            slot = _slot(kept.folder, path)
            dest = Path(path)
            if not slot.exists() or (kept.linked and _same(dest, slot)):
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists() or dest.is_symlink():
                dest.unlink()
            if kept.linked:
                os.link(slot, dest)
            else:
                shutil.copy2(slot, dest)
    mismatches = []
    for d in changed:
        for path, want in snap_rows[d]:
            if not want or not _slot(kept.folder, path).exists():
                continue
            expected = kept.shared.get(path, want)
            if not Path(path).is_file() or record_hash(Path(path)) != expected:
                mismatches.append(path)
    # What a step or a cut-short install created that no kept RECORD owns: a link to a tool in bin, a
    # .dist-info without its RECORD, or with one cut short (uv's uninstall goes by it and leaves the rest),
    # half a package in a site folder. Only the snapshot's distributions own anything now: every other
    # one was uninstalled above, so what is left of it is debris.
    installed = {d: i for d, i in scan(dirs).items() if d in snap_rows}
    strays = []
    if kept.bin_dir:
        bin_dir = Path(kept.bin_dir)
        strays = _remove_new_unowned(bin_dir, kept.bin_names, _owned_names(installed, bin_dir), folders=False)
    half = []
    for site, listed in kept.site_names.items():
        half += _remove_new_unowned(Path(site), listed, _owned_names(installed, Path(site)), folders=True)
    put_back = tuple(f"{_metadata(Path(d))[0]} {_metadata(Path(d))[1]}" for d in changed)
    note = f"put back {len(changed)} distribution(s) from the kept files" if changed else "nothing to put back"
    if names:
        note = f"uninstalled {', '.join(names)}; " + note
    if strays:
        note += f"; removed {', '.join(strays)} from the environment's bin (created by a step)"
    if half:
        note += f"; removed {', '.join(half)} (left by an install cut short, owned by no RECORD)"
    return Restored(not mismatches, put_back, tuple(names), tuple(mismatches), note)


def _owned_names(installed: dict[str, Installed], folder: Path) -> set[str]:
    """The top-level names in `folder` that some RECORD lists (a file, or a folder holding one), and the
    .dist-info folders themselves."""
    owned: set[str] = set()
    for dist in installed.values():
        if dist.dist_info.parent == folder:
            owned.add(dist.dist_info.name)
        for path, _h in dist.rows:
            rel = os.path.relpath(path, folder)
            if not rel.startswith(".."):
                owned.add(rel.split(os.sep)[0])
    return owned


def _remove_new_unowned(folder: Path, when_kept: tuple[str, ...], owned: set[str], *, folders: bool) -> list[str]:
    """Remove what `folder` holds now that it did not hold when kept and no RECORD owns; the names removed.
    Folders are removed only where `folders` (in a site folder, half a package; never in bin)."""
    if not folder.is_dir():
        return []
    removed = []
    for name in sorted(set(os.listdir(folder)) - set(when_kept) - owned):
        entry = folder / name
        if entry.is_dir() and not entry.is_symlink():
            if not folders:
                continue
            shutil.rmtree(entry)
        else:
            entry.unlink()
        removed.append(name)
    return removed


def discard(kept: Kept) -> None:
    shutil.rmtree(kept.folder, ignore_errors=True)
