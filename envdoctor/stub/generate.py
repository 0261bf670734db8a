"""Write the text of `mmcv/_ext.py` for one mmcv: every requested name, real or raising, in one pass.

The module's body is probes/mmcv_ext_stub/template.py (a real, linted Python file): its helpers, plus the
real ops (functions decorated `@_real`) that this mmcv asks for. Every other requested name becomes
`name = _unavailable("name")`. The header lines follow the contract the facts probe parses:
`# envdoctor-stub: key=value ...` within the first 30 lines.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from envdoctor import __version__
from envdoctor.resources import stub_template
from envdoctor.stub.sources import SAFE_VERSION, MmcvSources, SourceError, is_op_name, read

FORMAT = 1
"""Bump when the layout of the generated module changes in a way a reader must know about."""

TEMPLATE = stub_template()


@dataclass(frozen=True)
class GeneratedStub:
    """One generated `mmcv/_ext.py`."""

    mmcv_version: str
    sources_sha256: str
    origin: str
    text: str
    real: tuple[str, ...]
    raising: tuple[str, ...]

    @property
    def ops(self) -> tuple[str, ...]:
        return tuple(sorted(self.real + self.raising))

    @property
    def header(self) -> dict[str, str]:
        """The key=value pairs of the header, as the facts probe reads them."""
        return parse_header(self.text)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@cache
def _template() -> tuple[str, dict[str, tuple[int, int]]]:
    """The template's text and, for each real op, its line span (1-based, inclusive, decorator included)."""
    text = TEMPLATE.read_text(encoding="utf-8")
    spans: dict[str, tuple[int, int]] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "_real" for d in node.decorator_list
        ):
            start = min(d.lineno for d in node.decorator_list)
            spans[node.name] = (start, node.end_lineno or node.lineno)
    return text, spans


@cache
def template_names() -> frozenset[str]:
    """The module-level names the template defines for itself (helpers, imports): an op of the same
    name would replace one of them."""
    text, spans = _template()
    names: set[str] = set()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names - set(spans))


def _refuse_unsafe(src: MmcvSources) -> None:
    """Names and the version go into generated code: anything but identifiers and a plain version is refused."""
    if not SAFE_VERSION.fullmatch(src.version):
        raise SourceError(f"{src.origin}: the version {src.version[:80]!r} is not a version.")
    taken = template_names() | {"REAL_OPS"}
    for req in src.requests:
        for n in req.names:
            if not is_op_name(n) or n in taken:
                why = "is not a plain op name" if not is_op_name(n) else "is a name the stub uses itself"
                raise SourceError(
                    f"mmcv/{req.file}, line {req.line}: load_ext('_ext', ...) asks for {n[:80]!r}, which {why}, "
                    "so no stub can define it."
                )


def real_ops() -> tuple[str, ...]:
    """Every op the template can compute for real (whether or not a given mmcv asks for it)."""
    return tuple(sorted(_template()[1]))


def parse_header(text: str) -> dict[str, str]:
    """The merged key=value pairs of the `# envdoctor-stub...:` lines within the first 30 lines."""
    info: dict[str, str] = {}
    for line in text.splitlines()[:30]:
        stripped = line.lstrip("#").strip()
        if not line.startswith("#") or not stripped.startswith("envdoctor-stub"):
            continue
        key, sep, rest = stripped.partition(":")
        if not sep or (key != "envdoctor-stub" and not key.startswith("envdoctor-stub-")):
            continue
        for pair in rest.split():
            k, eq, v = pair.partition("=")
            if eq:
                info[k] = v
    return info


def _body(wanted: set[str]) -> str:
    text, spans = _template()
    lines = text.splitlines()
    drop: set[int] = set()
    for name, (start, end) in spans.items():
        if name not in wanted:
            drop.update(range(start, end + 1))
    kept = [line for n, line in enumerate(lines, 1) if n not in drop]
    out = "\n".join(kept)
    while "\n\n\n\n" in out:  # a dropped function leaves its blank lines behind
        out = out.replace("\n\n\n\n", "\n\n\n")
    return out.rstrip() + "\n"


def render(src: MmcvSources) -> GeneratedStub:
    """The `_ext.py` text for these sources; SourceError for names or a version unfit for code."""
    _refuse_unsafe(src)
    names = src.names
    available = set(real_ops())
    real = tuple(n for n in names if n in available)
    raising = tuple(n for n in names if n not in available)
    header = [
        "# mmcv/_ext.py, generated by envdoctor: `envdoctor stub generate`. Do not edit; regenerate instead.",
        f"# envdoctor-stub: mmcv={src.version} sources=sha256:{src.sha256} envdoctor={__version__} "
        f"format={FORMAT} real={len(real)} raising={len(raising)} ops={len(names)}",
        f"# envdoctor-stub-real: real_ops={','.join(real)}",
        f"# Read from {len(src.files_hashed)} files of mmcv {src.version} ({len(src.requests)} load_ext calls).",
        "# Real ops compute the result with torch/torchvision; every other op raises MmcvExtStubError.",
        "",
    ]
    info = {
        "mmcv": src.version,
        "sources": "sha256:" + src.sha256,
        "envdoctor": __version__,
        "format": FORMAT,
        "real": len(real),
        "raising": len(raising),
        "ops": len(names),
    }
    tail = [
        "",
        "",
        f"# --- generated for mmcv {src.version} " + "-" * 80,
        "",
        "STUB_INFO.update(" + repr(info) + ")",
        "REAL_OPS = (" + "".join(f"{n!r}, " for n in real).rstrip() + ")",
        "",
    ]
    tail += [f"{n} = _unavailable({n!r})" for n in raising]
    text = "\n".join(header) + _body(set(real)) + "\n".join(tail) + "\n"
    return GeneratedStub(
        mmcv_version=src.version,
        sources_sha256=src.sha256,
        origin=src.origin,
        text=text,
        real=real,
        raising=raising,
    )


def generate(source: str | Path | MmcvSources) -> GeneratedStub:
    """Generate `mmcv/_ext.py` from mmcv's sources: an installed `mmcv` folder, a source tree, an sdist or a wheel.

    Nothing from the sources is executed; see envdoctor.stub.sources.
    """
    src = source if isinstance(source, MmcvSources) else read(source)
    return render(src)
