"""Read mmcv's Python sources (an installed package, a source tree, an sdist or a wheel) without running them.

The names `mmcv._ext` must provide are the string lists of every `load_ext('_ext', [...])` call in
`mmcv/**/*.py`; they are read with `ast`. Nothing from the archive is imported or executed, and
nothing is extracted to disk.
"""

from __future__ import annotations

import ast
import hashlib
import keyword
import re
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from envdoctor.errors import EnvdoctorError


class SourceError(EnvdoctorError):
    """The given mmcv sources cannot be read, or declare their ops in a form ast cannot read."""

    code = "source-unavailable"


@dataclass(frozen=True)
class ExtRequest:
    """One `load_ext('_ext', [...])` call: where it is, and the names it asks for."""

    file: str
    """Path inside the mmcv package, e.g. `ops/nms.py`."""
    line: int
    names: tuple[str, ...]


@dataclass(frozen=True)
class MmcvSources:
    """What generation needs from one copy of mmcv's sources."""

    origin: str
    """The path that was read (a folder, a .tar.gz or a .whl)."""
    version: str
    requests: tuple[ExtRequest, ...]
    sha256: str
    """Hash over the files read for the ops and the version: equal for the same mmcv in any packaging."""
    files_hashed: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Every requested name, sorted, each once."""
        return tuple(sorted({n for r in self.requests for n in r.names}))


def _iter_dir(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*.py")):
        yield path.relative_to(root).as_posix(), path.read_bytes()


def _package_root(names: list[str]) -> str | None:
    """The archive prefix of the `mmcv` package: `mmcv/` in a wheel, `mmcv-2.1.0/mmcv/` in an sdist."""
    candidates = sorted((n[: -len("version.py")] for n in names if n.endswith("mmcv/version.py")), key=len)
    return candidates[0] if candidates else None


def _iter_zip(path: Path) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.endswith(".py")]
        prefix = _package_root(names)
        if prefix is None:
            return
        for n in sorted(names):
            if n.startswith(prefix):
                yield n[len(prefix) :], zf.read(n)


def _iter_tar(path: Path) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(path, "r:*") as tf:
        members = [m for m in tf.getmembers() if m.isfile() and m.name.endswith(".py")]
        prefix = _package_root([m.name for m in members])
        if prefix is None:
            return
        for m in sorted(members, key=lambda m: m.name):
            if m.name.startswith(prefix):
                fh = tf.extractfile(m)
                if fh is not None:
                    yield m.name[len(prefix) :], fh.read()


def _package_files(path: Path) -> Iterator[tuple[str, bytes]]:
    """(path inside the mmcv package, bytes) for every .py file of the package."""
    if path.is_dir():
        if (path / "version.py").is_file() and (path / "ops").is_dir():
            return _iter_dir(path)  # the package folder itself, e.g. site-packages/mmcv
        if (path / "mmcv" / "version.py").is_file():
            return _iter_dir(path / "mmcv")  # a source tree
        raise SourceError(f"{path} holds no mmcv package (no mmcv/version.py).")
    name = path.name.lower()
    if name.endswith((".whl", ".zip")):
        return _iter_zip(path)
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return _iter_tar(path)
    raise SourceError(f"{path} is neither a folder, a wheel nor an sdist (.tar.gz) of mmcv.")


SAFE_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]{0,63}")
"""What a version may look like to be written into generated code and its header (PEP 440 and kin)."""


def is_op_name(name: str) -> bool:
    """An op name the stub can define: a plain identifier, not a keyword, not a dunder."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__") and name.isascii()


def _literal_names(node: ast.expr) -> tuple[str, ...] | None:
    if isinstance(node, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return tuple(e.value for e in node.elts)  # type: ignore[attr-defined]
    return None


def find_requests(rel: str, text: str) -> list[ExtRequest]:
    """The `load_ext('_ext', [...])` calls of one file."""
    try:
        tree = ast.parse(text, filename=rel)
    except SyntaxError as exc:
        raise SourceError(f"mmcv/{rel} does not parse: {exc.msg} (line {exc.lineno}).") from exc
    out: list[ExtRequest] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        fname = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if fname != "load_ext" or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and first.value == "_ext"):
            continue
        arg = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "funcs"), None)
        names = _literal_names(arg) if arg is not None else None
        if names is None:
            raise SourceError(
                f"mmcv/{rel}, line {node.lineno}: load_ext('_ext', ...) is not given a literal list of names, "
                "so the names cannot be read without running mmcv."
            )
        bad = next((n for n in names if not is_op_name(n)), None)
        if bad is not None:
            raise SourceError(
                f"mmcv/{rel}, line {node.lineno}: load_ext('_ext', ...) asks for {bad[:80]!r}, which is not a "
                "plain op name (an identifier, not a keyword, not a dunder), so no stub can define it."
            )
        out.append(ExtRequest(file=rel, line=node.lineno, names=names))
    return out


def _version(text: str) -> str | None:
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise SourceError(f"mmcv/version.py does not parse: {exc.msg} (line {exc.lineno}).") from exc
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        named = any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
        if named and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            value = node.value.value
            if not SAFE_VERSION.fullmatch(value):
                raise SourceError(
                    f"mmcv/version.py, line {node.lineno}: __version__ is {value[:80]!r}, which is not a version."
                )
            return value
    return None


def read(path: str | Path) -> MmcvSources:
    """Read the ext requests and the version of the mmcv at `path` (package folder, source tree, sdist, wheel)."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path} does not exist.")
    version: str | None = None
    requests: list[ExtRequest] = []
    hashed: dict[str, bytes] = {}
    try:
        for rel, data in _package_files(path):
            if b"\0" in data:
                raise SourceError(f"{path}: mmcv/{rel} holds null bytes, so it is not a Python source file.")
            if rel == "version.py":
                version = _version(data.decode("utf-8"))
                hashed[rel] = data
            elif b"load_ext" in data and not PurePosixPath(rel).parts[0].startswith(("test", ".")):
                found = find_requests(rel, data.decode("utf-8"))
                if found:
                    requests += found
                    hashed[rel] = data
    except (OSError, tarfile.TarError, zipfile.BadZipFile, UnicodeDecodeError, EOFError, ValueError) as exc:
        raise SourceError(f"{path} could not be read: {exc}.") from exc
    if version is None:
        raise SourceError(f"{path} holds no mmcv package with a readable mmcv/version.py.")
    if not requests:
        raise SourceError(f"{path}: mmcv {version} has no load_ext('_ext', [...]) call, so there is nothing to stub.")
    digest = hashlib.sha256()
    for rel in sorted(hashed):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(hashed[rel]).hexdigest().encode() + b"\n")
    return MmcvSources(
        origin=str(path),
        version=version,
        requests=tuple(sorted(requests, key=lambda r: (r.file, r.line))),
        sha256=digest.hexdigest(),
        files_hashed=tuple(sorted(hashed)),
    )
