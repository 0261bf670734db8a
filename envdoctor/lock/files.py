"""The two files of a cell: the header they share (typed), their bodies and their pins."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from envdoctor import lockgate
from envdoctor.lock.cells import LockTarget
from envdoctor.lock.inputs import LockInputs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


MARK = "# envdoctor lockfile: "
BUILD_MARK = "# source build: "


def header(t: LockTarget, inputs: LockInputs, gate: lockgate.GateResult | None = None, body_sha: str = "") -> str:
    flags = f"--strategy {t.strategy} --set {t.set_name} --python-version {t.python} --accelerator {t.accelerator}"
    flags += f" --platform {t.platform}" + (f" --torch-series {t.torch_series}" if t.torch_series else "")
    plat = lockgate.platforms()[t.platform]
    builds = dict(inputs.extra_build)
    lines = [
        f"{MARK}{t.name}",
        f"# strategy {t.strategy}, requirement set {t.set_name}, Python {t.python}, {t.accelerator}, "
        f"{plat.label} ({inputs.python_platform})",
        f"# held, not in this file: {', '.join(inputs.held)}. Install them first from {inputs.torch_index},",
        "# then `uv pip install --no-deps --require-hashes -r` this file (`envdoctor fix` does both, and checks).",
        *[f"# note: {n}" for n in inputs.notes],
    ]
    if gate is not None:
        if not gate.builds:
            lines.append(f"# wheels only: every pin has a wheel for {gate.target}")
        for pin in gate.builds:
            name = str(canonicalize_name(pin.split("==")[0]))
            lines.append(
                f"{BUILD_MARK}{pin} (no wheel for {gate.target}): uv builds it from its sdist in fix's "
                f"{lockgate.BUILD_STEP} step, with {', '.join(builds.get(name, ())) or 'its declared requirements'} "
                "in the build environment (a C compiler is needed)"
            )
    lines += [
        f"# regenerate: envdoctor-maint lock {flags}",
        f"# inputs-sha256: {inputs.digest()}",
        f"# body-sha256: {body_sha}",
        f"# inputs: {json.dumps(inputs.to_dict(), sort_keys=True)}",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LockHeader:
    """What a lockfile's header records; every field None (builds empty) when the file has no header."""

    name: str | None = None
    sha256: str | None = None
    """Of the inputs, as recorded in `inputs`."""
    body_sha256: str | None = None
    """Of both bodies together (body_digest)."""
    builds: tuple[str, ...] = ()
    """The pins the header names as source builds (`name==version`)."""
    inputs: dict[str, Any] | None = None


def read_header(path: Path) -> LockHeader:
    found: dict[str, Any] = {}
    builds: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            if line.startswith(MARK):
                found["name"] = line[len(MARK) :].strip()
            elif line.startswith("# inputs-sha256: "):
                found["sha256"] = line.split(":", 1)[1].strip()
            elif line.startswith("# body-sha256: "):
                found["body_sha256"] = line.split(":", 1)[1].strip()
            elif line.startswith(BUILD_MARK):
                builds.append(line[len(BUILD_MARK) :].split(" ", 1)[0])
            elif line.startswith("# inputs: "):
                inputs = json.loads(line.split(":", 1)[1])
                found["inputs"] = inputs if isinstance(inputs, dict) else None
                break
    return LockHeader(builds=tuple(builds), **found)


def split_body(text: str) -> str:
    """What follows the header (which ends with the `# inputs:` line)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("# inputs: "):
            return "".join(lines[i + 1 :])
        if not line.startswith("#"):
            break
    return text


def body_digest(txt_body: str, pylock_body: str) -> str:
    """One digest over both bodies: an edit to either, or a swap of one, changes it."""
    return hashlib.sha256(f"{txt_body}\0{pylock_body}".encode()).hexdigest()


def pins(path: Path) -> Iterator[str]:
    """The `name==version` lines of a requirements lockfile."""
    yield from pin_lines(path.read_text())


def pin_lines(text: str) -> Iterator[str]:
    for line in text.splitlines():
        if line and not line.startswith((" ", "#", "-")):
            yield line.split(" ")[0].rstrip("\\").strip()


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str | None
    hashes: frozenset[str]


def read_requirements(text: str) -> dict[str, Pin]:
    """The pins of a hashed requirements lockfile: name, version, marker and `--hash` values."""
    blocks: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        body = stripped.rstrip("\\").strip()
        if raw[:1].isspace() or body.startswith("--"):
            if blocks:  # a continuation line of the pin above: its hashes
                blocks[-1][1].extend(tok.split("=", 1)[1] for tok in body.split() if tok.startswith("--hash="))
        else:
            blocks.append((body, []))
    out: dict[str, Pin] = {}
    for line, hashes in blocks:
        req = Requirement(line)
        exact = [s.version for s in req.specifier if s.operator == "=="]
        name = str(canonicalize_name(req.name))
        marker = str(req.marker) if req.marker else None
        out[name] = Pin(name, exact[0] if exact else str(req.specifier), marker, frozenset(hashes))
    return out


def pylock_pins(pylock_text: str, t: LockTarget) -> dict[str, Pin]:
    """The pylock's packages that install on the target, with every artifact hash."""
    out = {}
    for pkg in tomllib.loads(pylock_text).get("packages", []):
        art = lockgate.artifacts({"packages": [pkg]})[0]
        if not lockgate.applies(art, t.python, t.platform):
            continue
        hashes = set()
        for a in [pkg.get("sdist") or {}, *(pkg.get("wheels") or [])]:
            for algo, value in (a.get("hashes") or {}).items():
                hashes.add(f"{algo}:{value}")
        out[art.name] = Pin(art.name, art.version, None, frozenset(hashes))
    return out
