"""What a MuseTalk checkout imports: the built-in v1.5 manifest, or an ast scan of a checkout.

The scan never executes the checkout's code. It collects every absolute import (and literal
`__import__` / `importlib.import_module` calls), leaves out the standard library and the
checkout's own packages, and recognises folders that the checkout puts on sys.path itself (MuseTalk's
`musetalk/utils/__init__.py` appends its own folder so that `import face_detection` finds the
vendored copy): modules there are vendored, and an installed module of the same name shadows them.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from envdoctor.datafiles import load
from envdoctor.errors import UsageError

SCOPES = ("inference", "training", "app")
DEFAULT_MANIFEST = "musetalk-v15.toml"
AST_LIMIT = 2_000_000
"""Files larger than this (bytes) are scanned line by line for import statements: ast's tree of a
20 MB file takes gigabytes."""
_BLOCK = 1 << 20
_IMPORT_LINE = re.compile(
    rb"^[ \t]*(?:from[ \t]+([A-Za-z_][\w.]*)[ \t]+import\b|import[ \t]+([A-Za-z_][\w.]*))", re.MULTILINE
)
_SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", "build", "dist", ".tox", "site-packages"}


@dataclass(frozen=True)
class Entry:
    name: str
    """The module to import (may be dotted: mmcv.ops)."""
    dists: tuple[str, ...] = ()
    scope: str = "inference"
    via: str | None = None
    vendored: str | None = None
    why: str = ""
    found_in: tuple[str, ...] = ()
    """For a scanned checkout: the files that import it (relative paths)."""
    optional: bool = False
    """Imported only inside try/except ImportError, or unknown to the reference manifest."""

    @property
    def top(self) -> str:
        return self.name.split(".")[0]

    @property
    def probed(self) -> bool:
        return self.vendored is None


@dataclass(frozen=True)
class Manifest:
    name: str
    entries: tuple[Entry, ...]
    source: str
    """'built-in' or the scanned folder."""
    sys_path_edits: tuple[str, ...] = ()
    """file:line of each sys.path change the scan found, resolved or not."""
    skipped: tuple[tuple[str, str], ...] = ()
    """(file, why) for each Python file of the checkout that could not be scanned."""
    line_scanned: tuple[str, ...] = ()
    """Files too large for ast, scanned line by line for import statements instead."""
    app_local: tuple[tuple[str, str], ...] = ()
    """(module, path) for each top-level module the checkout itself provides (it shadows an installed
    module of the same name when MuseTalk runs from the checkout root)."""
    entry_points: dict[str, tuple[str, ...]] | None = None
    """scope -> the checkout files that start it (from the reference manifest's data)."""

    def for_scope(self, scopes: Iterable[str]) -> tuple[Entry, ...]:
        wanted = set(scopes)
        return tuple(e for e in self.entries if e.scope in wanted)

    def modules_to_probe(self, scopes: Iterable[str] = ("inference",)) -> list[str]:
        return [e.name for e in self.for_scope(scopes) if e.probed]

    def entry(self, name: str) -> Entry | None:
        return next((e for e in self.entries if e.name == name), None)


def builtin(name: str = DEFAULT_MANIFEST) -> Manifest:
    data = load(name)
    entries = tuple(
        Entry(
            name=row["name"],
            dists=tuple(row.get("dists", ())),
            scope=row.get("scope", "inference"),
            via=row.get("via"),
            vendored=row.get("vendored"),
            why=row.get("why", ""),
        )
        for row in data["module"]
    )
    entry_points = {k: tuple(v) for k, v in data["manifest"].get("entry_points", {}).items()}
    return Manifest(name=data["manifest"]["name"], entries=entries, source="built-in", entry_points=entry_points)


# --- scanning a checkout -------------------------------------------------------------------------


@dataclass
class _FileImports:
    modules: set[str] = field(default_factory=set)
    guarded: set[str] = field(default_factory=set)
    local: set[str] = field(default_factory=set)
    """Dotted names this file may load from the checkout itself (relative imports resolved)."""
    path_dirs: list[Path] = field(default_factory=list)
    path_edits: list[str] = field(default_factory=list)
    skipped: str | None = None
    """Why the file could not be scanned, if it could not."""
    line_scanned: bool = False


def _scan_lines(path: Path) -> _FileImports:
    """Import statements of a file too large for ast, read in bounded blocks: `import x` and
    `from x import y` at the start of a line (indented or not). Relative and dynamic imports and
    sys.path edits are not seen; the report says the file was read this way."""
    out = _FileImports(line_scanned=True)
    carry = b""  # the unfinished last line of the previous block (dropped when it grows too long)
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            if b"\0" in block:
                return _FileImports(skipped="binary: it holds null bytes")
            data = carry + block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            for m in _IMPORT_LINE.finditer(data, 0, cut):
                name = (m.group(1) or m.group(2)).decode("ascii")
                out.modules.add(name)
                out.local.add(name)
            carry = data[cut:]
            if len(carry) > _BLOCK:  # a line longer than a block cannot start with an import we missed
                carry = b"#"
            if not block:
                break
    return out


def _eval_path(node: ast.AST, file: Path, names: Mapping[str, ast.AST], depth: int = 0) -> str | None:
    """Evaluate the few path expressions checkouts put on sys.path; None when it is anything else.

    `names` holds the file's simple module-level assignments, so `parent = dirname(here)` resolves.
    """
    if depth > 20:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        if node.id == "__file__":
            return str(file)
        if node.id in names:
            return _eval_path(names[node.id], file, names, depth + 1)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _eval_path(node.left, file, names, depth + 1), _eval_path(node.right, file, names, depth + 1)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.Call):
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        args = [_eval_path(a, file, names, depth + 1) for a in node.args]
        if any(a is None for a in args):
            return None
        if fname in ("dirname",) and len(args) == 1:
            return str(Path(args[0]).parent)  # type: ignore[arg-type]
        if fname in ("abspath", "realpath", "normpath") and len(args) == 1:
            return args[0]
        if fname == "join" and args:
            return str(Path(*args))  # type: ignore[arg-type]
        if fname in ("Path", "resolve", "absolute") and len(args) <= 1:
            return args[0] if args else None
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = _eval_path(node.value, file, names, depth + 1)
        return str(Path(inner).parent) if inner is not None else None
    return None


def _is_sys_path_call(node: ast.Call) -> bool:
    f = node.func
    return (
        isinstance(f, ast.Attribute)
        and f.attr in ("append", "insert")
        and isinstance(f.value, ast.Attribute)
        and f.value.attr == "path"
        and isinstance(f.value.value, ast.Name)
        and f.value.value.id == "sys"
    )


def _module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _scan_file(path: Path, root: Path) -> _FileImports:
    out = _FileImports()
    try:
        if path.stat().st_size > AST_LIMIT:
            return _scan_lines(path)
        data = path.read_bytes()
    except OSError as exc:
        return _FileImports(skipped=f"unreadable: {exc.strerror or type(exc).__name__}")
    if b"\0" in data:
        return _FileImports(skipped="binary: it holds null bytes")
    try:
        tree = ast.parse(data, filename=str(path))
    except SyntaxError as exc:
        return _FileImports(skipped=f"not valid Python: {exc.msg} (line {exc.lineno})")
    except (ValueError, RecursionError, MemoryError) as exc:
        return _FileImports(skipped=f"not scannable: {type(exc).__name__}")
    names = {
        n.targets[0].id: n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
    }
    guarded_nodes = {
        id(inner)
        for t in ast.walk(tree)
        if isinstance(t, ast.Try) and _catches_import_error(t)
        for stmt in t.body
        for inner in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
                out.local.update(found)
            elif node.level == 0 and node.module:
                found = [node.module]
                out.local.update([node.module] + [f"{node.module}.{a.name}" for a in node.names])
            else:
                pkg = _module_name(path.relative_to(root)).split(".")
                if path.name != "__init__.py":
                    pkg = pkg[:-1]
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                head = ".".join([*base, *([node.module] if node.module else [])])
                out.local.update([head] + [f"{head}.{a.name}" for a in node.names])
                continue
            out.modules.update(found)
            if id(node) in guarded_nodes:
                out.guarded.update(found)
        elif isinstance(node, ast.Call):
            f = node.func
            is_dynamic = (isinstance(f, ast.Name) and f.id == "__import__") or (
                isinstance(f, ast.Attribute) and f.attr == "import_module"
            )
            if is_dynamic and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    out.modules.add(arg.value)
                    out.local.add(arg.value)
                elif isinstance(arg, ast.BinOp) and isinstance(arg.left, ast.Constant):
                    # '__import__("pkg." + name)': the literal head names the package
                    head = str(arg.left.value).rstrip(".")
                    if head:
                        out.modules.add(head)
                        out.local.add(head)
            elif _is_sys_path_call(node) and node.args:
                where = f"{path.relative_to(root)}:{node.lineno}"
                value = _eval_path(node.args[-1], path.resolve(), names)
                if value is None:
                    out.path_edits.append(f"{where} (not resolved)")
                else:
                    # A relative entry is relative to the working directory: the checkout root.
                    resolved = (root / value).resolve()
                    out.path_dirs.append(resolved)
                    out.path_edits.append(f"{where} -> {resolved}")
    return out


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        caught = handler.type
        if caught is None:
            return True
        kinds = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if any(isinstance(k, ast.Name) and k.id in ("ImportError", "ModuleNotFoundError", "Exception") for k in kinds):
            return True
    return False


def _python_files(root: Path) -> list[Path]:
    files = []
    for p in root.rglob("*.py"):
        if any(part in _SKIP_DIRS for part in p.relative_to(root).parts[:-1]):
            continue
        files.append(p)
    return sorted(files)


def _importable_names(folder: Path) -> set[str]:
    """Top-level module names a folder provides when it is on sys.path."""
    names: set[str] = set()
    if not folder.is_dir():
        return names
    for child in folder.iterdir():
        # A folder with Python files is importable, as a namespace package if it has no __init__.py.
        if child.is_dir() and child.name not in _SKIP_DIRS and any(child.rglob("*.py")):
            names.add(child.name)
        elif child.suffix == ".py":
            names.add(child.stem)
    return names


def scan_app(root: Path, *, reference: Manifest | None = None) -> Manifest:
    """The manifest of a checkout at `root`, found with ast; raises UsageError if it has no Python."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder.")
    files = _python_files(root)
    if not files:
        raise UsageError(f"{root} contains no Python files: is it a MuseTalk checkout?")
    reference = reference or builtin()
    stdlib = set(sys.stdlib_module_names)
    own = _importable_names(root)
    importers: dict[str, set[str]] = {}
    vendored_dirs: dict[Path, None] = {}
    edits: list[str] = []
    scanned: dict[str, _FileImports] = {}
    skipped: list[tuple[str, str]] = []
    line_scanned: list[str] = []
    for f in files:
        found = _scan_file(f, root)
        rel = str(f.relative_to(root))
        if found.skipped:
            skipped.append((rel, found.skipped))
        if found.line_scanned:
            line_scanned.append(rel)
        scanned[rel] = found
        for m in found.modules:
            importers.setdefault(m, set()).add(rel)
        for d in found.path_dirs:
            if d != root.resolve() and root.resolve() in (d, *d.parents):
                vendored_dirs[d] = None
        edits.extend(found.path_edits)
    vendored = {name: d for d in vendored_dirs for name in _importable_names(d)}
    scope_of = _reachable_scopes(root, scanned, list(vendored_dirs), reference)
    # A third-party module's scope: the first entry-point scope that imports it outside a try/except.
    module_scope: dict[str, str] = {}
    for scope in SCOPES:
        for rel, found in scanned.items():
            if scope in scope_of.get(rel, ()):
                for m in found.modules - found.guarded:
                    module_scope.setdefault(m.split(".")[0], scope)

    entries: list[Entry] = []
    seen: set[str] = set()
    for module in sorted(importers):
        top = module.split(".")[0]
        if top in stdlib or top in own or top == "__future__":
            continue
        if top in vendored:
            if top not in seen:
                seen.add(top)
                ref = reference.entry(top)
                entries.append(
                    Entry(
                        name=top,
                        vendored=str(vendored[top].relative_to(root.resolve()) / top),
                        why=ref.why if ref else "vendored in the checkout, found through a sys.path entry",
                        found_in=tuple(sorted(importers[module])),
                    )
                )
            continue
        if top in seen:
            continue
        seen.add(top)
        ref = reference.entry(top) or next((e for e in reference.entries if e.top == top), None)
        entries.append(
            Entry(
                name=top,
                dists=ref.dists if ref else (),
                scope=module_scope.get(top, ref.scope if ref else "inference"),
                why=ref.why if ref else "",
                found_in=tuple(sorted(set().union(*(v for k, v in importers.items() if k.split(".")[0] == top)))),
                # Not reached from an entry point, or only inside try/except ImportError.
                optional=top not in module_scope,
            )
        )
    # The submodules and the run-time path that the reference knows for what the checkout imports.
    tops = {e.top for e in entries if e.probed}
    extra = [
        e
        for e in reference.entries
        if e.probed and e.name not in seen and ((e.top in tops and "." in e.name) or (e.via and "mmpose" in tops))
    ]
    ordered = _order([*entries, *extra], reference)
    app_local = tuple(sorted((name, _local_path(root, name)) for name in own))
    return Manifest(
        name=f"scan of {root}",
        entries=tuple(ordered),
        source=str(root),
        sys_path_edits=tuple(edits),
        skipped=tuple(skipped),
        line_scanned=tuple(line_scanned),
        app_local=app_local,
    )


def _local_path(root: Path, name: str) -> str:
    return f"{name}/" if (root / name).is_dir() else f"{name}.py"


def _reachable_scopes(
    root: Path, scanned: dict[str, _FileImports], vendored_dirs: list[Path], reference: Manifest
) -> dict[str, set[str]]:
    """For each file, the scopes whose entry points reach it through the checkout's own imports."""
    by_module: dict[str, str] = {}
    for rel in scanned:
        by_module.setdefault(_module_name(Path(rel)), rel)
    for d in vendored_dirs:  # a folder put on sys.path makes its contents top-level modules
        base = d.relative_to(root.resolve())
        for rel in scanned:
            if Path(rel).is_relative_to(base):
                by_module.setdefault(_module_name(Path(rel).relative_to(base)), rel)
    entry_points = reference.entry_points or {}
    present = {scope: [f for f in files if f in scanned] for scope, files in entry_points.items()}
    if not any(present.values()):  # not shaped like MuseTalk: every file counts as inference code
        return {rel: {"inference"} for rel in scanned}
    reach: dict[str, set[str]] = {}
    for scope, starts in present.items():
        todo = list(starts)
        while todo:
            rel = todo.pop()
            if scope in reach.setdefault(rel, set()):
                continue
            reach[rel].add(scope)
            for name in scanned[rel].local:
                parts = name.split(".")
                # importing a.b.c runs a/__init__ and a/b/__init__ first
                for i in range(1, len(parts) + 1):
                    hit = by_module.get(".".join(parts[:i]))
                    if hit and scope not in reach.get(hit, set()):
                        todo.append(hit)
    return reach


def _order(entries: list[Entry], reference: Manifest) -> list[Entry]:
    """The reference's order first (torch before what sits on it), then the rest by name."""
    rank = {e.name: i for i, e in enumerate(reference.entries)}
    return sorted(entries, key=lambda e: (rank.get(e.name, len(rank)), e.name))
