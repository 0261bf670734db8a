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
class Damaged:
    """An installed distribution whose metadata could not be read: it counts as neither present nor absent."""

    name: str
    file: str
    """The metadata file at fault: METADATA, RECORD, ..."""
    problem: str
    path: str = ""
    """Its .dist-info (or .egg-info) folder."""

    def describe(self) -> str:
        where = f"{self.path}/{self.file}" if self.path else self.file
        return f"{self.name}: {where} {self.problem}"


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
    damaged: tuple[Damaged, ...] = ()
    """Distributions that are installed but could not be read (named, with the file at fault)."""

    # --- lookups --------------------------------------------------------------------------------
    def dist(self, name: str) -> Distribution | None:
        return self.distributions.get(canonical(name))

    def version(self, name: str) -> Version | None:
        d = self.dist(name)
        return d.parsed_version if d else None

    def damaged_dist(self, name: str) -> Damaged | None:
        return next((d for d in self.damaged if canonical(d.name) == canonical(name)), None)

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


# What each probe section may hold. The probes run in the target, so their JSON is checked against
# these shapes at the boundary: a value of the wrong type is left out (and said), and nothing past
# this point meets a list where it expects a dict. A dict shape lists the keys it keeps; a list
# shape holds the shape of its items; a tuple lists the types allowed; STRINGS is a str -> str map.
STRINGS = "str->str"
_OPT = (str, type(None))
SHAPES: dict[str, Any] = {
    "python": {"version": str, "implementation": str, "executable": str, "prefix": str, "base_prefix": str,
               "is_venv": bool, "soabi": _OPT, "ext_suffix": _OPT, "abiflags": str, "cp_tag": str,
               "platform_tag": str, "externally_managed": bool, "site_packages": [str], "maxsize_64bit": bool},
    "platform": {"system": str, "machine": str, "release": str, "libc": _OPT, "glibc": _OPT, "mac_ver": _OPT},
    "gpu": {"driver_version": _OPT, "driver_source": _OPT,
            "gpus": [{"name": str, "compute_capability": str, "source": str}]},
    "nvcc": {"path": _OPT, "version": _OPT},
    "ffmpeg": {"path": _OPT, "source": _OPT, "real_path": _OPT, "version": _OPT, "libx264": bool, "aac": bool},
    "mmcv": {"package_dir": _OPT, "version": _OPT,
             "ext": {"state": str, "files": [str], "matches_interpreter": bool, "leftover_stub": bool,
                     "stub": STRINGS}},
    "torch": {"version": _OPT, "cuda": _OPT, "hip": _OPT, "cudnn": (int, type(None)), "cuda_available": bool,
              "arch_list": [str], "devices": [{"name": str, "capability": str}], "cxx11_abi": bool},
}
_ITEM = object()


def conform(value: Any, shape: Any, *, item: bool = False) -> Any:
    """`value` reduced to `shape`, or _ITEM's sentinel when it does not fit at all. In a list, an item
    dict must have every key of its shape; a section dict keeps the keys that fit."""
    if shape is STRINGS:
        if not isinstance(value, dict):
            return _ITEM
        return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return _ITEM
        out = {}
        for key, sub in shape.items():
            if key in value:
                kept = conform(value[key], sub)
                if kept is not _ITEM:
                    out[key] = kept
                elif item:
                    return _ITEM
            elif item:
                return _ITEM
        return out
    if isinstance(shape, list):
        if not isinstance(value, list):
            return _ITEM
        kept = [conform(v, shape[0], item=True) for v in value]
        return [v for v in kept if v is not _ITEM]
    types = shape if isinstance(shape, tuple) else (shape,)
    if isinstance(value, bool) and bool not in types:
        return _ITEM
    return value if isinstance(value, types) else _ITEM


def conform_section(name: str, value: Any, problems: list[str]) -> dict[str, Any]:
    """A probe section in its shape; every part left out is said in `problems`."""
    if value is None:
        return {}
    kept = conform(value, SHAPES[name])
    if kept is _ITEM:
        problems.append(f"{name}: the probe sent a {type(value).__name__}, not an object")
        return {}
    if isinstance(value, dict):
        dropped = sorted(str(k)[:40] for k in value if k in SHAPES[name] and k not in kept)
        if dropped:
            problems.append(f"{name}: left out {', '.join(dropped)} (not of the expected type)")
    return kept


def _text(value: Any, limit: int = 400) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def read_distributions(rows: Any) -> tuple[dict[str, Distribution], tuple[Damaged, ...]]:
    """The probe's distribution rows: the readable ones by key, and the damaged ones.

    The rows come from the target, so nothing about them is trusted: a row without a name or with
    a version that is not PEP 440 is damaged, never an exception.
    """
    out: dict[str, Distribution] = {}
    damaged: list[Damaged] = []
    for row in rows if isinstance(rows, list) else ():
        if not isinstance(row, dict):
            continue
        name, path = _text(row.get("name")), _text(row.get("path"), 1000)
        if row.get("damaged") or not name:
            damaged.append(Damaged(name=name or "?", file=_text(row.get("file")) or "METADATA",
                                   problem=_text(row.get("problem")) or "unreadable", path=path))
            continue
        version = _text(row.get("version"))
        try:
            Version(version)
        except InvalidVersion:
            damaged.append(Damaged(name=name, file="METADATA", path=path,
                                   problem=f"has the version {version[:60]!r}, which is not PEP 440"))
            continue
        location = row.get("location")
        installer = row.get("installer")
        dist = Distribution(
            name=name,
            version=version,
            top_level=_strings(row.get("top_level")),
            compiled=bool(row.get("compiled")),
            compiled_files=_strings(row.get("compiled_files")),
            installer=installer if isinstance(installer, str) else None,
            location=location if isinstance(location, str) else None,
            requires=_strings(row.get("requires")),
        )
        out.setdefault(dist.key, dist)
    return out, tuple(damaged)


def distributions_from_probe(rows: list[dict[str, Any]]) -> dict[str, Distribution]:
    """The readable distributions only (see read_distributions for the damaged ones)."""
    return read_distributions(rows)[0]
