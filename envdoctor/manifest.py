"""What a MuseTalk checkout imports: the built-in v1.5 manifest, or an ast scan of a checkout.

The scan never executes the checkout's code. It collects every absolute import (and literal
`__import__` / `importlib.import_module` calls), leaves out the standard library and the
checkout's own packages, and recognises folders that the checkout puts on sys.path itself (MuseTalk's
`musetalk/utils/__init__.py` appends its own folder so that `import face_detection` finds the
vendored copy): modules there are vendored, and an installed module of the same name shadows them.

It is an import graph: from each scope's entry points (musetalk-v15.toml) it follows the checkout's own
modules, and each third-party import it reaches is required (at module level), lazy (inside a function
body or behind a condition: needed only when that runs) or optional (inside a try whose except goes on
without it). What no
entry point reaches (MuseTalk's vendored whisper, which v1.5 inference never imports) is listed, not probed.
"""

from __future__ import annotations

import ast
import heapq
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from envdoctor.datafiles import load
from envdoctor.distnames import known, read_requirements
from envdoctor.errors import UsageError

SCOPES = ("inference", "training", "app")
KINDS = ("required", "lazy", "optional")
"""How a scanned import is reached, the strongest first: at module level; only inside a function body or behind
a condition (`if use_lws:`), so only when that code runs; only inside a try whose except goes on without it."""
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
class Reach:
    """How one scope's entry points reach a scanned import: the strongest way, and the first file and line of it."""

    scope: str
    kind: str
    """One of KINDS."""
    entry_point: str
    at: str
    """file:line of the import statement (relative to the checkout)."""


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
    """For a scanned checkout: no entry point reaches it at module level outside a try that falls back."""
    reached: tuple[Reach, ...] = ()
    """For a scanned checkout: one per scope whose entry points reach it."""
    imported_at: tuple[str, ...] = ()
    """For a scanned checkout: file:line of every import of it, reached or not."""

    @property
    def top(self) -> str:
        return self.name.split(".")[0]

    @property
    def probed(self) -> bool:
        return self.vendored is None

    def reach_for(self, scopes: Iterable[str]) -> Reach | None:
        """The strongest way the given scopes reach it (None: none of them does)."""
        wanted = set(scopes)
        hits = [r for r in self.reached if r.scope in wanted]
        return min(hits, key=lambda r: (KINDS.index(r.kind), SCOPES.index(r.scope)), default=None)


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
    requirements: tuple[str, ...] = ()
    """The distributions the checkout's requirements.txt lists (a scan only)."""

    @property
    def scanned(self) -> bool:
        return self.source != "built-in"

    def in_scope(self, entry: Entry, scopes: Iterable[str]) -> bool:
        """Whether `check --scope` probes it: the built-in list by its scope, a scan by what the scopes reach."""
        if self.scanned and entry.probed:
            return entry.reach_for(scopes) is not None
        return entry.scope in set(scopes) or (self.scanned and not entry.probed)

    def for_scope(self, scopes: Iterable[str]) -> tuple[Entry, ...]:
        wanted = tuple(scopes)
        return tuple(e for e in self.entries if self.in_scope(e, wanted))

    def modules_to_probe(self, scopes: Iterable[str] = ("inference",)) -> list[str]:
        return [e.name for e in self.for_scope(scopes) if e.probed]

    def entry(self, name: str) -> Entry | None:
        return next((e for e in self.entries if e.name == name), None)


def builtin(name: str = DEFAULT_MANIFEST) -> Manifest:
    data = load(name)
    entries = tuple(
        Entry(
            name=row["name"],
            dists=() if row.get("vendored") else known(row["name"]),
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


@dataclass(frozen=True)
class _Import:
    name: str
    line: int
    kind: str
    """One of KINDS, for this statement in its own file."""


@dataclass
class _FileImports:
    imports: list[_Import] = field(default_factory=list)
    """Absolute and literal dynamic imports: third-party, standard library or the checkout's own."""
    local: list[_Import] = field(default_factory=list)
    """Dotted names this file may load from the checkout itself (relative imports resolved)."""
    path_dirs: list[Path] = field(default_factory=list)
    path_edits: list[str] = field(default_factory=list)
    skipped: str | None = None
    """Why the file could not be scanned, if it could not."""
    line_scanned: bool = False


def _weaker(a: str, b: str) -> str:
    return a if KINDS.index(a) >= KINDS.index(b) else b


def _scan_lines(path: Path) -> _FileImports:
    """Import statements of a file too large for ast, read in bounded blocks: `import x` and
    `from x import y` at the start of a line (indented or not; indented counts as lazy, since the
    block it sits in is unknown). Relative and dynamic imports and sys.path edits are not seen; the
    report says the file was read this way."""
    out = _FileImports(line_scanned=True)
    carry = b""  # the unfinished last line of the previous block (dropped when it grows too long)
    line = 1  # the line number at the start of `carry`
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            if b"\0" in block:
                return _FileImports(skipped="binary: it holds null bytes")
            data = carry + block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            pos, at = 0, line
            for m in _IMPORT_LINE.finditer(data, 0, cut):
                at += data.count(b"\n", pos, m.start())
                pos = m.start()
                name = (m.group(1) or m.group(2)).decode("ascii")
                found = _Import(name, at, "required" if data[m.start() : m.start() + 1] not in b" \t" else "lazy")
                out.imports.append(found)
                out.local.append(found)
            line = at + data.count(b"\n", pos, cut)
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


class _Visitor:
    """Every import of one file with the kind of the block it sits in (KINDS), and its sys.path edits.

    Decorators, default values and class bodies run when the module is imported; a function's body only
    when it is called; a try's body is optional when one of its handlers catches ImportError and goes on.
    """

    def __init__(self, path: Path, root: Path, names: Mapping[str, ast.AST]) -> None:
        self.path, self.root, self.names = path, root, names
        self.out = _FileImports()
        pkg = _module_name(path.relative_to(root)).split(".")
        self.package = pkg if path.name == "__init__.py" else pkg[:-1]

    def visit(self, node: ast.AST, kind: str) -> None:
        # An explicit stack: a deeply nested expression that ast accepted must not exhaust Python's own.
        todo: list[tuple[ast.AST, str]] = [(node, kind)]
        while todo:
            node, kind = todo.pop()
            for child, child_kind in reversed(list(self._step(node, kind))):
                todo.append((child, child_kind))

    def _step(self, node: ast.AST, kind: str) -> Iterable[tuple[ast.AST, str]]:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from ((d, kind) for d in node.decorator_list)
            yield node.args, kind
            yield from ((stmt, _weaker(kind, "lazy")) for stmt in node.body)
            return
        if isinstance(node, ast.Lambda):
            yield node.args, kind
            yield node.body, _weaker(kind, "lazy")
            return
        if isinstance(node, _TRY):
            try_node = cast(ast.Try, node)  # TryStar has the same fields
            body_kind = _weaker(kind, "optional") if _catches_import_error(try_node) else kind
            yield from ((stmt, body_kind) for stmt in try_node.body)
            for part in (try_node.handlers, try_node.orelse, try_node.finalbody):
                yield from ((stmt, kind) for stmt in part)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from ((stmt, kind) for stmt in node.orelse)  # the body never runs
            return
        if isinstance(node, ast.If) and not _is_main_guard(node.test):
            # Behind a flag (`if use_lws:`): each branch runs only when its condition holds. A script's
            # `if __name__ == "__main__":` body is what running it does, so it keeps the block's kind.
            yield node.test, kind
            yield from ((stmt, _weaker(kind, "lazy")) for stmt in (*node.body, *node.orelse))
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._add(alias.name, node.lineno, kind, (alias.name,))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                self._add(
                    node.module, node.lineno, kind, [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                )
            else:
                base = self.package[: len(self.package) - (node.level - 1)] if node.level > 1 else self.package
                head = ".".join([*base, *([node.module] if node.module else [])])
                for name in [head] + [f"{head}.{a.name}" for a in node.names]:
                    self.out.local.append(_Import(name, node.lineno, kind))
        elif isinstance(node, ast.Call):
            self._call(node, kind)
        yield from ((child, kind) for child in ast.iter_child_nodes(node))

    def _add(self, module: str, line: int, kind: str, local: Iterable[str]) -> None:
        self.out.imports.append(_Import(module, line, kind))
        self.out.local.extend(_Import(name, line, kind) for name in local)

    def _call(self, node: ast.Call, kind: str) -> None:
        f = node.func
        is_dynamic = (isinstance(f, ast.Name) and f.id == "__import__") or (
            isinstance(f, ast.Attribute) and f.attr == "import_module"
        )
        if is_dynamic and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self._add(arg.value, node.lineno, kind, (arg.value,))
            elif isinstance(arg, ast.BinOp) and isinstance(arg.left, ast.Constant):
                # '__import__("pkg." + name)': the literal head names the package, and the module is one of
                # its children (MuseTalk picks its face detector, face_detection.detection.sfd, this way)
                head = str(arg.left.value).rstrip(".")
                if head:
                    children = (f"{head}{_ANY_CHILD}",) if str(arg.left.value).endswith(".") else ()
                    self._add(head, node.lineno, kind, (head, *children))
        elif _is_sys_path_call(node) and node.args:
            where = f"{self.path.relative_to(self.root)}:{node.lineno}"
            value = _eval_path(node.args[-1], self.path.resolve(), self.names)
            if value is None:
                self.out.path_edits.append(f"{where} (not resolved)")
            else:
                # A relative entry is relative to the working directory: the checkout root.
                resolved = (self.root / value).resolve()
                self.out.path_dirs.append(resolved)
                self.out.path_edits.append(f"{where} -> {resolved}")


# Python 3.11 added `try: ... except* ...` as its own node, with the same fields.
_TRY: tuple[type[ast.stmt], ...] = tuple(t for t in (ast.Try, getattr(ast, "TryStar", None)) if t is not None)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_main_guard(test: ast.expr) -> bool:
    """`if __name__ == "__main__":` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, *test.comparators]
    return any(isinstance(x, ast.Name) and x.id == "__name__" for x in sides) and any(
        isinstance(x, ast.Constant) and x.value == "__main__" for x in sides
    )


def _scan_file(path: Path, root: Path) -> _FileImports:
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
    visitor = _Visitor(path, root, names)
    try:
        visitor.visit(tree, "required")
    except RecursionError as exc:  # _eval_path on a pathological expression
        return _FileImports(skipped=f"not scannable: {type(exc).__name__}")
    return visitor.out


_ANY_CHILD = ".<computed>"
"""Appended to a package's name: a dynamic import whose child module is computed at run time."""

_WIDE = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_EXITS = {"exit", "_exit", "quit", "abort"}


def _catches_import_error(node: ast.Try) -> bool:
    """A handler catches a failed import (ImportError or wider) and has a fallback: it neither raises nor exits."""
    for handler in node.handlers:
        caught = handler.type
        kinds = [] if caught is None else caught.elts if isinstance(caught, ast.Tuple) else [caught]
        wide = caught is None or any(isinstance(k, ast.Name) and k.id in _WIDE for k in kinds)
        if wide and _falls_back(handler.body):
            return True
    return False


def _falls_back(body: list[ast.stmt]) -> bool:
    for stmt in body:
        if isinstance(stmt, ast.Raise):
            return False
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            f = stmt.value.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in _EXITS:
                return False
    return True


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
    vendored_dirs: dict[Path, None] = {}
    edits: list[str] = []
    scanned: dict[str, _FileImports] = {}
    skipped: list[tuple[str, str]] = []
    line_scanned: list[str] = []
    for f in files:
        found = _scan_file(f, root)
        rel = f.relative_to(root).as_posix()
        if found.skipped:
            skipped.append((rel, found.skipped))
        if found.line_scanned:
            line_scanned.append(rel)
        scanned[rel] = found
        for d in found.path_dirs:
            if d != root.resolve() and root.resolve() in (d, *d.parents):
                vendored_dirs[d] = None
        edits.extend(found.path_edits)
    vendored = {name: d for d in vendored_dirs for name in _importable_names(d)}
    reach = _reachable_scopes(root, scanned, list(vendored_dirs), reference)

    # Per third-party top-level module: every place it is imported, and per scope the strongest way it is reached.
    imported_at: dict[str, list[str]] = {}
    best: dict[str, dict[str, Reach]] = {}
    for rel, found in scanned.items():
        for imp in found.imports:
            top = imp.name.split(".")[0]
            if top in stdlib or top in own or top == "__future__":
                continue
            at = f"{rel}:{imp.line}"
            imported_at.setdefault(top, []).append(at)
            if top in vendored:
                continue
            for scope, (file_kind, start) in reach.get(rel, {}).items():
                kind = _weaker(file_kind, imp.kind)
                held = best.setdefault(top, {}).get(scope)
                if held is None or KINDS.index(kind) < KINDS.index(held.kind):
                    best[top][scope] = Reach(scope=scope, kind=kind, entry_point=start, at=at)

    entries: list[Entry] = []
    for top in sorted(imported_at):
        where = tuple(imported_at[top])
        found_in = tuple(sorted({at.rsplit(":", 1)[0] for at in where}))
        if top in vendored:
            ref = reference.entry(top)
            entries.append(
                Entry(
                    name=top,
                    vendored=(vendored[top].relative_to(root.resolve()) / top).as_posix(),
                    why=ref.why if ref else "vendored in the checkout, found through a sys.path entry",
                    found_in=found_in,
                    imported_at=where,
                )
            )
            continue
        ref = reference.entry(top) or next((e for e in reference.entries if e.top == top), None)
        reached = tuple(best.get(top, {})[s] for s in SCOPES if s in best.get(top, {}))
        entries.append(
            Entry(
                name=top,
                dists=known(top),
                scope=reached[0].scope if reached else ref.scope if ref else "inference",
                why=ref.why if ref else "",
                found_in=found_in,
                optional=not any(r.kind == "required" for r in reached),
                reached=reached,
                imported_at=where,
            )
        )
    # The submodules and the run-time path that the reference knows for what the checkout imports; they are
    # reached the way the module that brings them is.
    by_top = {e.top: e for e in entries if e.probed}
    extra = []
    for e in reference.entries:
        if not e.probed or e.name in by_top:
            continue
        brings = by_top.get(e.top) if "." in e.name else None
        if brings is None and e.via:
            brings = by_top.get("mmpose")
        if brings is not None:
            extra.append(
                Entry(
                    name=e.name,
                    dists=e.dists,
                    scope=brings.scope,
                    via=e.via,
                    why=e.why,
                    found_in=brings.found_in,
                    optional=brings.optional,
                    reached=brings.reached,
                    imported_at=brings.imported_at,
                )
            )
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
        entry_points=reference.entry_points,
        requirements=read_requirements(root / "requirements.txt"),
    )


def _local_path(root: Path, name: str) -> str:
    return f"{name}/" if (root / name).is_dir() else f"{name}.py"


def _reachable_scopes(
    root: Path, scanned: dict[str, _FileImports], vendored_dirs: list[Path], reference: Manifest
) -> dict[str, dict[str, tuple[str, str]]]:
    """file -> scope -> (the strongest kind its entry points reach it with, the entry point that does).

    A path is as strong as its weakest edge (a module imported inside a function makes all it brings lazy);
    of a file's paths the strongest counts, found lowest-kind-first.
    """
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
    if not any(present.values()):  # not shaped like MuseTalk: every file is an inference entry point
        present = {"inference": list(scanned)}
    reach: dict[str, dict[str, tuple[str, str]]] = {}
    for scope, starts in present.items():
        heap = [(0, i, rel, rel) for i, rel in enumerate(starts)]
        heapq.heapify(heap)
        order = len(heap)
        while heap:
            rank, _, rel, start = heapq.heappop(heap)
            if scope in reach.setdefault(rel, {}):
                continue
            reach[rel][scope] = (KINDS[rank], start)
            for imp in scanned[rel].local:
                edge = KINDS.index(_weaker(KINDS[rank], imp.kind))
                for hit in _files_run(imp.name, by_module):
                    if scope not in reach.get(hit, {}):
                        order += 1
                        heapq.heappush(heap, (edge, order, hit, start))
    return reach


def _files_run(name: str, by_module: Mapping[str, str]) -> list[str]:
    """The checkout's files that importing `name` runs: a.b.c runs a/__init__ and a/b/__init__ first; a name
    ending in _ANY_CHILD (a dynamic import of a computed child) may run any child module of its package."""
    if name.endswith(_ANY_CHILD):
        package = name.removesuffix(_ANY_CHILD)
        depth = package.count(".") + 1
        hits = [_files_run(package, by_module)]
        hits += [[rel] for mod, rel in by_module.items() if mod.startswith(package + ".") and mod.count(".") == depth]
        return [rel for group in hits for rel in group]
    parts = name.split(".")
    return [hit for i in range(1, len(parts) + 1) if (hit := by_module.get(".".join(parts[:i])))]


def _order(entries: list[Entry], reference: Manifest) -> list[Entry]:
    """The reference's order first (torch before what sits on it), then the rest by name."""
    rank = {e.name: i for i, e in enumerate(reference.entries)}
    return sorted(entries, key=lambda e: (rank.get(e.name, len(rank)), e.name))
