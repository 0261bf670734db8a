"""The steps of a plan: one frozen type per kind of change, each with the fields it needs and no more.

A plan is a tuple of these; `envdoctor plan` prints them and `envdoctor fix` runs exactly them (one
handler per type in envdoctor/apply/handlers.py, looked up by type). Every decision a step needs is in
its fields, made when the plan was built: where torch comes from, whether the kept `_ext` stub rides in
the locked install, whether the install is the lockfile's pins or a fresh resolve.

`kind` is the step's name in the plan's JSON and in the journal; code tells steps apart by type.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from envdoctor.uv import Indexes


@dataclass(frozen=True)
class Step:
    summary: str
    """One line for the user: what this step changes and why."""

    kind: ClassVar[str] = ""
    long: ClassVar[bool] = False
    """Minutes rather than seconds: fix shows progress while it runs."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "summary": self.summary}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "summary" or value in (None, "", (), False):
                continue
            out[f.name] = _jsonable(f.name, value)
        return out


def _jsonable(name: str, value: Any) -> Any:
    if isinstance(value, Indexes):
        return value.to_dict()
    if name in ("env", "extra_build"):  # pairs read better as a table
        return {k: list(v) if isinstance(v, tuple) else v for k, v in value}
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True)
class Uninstall(Step):
    packages: tuple[str, ...] = ()
    kind: ClassVar[str] = "uninstall"


@dataclass(frozen=True)
class Unstub(Step):
    """Remove the `_ext` stub: real compiled ops replace it."""

    kind: ClassVar[str] = "unstub"


@dataclass(frozen=True)
class InstallTorch(Step):
    """torch and torchvision into a target that has none."""

    requirements: tuple[str, ...] = ()
    indexes: Indexes | None = None
    """Where they come from; None: uv's --torch-backend auto (the PyTorch index for this machine's driver)."""
    source: str = ""
    """The same, in words, for the result line."""
    fallback: str | None = None
    """Said when the PyTorch index could not be reached and torch comes from elsewhere: what that build is."""
    kind: ClassVar[str] = "torch"
    long: ClassVar[bool] = True


@dataclass(frozen=True)
class InstallTorchvision(Step):
    """The torchvision release made for the held torch, from the index that serves that torch."""

    requirement: str = ""
    torch_pin: str = ""
    """torch==<the installed version>: torchvision must not move it."""
    index_url: str = ""
    indexes: Indexes = field(default_factory=Indexes)
    kind: ClassVar[str] = "torchvision"


@dataclass(frozen=True)
class SdistBuild(Step):
    """A wheel compiled from its PyPI sdist into the local wheelhouse (envdoctor/build.py)."""

    requirement: str = ""
    wheelhouse: str = ""
    build_constraints: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    long: ClassVar[bool] = True


@dataclass(frozen=True)
class BuildMmcv(SdistBuild):
    kind: ClassVar[str] = "build-mmcv"


@dataclass(frozen=True)
class BuildWheel(SdistBuild):
    """A dependency PyPI has no wheel of for this target (xtcocotools on Python 3.13)."""

    kind: ClassVar[str] = "build-wheel"


@dataclass(frozen=True)
class Install(Step):
    """A fresh resolve of the requirement set with uv: no committed lockfile is used, and `why` says so."""

    packages: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    build_constraints: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    reinstall: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    only_binary: tuple[str, ...] = ()
    """Packages uv must take from a wheel: never a silent source build."""
    extra_build: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(package, build requirements its sdist does not declare), for uv's extra-build-dependencies."""
    why: str = ""
    """Why this is a resolve and not a lockfile's pins (no lockfile matches, --resolve)."""
    kind: ClassVar[str] = "install"
    long: ClassVar[bool] = True


@dataclass(frozen=True)
class InstallLock(Step):
    """The pins of a lockfile, hashes required, torch and torchvision untouched."""

    lockfile: str = ""
    build_constraints: tuple[str, ...] = ()
    extra_build: tuple[tuple[str, tuple[str, ...]], ...] = ()
    reinstall: tuple[str, ...] = ()
    kept_stub: str | None = None
    """The mmcv-lite version whose kept `_ext` stub goes in with the pins, in the same uv transaction."""
    kind: ClassVar[str] = "install-lock"
    long: ClassVar[bool] = True


@dataclass(frozen=True)
class Stub(Step):
    """The `mmcv._ext` stub in place: the kept one the locked install brought, or one generated now."""

    kept: str | None = None
    """The mmcv-lite version whose kept stub the InstallLock step installs; None: generate from the target."""
    kind: ClassVar[str] = "stub"


@dataclass(frozen=True)
class Dwpose(Step):
    dist: str = ""
    kind: ClassVar[str] = "dwpose"


@dataclass(frozen=True)
class ProvideFfmpeg(Step):
    packages: tuple[str, ...] = ()
    kind: ClassVar[str] = "provide-ffmpeg"


@dataclass(frozen=True)
class Verify(Step):
    """The check after every change: success is a green check, not a finished install."""

    kind: ClassVar[str] = "verify"


Installs = Install | InstallLock
"""The step that installs the requirement set: every strategy's plan has exactly one."""


def installs_of(steps: tuple[Step, ...]) -> Installs | None:
    """The step of `steps` that installs the requirement set."""
    return next((s for s in steps if isinstance(s, Install | InstallLock)), None)
