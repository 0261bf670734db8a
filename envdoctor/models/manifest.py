"""The manifest of every file MuseTalk loads, read from envdoctor/data/models.toml (or a test's own file)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from envdoctor.datafiles import load
from envdoctor.errors import EnvdoctorError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MODELS, TORCH_HOME = "models", "torch_home"
VERSIONS = ("v15", "v1")
# The facts an entry must either give or list under `unknown`: a missing one is never a silent gap.
FACTS = ("size", "sha256")


class ManifestError(EnvdoctorError):
    code = "models-manifest-invalid"


@dataclass(frozen=True)
class HubSource:
    """A file in a HuggingFace repository at a pinned revision."""

    repo: str
    revision: str
    filename: str

    def describe(self) -> str:
        return f"{self.repo}@{self.revision[:12]}/{self.filename}"


@dataclass(frozen=True)
class UrlSource:
    """A file at a plain URL (torch's model zoo, face_alignment's server)."""

    url: str

    def describe(self) -> str:
        return self.url


Source = HubSource | UrlSource


@dataclass(frozen=True)
class Alternative:
    """A file the loader takes instead of the entry's own (a .safetensors beside a .bin)."""

    path: str
    size: int | None
    sha256: str | None
    source: Source | None


@dataclass(frozen=True)
class ModelFile:
    path: str
    root: str
    why: str
    needed_for: tuple[str, ...]
    sources: tuple[Source, ...]
    size: int | None = None
    min_size: int | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None
    zip: bool = False
    alternatives: tuple[Alternative, ...] = ()
    unknown: tuple[str, ...] = ()
    """The facts the manifest says were not gathered (`size`, `sha256`): judged without them, and said so."""

    @property
    def hash_known(self) -> bool:
        """Whether a file can be verified by hash: only the full sha256 proves the bytes."""
        return self.sha256 is not None

    @property
    def title(self) -> str:
        return f"{self.root}/{self.path}" if self.root == MODELS else f"$TORCH_HOME/{self.path}"

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def bytes_needed(self) -> int:
        """The bytes this file takes on disk: its size, else its floor (what a free-space check can count on)."""
        return self.size or self.min_size or 0


@dataclass(frozen=True)
class Manifest:
    files: tuple[ModelFile, ...]
    purposes: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def entry_points(self, purpose: str, version: str) -> tuple[str, ...]:
        return self.purposes[purpose][version]

    def select(self, entry_points: Sequence[str]) -> tuple[ModelFile, ...]:
        wanted = set(entry_points)
        return tuple(f for f in self.files if wanted & set(f.needed_for))

    def for_purpose(self, purpose: str, version: str = "v15") -> tuple[ModelFile, ...]:
        return self.select(self.entry_points(purpose, version))

    def by_sha256(self) -> dict[str, ModelFile]:
        """Every known hash, the alternatives' too, to the entry it belongs to (names a file put in the wrong place)."""
        known: dict[str, ModelFile] = {}
        for f in self.files:
            if f.sha256:
                known.setdefault(f.sha256, f)
            for alt in f.alternatives:
                if alt.sha256:
                    known.setdefault(alt.sha256, f)
        return known

    def roots(self) -> frozenset[str]:
        return frozenset(f.root for f in self.files)


def _source(raw: Mapping[str, Any]) -> Source:
    if "url" in raw:
        return UrlSource(str(raw["url"]))
    return HubSource(str(raw["repo"]), str(raw["revision"]), str(raw["filename"]))


def _unknown(raw: Mapping[str, Any]) -> tuple[str, ...]:
    path = raw.get("path", "?")
    unknown = tuple(str(u) for u in raw.get("unknown", ()))
    for fact in unknown:
        if fact not in FACTS:
            raise ManifestError(f"models manifest: {path} lists {fact!r} as unknown; the facts are {', '.join(FACTS)}.")
        if fact in raw:
            raise ManifestError(f"models manifest: {path} gives its {fact} and also lists it as unknown.")
    for fact in FACTS:
        if fact not in raw and fact not in unknown:
            raise ManifestError(
                f"models manifest: {path} has no {fact}; give it, or list it under `unknown` when it was not gathered."
            )
    return unknown


def _file(raw: Mapping[str, Any]) -> ModelFile:
    unknown = _unknown(raw)
    sources = tuple(_source(s) for s in raw.get("source", ()))
    hub = next((s for s in sources if isinstance(s, HubSource)), None)
    alternatives = tuple(
        Alternative(
            path=str(a["path"]),
            size=a.get("size"),
            sha256=a.get("sha256"),
            source=HubSource(hub.repo, hub.revision, str(a["filename"])) if hub and "filename" in a else None,
        )
        for a in raw.get("alternative", ())
    )
    return ModelFile(
        path=str(raw["path"]),
        root=str(raw.get("root", MODELS)),
        why=str(raw["why"]),
        needed_for=tuple(raw.get("needed_for", ())),
        sources=sources,
        size=raw.get("size"),
        min_size=raw.get("min_size"),
        sha256=raw.get("sha256"),
        sha256_prefix=raw.get("sha256_prefix"),
        zip=bool(raw.get("zip", False)),
        alternatives=alternatives,
        unknown=unknown,
    )


def parse(data: Mapping[str, Any]) -> Manifest:
    purposes = {p: {v: tuple(eps) for v, eps in versions.items()} for p, versions in data.get("purposes", {}).items()}
    return Manifest(files=tuple(_file(f) for f in data.get("file", ())), purposes=purposes)


@cache
def builtin() -> Manifest:
    return parse(load("models.toml"))


def from_file(path: Path) -> Manifest:
    with open(path, "rb") as fh:
        return parse(tomllib.load(fh))


def active() -> Manifest:
    """The built-in manifest, or the one $ENVDOCTOR_MODELS_MANIFEST names (a test's stand-in repositories, or a
    site that mirrors the weights under other names)."""
    override = os.environ.get("ENVDOCTOR_MODELS_MANIFEST")
    return from_file(Path(override)) if override else builtin()


def torch_home(environ: Mapping[str, str] | None = None) -> Path:
    """Where torch hub keeps its cache, as torch.hub.get_dir() finds it (without importing torch)."""
    env = os.environ if environ is None else environ
    if env.get("TORCH_HOME"):
        return Path(env["TORCH_HOME"])
    xdg = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "torch"


@dataclass(frozen=True)
class Roots:
    """Where each root of the manifest lies on this machine."""

    models: Path
    torch_home: Path

    def base(self, root: str) -> Path:
        return self.torch_home if root == TORCH_HOME else self.models

    def path(self, f: ModelFile) -> Path:
        return self.base(f.root) / f.path
