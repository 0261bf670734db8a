"""The wheel gate: does every pin of a lockfile install from a wheel on the lockfile's target?

Resolving is not installing. uv resolves for another interpreter and platform happily even when a
pinned version has no wheel there, and the install then falls back to a source build (minutes, a C
compiler, build traps) or fails. The gate reads the PEP 751 twin of a lockfile (uv writes every
artifact it would pick for the target), computes the tags the target accepts with `packaging.tags`,
and names each distribution none of whose wheels fit. A missing wheel is allowed only when the
lockfile's inputs name that source build (uv's extra-build-dependencies for the install step).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from packaging import tags
from packaging.markers import Marker
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from envdoctor.datafiles import load
from envdoctor.wheelmatch import tags_for

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

BUILD_STEP = "install-lock"
"""The strategy step that builds a lockfile's sdist-only pins: uv, while it installs the lockfile."""


@dataclass(frozen=True)
class CellPlatform:
    key: str
    label: str
    os: str
    arch: str
    uv: str
    machines: tuple[str, ...]
    glibc: str | None = None
    macos: str | None = None
    windows: str | None = None

    def tag_platforms(self) -> tuple[str, ...]:
        """Platform tags of wheels this target installs, most specific first."""
        if self.glibc:
            # packaging only lists manylinux tags for the running glibc, so the target's are spelled out:
            # manylinux_2_N for N down to 5, plus the legacy names PEP 600 maps onto them.
            major, minor = (int(p) for p in self.glibc.split("."))
            legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
            out: list[str] = []
            for m in range(minor, 4, -1):
                out.append(f"manylinux_{major}_{m}_{self.arch}")
                if m in legacy:
                    out.append(f"{legacy[m]}_{self.arch}")
            return tuple(out)
        if self.macos:
            major, minor = (int(p) for p in self.macos.split("."))
            return tuple(tags.mac_platforms((major, minor), self.arch))
        if self.windows:
            return (self.windows,)
        raise ValueError(f"platform {self.key} names no glibc, macos or windows version")

    def marker_env(self, python: str) -> dict[str, str]:
        """What PEP 508 markers see on this target (for the pylock's per-package markers)."""
        system = {"linux": "Linux", "macos": "Darwin", "windows": "Windows"}[self.os]
        return {
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "python_version": python,
            "python_full_version": f"{python}.0",
            "platform_machine": {"amd64": "AMD64"}.get(self.arch, self.arch) if self.os == "windows" else self.arch,
            "platform_system": system,
            "sys_platform": {"linux": "linux", "macos": "darwin", "windows": "win32"}[self.os],
            "os_name": "nt" if self.os == "windows" else "posix",
        }


@cache
def platforms() -> dict[str, CellPlatform]:
    out = {}
    for key, row in load("lock.toml")["platform"].items():
        out[key] = CellPlatform(
            key=key,
            label=row["label"],
            os=row["os"],
            arch=row["arch"],
            uv=row["uv"],
            machines=tuple(row["machines"]),
            glibc=row.get("glibc"),
            macos=row.get("macos"),
            windows=row.get("windows"),
        )
    return out


def platform_for(os_name: str, machine: str) -> CellPlatform | None:
    """The lock platform a machine runs (os from envdoctor's facts, machine from platform.machine())."""
    for p in platforms().values():
        if p.os == os_name and machine.lower() in p.machines:
            return p
    return None


@cache
def supported_tags(python: str, platform_key: str) -> frozenset[tags.Tag]:
    """Every wheel tag CPython `python` ("3.12") accepts on the platform."""
    major, minor = python.split(".")[:2]
    return tags_for(f"cp{major}{minor}", list(platforms()[platform_key].tag_platforms()))


@dataclass(frozen=True)
class Artifact:
    """One package of a pylock.toml as the gate sees it."""

    name: str
    version: str
    wheels: tuple[str, ...]
    """Wheel file names."""
    sdist: bool
    marker: str | None


@dataclass(frozen=True)
class GateResult:
    ok: bool
    builds: tuple[str, ...]
    """`name==version` pins that have no fitting wheel and that the inputs say are built from source."""
    missing: tuple[str, ...]
    """`name==version` pins with no fitting wheel and no named build: the reason the gate refuses."""
    target: str
    """cp312 on Linux x86_64, for messages."""

    def message(self) -> str:
        if self.ok:
            built = f"; built from source in the {BUILD_STEP} step: {', '.join(self.builds)}" if self.builds else ""
            return f"every pin has a wheel for {self.target}{built}"
        return f"no wheel for {self.target} and no source build named for: {', '.join(self.missing)}"


def read_pylock(path: Path) -> list[Artifact]:
    """The packages of a pylock.toml (envdoctor's header lines are TOML comments)."""
    with open(path, "rb") as fh:
        doc = tomllib.load(fh)
    return artifacts(doc)


def artifacts(doc: Mapping[str, Any]) -> list[Artifact]:
    out = []
    for pkg in doc.get("packages", []):
        wheels = []
        for w in pkg.get("wheels", []) or []:
            ref = str(w.get("name") or w.get("url") or w.get("path") or "")
            wheels.append(ref.rsplit("/", 1)[-1])
        out.append(
            Artifact(
                name=str(canonicalize_name(pkg["name"])),
                version=str(pkg.get("version", "")),
                wheels=tuple(wheels),
                sdist="sdist" in pkg,
                marker=pkg.get("marker"),
            )
        )
    return out


def applies(artifact: Artifact, python: str, platform_key: str) -> bool:
    """Whether the package is installed on the target at all (its pylock marker holds there)."""
    if not artifact.marker:
        return True
    return Marker(artifact.marker).evaluate(platforms()[platform_key].marker_env(python))


def wheel_fits(filename: str, supported: frozenset[tags.Tag]) -> bool:
    try:
        _, _, _, wheel_tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return not wheel_tags.isdisjoint(supported)


def gate(items: Iterable[Artifact], python: str, platform_key: str, builds: Iterable[str] = ()) -> GateResult:
    """Judge a lockfile's packages for CPython `python` on `platform_key`; `builds` are the package
    names whose source build the lockfile's inputs name."""
    supported = supported_tags(python, platform_key)
    allowed = {str(canonicalize_name(b)) for b in builds}
    built: list[str] = []
    missing: list[str] = []
    for a in items:
        if not applies(a, python, platform_key):
            continue
        if any(wheel_fits(w, supported) for w in a.wheels):
            continue
        pin = f"{a.name}=={a.version}"
        (built if a.name in allowed and a.sdist else missing).append(pin)
    target = f"cp{python.replace('.', '')} on {platforms()[platform_key].label}"
    return GateResult(not missing, tuple(built), tuple(missing), target)
