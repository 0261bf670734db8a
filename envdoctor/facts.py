"""Facts about a target environment, as the probes report them."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    top_level: tuple[str, ...] = ()
    compiled: bool = False
    compiled_files: tuple[str, ...] = ()
    installer: str | None = None
    location: str | None = None
    requires: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return canonical(self.name)

    @property
    def parsed_version(self) -> Version | None:
        try:
            return Version(self.version)
        except InvalidVersion:
            return None


@dataclass(frozen=True)
class ImportResult:
    module: str
    status: str
    """ok | missing | error | exit | crash | timeout | skipped"""
    seconds: float | None = None
    error_type: str | None = None
    message: str | None = None
    missing_module: str | None = None
    traceback: str | None = None
    files: tuple[str, ...] = ()
    """Source files of the failing traceback, innermost last: they tell which distribution broke."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def symptom(self) -> str:
        """The text the catalog matches: what the user would see."""
        parts = [f"{self.error_type}: {self.message}" if self.error_type else (self.message or "")]
        if self.traceback:
            parts.append(self.traceback)
        return "\n".join(parts)


@dataclass
class Facts:
    python: dict[str, Any] = field(default_factory=dict)
    platform: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    gpu: dict[str, Any] = field(default_factory=dict)
    nvcc: dict[str, Any] = field(default_factory=dict)
    ffmpeg: dict[str, Any] = field(default_factory=dict)
    mmcv: dict[str, Any] = field(default_factory=dict)
    imports: list[ImportResult] = field(default_factory=list)
    torch: dict[str, Any] | None = None
    probe_errors: list[str] = field(default_factory=list)

    # --- lookups --------------------------------------------------------------------------------
    def dist(self, name: str) -> Distribution | None:
        return self.distributions.get(canonical(name))

    def version(self, name: str) -> Version | None:
        d = self.dist(name)
        return d.parsed_version if d else None

    def providers(self, module: str) -> list[Distribution]:
        """Distributions that install the top-level module `module` (PEP 503 names)."""
        top = module.split(".")[0]
        return [d for d in self.distributions.values() if top in d.top_level]

    def import_result(self, module: str) -> ImportResult | None:
        for r in self.imports:
            if r.module == module:
                return r
        return None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["distributions"] = {k: asdict(v) for k, v in sorted(self.distributions.items())}
        return d


def distributions_from_probe(rows: list[dict[str, Any]]) -> dict[str, Distribution]:
    out: dict[str, Distribution] = {}
    for row in rows:
        dist = Distribution(
            name=row["name"],
            version=row["version"],
            top_level=tuple(row.get("top_level") or ()),
            compiled=bool(row.get("compiled")),
            compiled_files=tuple(row.get("compiled_files") or ()),
            installer=row.get("installer"),
            location=row.get("location"),
            requires=tuple(row.get("requires") or ()),
        )
        out[dist.key] = dist
    return out
