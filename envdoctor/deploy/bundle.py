"""`envdoctor bundle`: a lock folder made complete, so a machine with no network can reproduce it.

Every wheel the lock names is placed in DIR/wheels/ (copied from the folder it was found in, or
downloaded from the URL the lock names), each only after its sha256 equals the lock's: a file that
differs is never placed. envdoctor itself goes in DIR/tool/ (its wheel built from the running source,
or the installed one's wheel, plus the wheels of its dependencies) with a hashed tool/requirements.txt,
so the target machine needs only a Python. DIR/SHA256SUMS lists every file, for `sha256sum -c`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from envdoctor import __version__, pipconfig
from envdoctor import target as target_mod
from envdoctor.deploy import envlock, inventory
from envdoctor.deploy.envlock import LockedEntry
from envdoctor.deploy.hashes import Sources, default_sources
from envdoctor.digest import sha256_file
from envdoctor.errors import EnvdoctorError, UsageError
from envdoctor.uv import Indexes, UvError, find_uv

SUMS = "SHA256SUMS"
TOOL = "tool"
MODELS = "models"
_CHUNK = 1 << 20

Say = Callable[[str], None]


class BundleError(EnvdoctorError):
    """The bundle cannot be made as asked (a wheel cannot be had, the folder is not a lock)."""

    code = "bundle-failed"


class HashMismatch(EnvdoctorError):
    """A wheel's bytes are not those the lock pinned: it is not placed."""

    code = "bundle-hash-mismatch"


@dataclass(frozen=True)
class AlreadyThere:
    filename: str
    size: int


@dataclass(frozen=True)
class Copied:
    filename: str
    size: int
    source: str


@dataclass(frozen=True)
class Downloaded:
    filename: str
    size: int
    url: str


@dataclass(frozen=True)
class Built:
    """envdoctor's own wheel, built here from its source."""

    filename: str
    size: int
    source: str


Placed = AlreadyThere | Copied | Downloaded | Built


@dataclass(frozen=True)
class ModelCopied:
    path: str
    size: int
    verified: bool
    """False when the lock names no sha256 for it: copied, its bytes not proven (the report says so)."""


@dataclass(frozen=True)
class Bundle:
    folder: Path
    wheels: tuple[Placed, ...]
    tool: tuple[Placed, ...]
    """envdoctor's wheel and its dependencies' (empty with include_tool=False)."""
    models: tuple[ModelCopied, ...]
    models_absent: tuple[str, ...]
    """Model files the lock names that the --models folder lacks: not in the bundle."""
    sums: Path
    files: int
    size_before: int
    size_after: int
    seconds: float


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _local(url: str, base: Path) -> Path | None:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if not parsed.scheme:
        return base / url
    return None


def _place(src: Path | None, url: str, dest: Path, sha256: str, say: Say) -> Placed:
    """dest holds exactly the bytes of sha256, from src or url; raises HashMismatch and leaves no file otherwise."""
    if dest.is_file() and sha256_file(dest) == sha256:
        return AlreadyThere(dest.name, dest.stat().st_size)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.part")
    try:
        if src is not None:
            if not src.is_file():
                raise BundleError(f"{dest.name}: the lock names {src}, which is not there any more.")
            shutil.copyfile(src, part)
        else:
            _download(url, part, say)
        got = sha256_file(part)
        if got != sha256:
            raise HashMismatch(
                f"{dest.name} from {src or url} has sha256 {got}, not the {sha256} the lock pinned: not placed."
            )
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    size = dest.stat().st_size
    return Copied(dest.name, size, str(src)) if src is not None else Downloaded(dest.name, size, url)


def _download(url: str, part: Path, say: Say) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, part.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done, shown = 0, time.monotonic()
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if time.monotonic() - shown > 5:
                    shown = time.monotonic()
                    say(f"  {part.name[1:-5]}: {_mb(done)}" + (f" of {_mb(total)}" if total else ""))
    except OSError as exc:
        raise BundleError(f"could not download {url}: {exc}.") from None


def _wheel_jobs(folder: Path, entries: Iterable[LockedEntry]) -> list[tuple[LockedEntry, Path | None, str]]:
    jobs = []
    missing = [e.name for e in entries if not (e.filename and e.sha256 and e.url)]
    if missing:
        raise BundleError(
            f"the lock in {folder} names no hashed wheel for {', '.join(missing)}: a bundle could not "
            "reproduce them (lock again where their wheels can be found)."
        )
    for e in entries:
        assert e.filename and e.url
        jobs.append((e, _local(e.url, folder), e.url))
    return jobs


# --- envdoctor itself --------------------------------------------------------------------------


def _closure(root: str) -> list[str]:
    """The distributions `root` needs in this interpreter (its requirements, their markers evaluated here)."""
    seen: dict[str, None] = {}
    todo = [root]
    while todo:
        name = str(canonicalize_name(todo.pop()))
        if name in seen:
            continue
        seen[name] = None
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            raise BundleError(f"{name}, which envdoctor needs, is not installed beside envdoctor.") from None
        for line in requires:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen)


def _source_tree() -> Path | None:
    """The checkout the running envdoctor is imported from, when it is one (pyproject.toml beside it)."""
    here = Path(__file__).resolve().parents[2]
    project = here / "pyproject.toml"
    if project.is_file() and 'name = "envdoctor"' in project.read_text(errors="replace"):
        return here
    return None


def _build_self(out: Path, say: Say) -> Path:
    tree = _source_tree()
    if tree is None:
        raise BundleError(
            "the running envdoctor is not imported from a checkout, so its wheel cannot be built here: pass "
            "--envdoctor-wheel FILE (a wheel of envdoctor), or --no-tool to leave envdoctor out of the bundle."
        )
    say(f"building envdoctor's wheel from {tree} with uv build")
    pip = pipconfig.read()
    # The build backend comes from the indexes this machine is configured with (uv ignores pip's).
    indexes = Indexes(index_url=pip.index_url, extra_index_urls=pip.extra_index_urls, find_links=pip.find_links)
    with tempfile.TemporaryDirectory(prefix="envdoctor-selfbuild-") as tmp:
        try:
            find_uv().run(
                ["build", "--wheel", "--out-dir", tmp, "--python", sys.executable, *indexes.args(), str(tree)],
                timeout=600,
            )
        except UvError as exc:
            raise BundleError(f"could not build envdoctor's wheel from {tree}: {exc}") from None
        built = sorted(Path(tmp).glob("envdoctor-*.whl"))
        if not built:
            raise BundleError(f"uv build of {tree} made no envdoctor wheel.")
        dest = out / built[0].name
        shutil.copyfile(built[0], dest)
    return dest


def _tool(
    folder: Path, sources: Sources, envdoctor_wheel: Path | None, say: Say
) -> tuple[tuple[Placed, ...], list[str]]:
    out = folder / TOOL
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("envdoctor-*.whl"):
        old.unlink()
    if envdoctor_wheel is not None:
        if not envdoctor_wheel.is_file() or parse_wheel_filename(envdoctor_wheel.name)[0] != "envdoctor":
            raise UsageError(f"--envdoctor-wheel {envdoctor_wheel} is not a wheel of envdoctor.")
        own = out / envdoctor_wheel.name
        shutil.copyfile(envdoctor_wheel, own)
        first: Placed = Copied(own.name, own.stat().st_size, str(envdoctor_wheel))
    else:
        own = _build_self(out, say)
        first = Built(own.name, own.stat().st_size, str(_source_tree()))
    lines = [f"envdoctor=={parse_wheel_filename(own.name)[1]} --hash=sha256:{sha256_file(own)}"]
    deps = [n for n in _closure("envdoctor") if n != "envdoctor"]
    installed = {d.name: d for d in inventory.read(target_mod.resolve(python=sys.executable))}
    placed: list[Placed] = [first]
    unknown = []
    for i, name in enumerate(deps, 1):
        dist = installed.get(name)
        found = sources.find(dist) if dist is not None else None
        if dist is None or found is None:
            unknown.append(name)
            continue
        say(f"[tool {i}/{len(deps)}] {found.filename}")
        placed.append(_place(_local(found.url, folder), found.url, out / found.filename, found.sha256, say))
        lines.append(f"{dist.name}=={dist.version} --hash=sha256:{found.sha256}")
    if unknown:
        raise BundleError(
            f"no wheel with a known sha256 for {', '.join(unknown)}, which envdoctor needs: pass --find-links "
            "DIR with their wheels, or --no-tool to leave envdoctor out of the bundle."
        )
    return tuple(placed), lines


# --- model files --------------------------------------------------------------------------------


def _models(
    folder: Path, head: dict[str, Any], models_dir: Path, say: Say
) -> tuple[tuple[ModelCopied, ...], tuple[str, ...]]:
    """The model files the lock's manifest names that `models_dir` has, copied (hash-checked where the lock
    gives a sha256) into folder/models/; and the ones it lacks, which the report names."""
    if not models_dir.is_dir():
        raise UsageError(f"--models {models_dir} is not a folder.")
    raw = head.get("models") or "[]"
    entries: list[object] = json.loads(raw) if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
    named = [str(e["path"]) for e in entries if isinstance(e, dict) and str(e.get("path", "")).startswith(f"{MODELS}/")]
    sha = {str(e["path"]): str(e.get("sha256") or "") for e in entries if isinstance(e, dict) and "path" in e}
    have = [p for p in named if (models_dir / p.removeprefix(f"{MODELS}/")).is_file()]
    out: list[ModelCopied] = []
    for i, path in enumerate(have, 1):
        rel = path.removeprefix(f"{MODELS}/")
        say(f"[models {i}/{len(have)}] {rel}")
        src, dest = models_dir / rel, folder / MODELS / rel
        if sha[path]:
            out.append(ModelCopied(path, _place(src, src.as_uri(), dest, sha[path], say).size, True))
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            out.append(ModelCopied(path, dest.stat().st_size, False))
    return tuple(out), tuple(p for p in named if p not in have)


# --- the bundle ---------------------------------------------------------------------------------


def write_sums(folder: Path) -> tuple[Path, int]:
    """SHA256SUMS: every file of the bundle, relative to it, in sha256sum's own format."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != SUMS and not p.name.startswith("."))
    lines = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}" for p in files]
    sums = folder / SUMS
    sums.write_text("\n".join(lines) + "\n")
    return sums, len(files)


def make(
    folder: Path,
    *,
    sources: Sources | None = None,
    include_tool: bool = True,
    envdoctor_wheel: Path | None = None,
    models_dir: Path | None = None,
    progress: Say | None = None,
) -> Bundle:
    """Complete the lock in `folder` into a bundle; every wheel checked against the lock before it is placed."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: make a lock first with `envdoctor lock --output {folder}`.")
    head, entries = envlock.read(folder)
    before = folder_size(folder)
    jobs = _wheel_jobs(folder, entries.values())
    wheels_dir = folder / envlock.WHEELS
    placed: list[Placed] = []
    for i, (e, src, url) in enumerate(jobs, 1):
        assert e.filename and e.sha256
        say(f"[{i}/{len(jobs)}] {e.filename}")
        placed.append(_place(src, url, wheels_dir / e.filename, e.sha256, say))
    tool: tuple[Placed, ...] = ()
    if include_tool:
        tool, lines = _tool(folder, sources or default_sources(), envdoctor_wheel, say)
        (folder / TOOL / "requirements.txt").write_text(
            f"# envdoctor {__version__} and what it needs, for the target machine. Install with:\n"
            "#   python3 -m venv envdoctor-env && envdoctor-env/bin/pip install --no-index --find-links tool "
            "--require-hashes -r tool/requirements.txt\n" + "\n".join(lines) + "\n"
        )
    models, absent = _models(folder, head, models_dir, say) if models_dir is not None else ((), ())
    sums, count = write_sums(folder)
    return Bundle(
        folder=folder,
        wheels=tuple(placed),
        tool=tool,
        models=models,
        models_absent=absent,
        sums=sums,
        files=count,
        size_before=before,
        size_after=folder_size(folder),
        seconds=round(time.perf_counter() - t0, 2),
    )
