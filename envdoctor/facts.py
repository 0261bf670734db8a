"""Facts about a target environment, as the probes report them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from types import UnionType
from typing import Any, TypeVar, cast, get_args, get_origin, get_type_hints

from packaging.version import InvalidVersion, Version

from envdoctor.tools.ffmpeg import missing_encoders

STUB_DIST = "mmcv-ext-stub"
"""envdoctor's `_ext` stub (envdoctor.stub): it adds mmcv/_ext.py to an mmcv another distribution installs."""


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


# --- the probe's sections, typed ------------------------------------------------------------------
# One rule for what the probes did not say: a missing scalar is None, a missing list is (), a missing
# section is its class with every field missing (Python(), Gpu(), ...), and torch is None when it was
# not imported. A value of the wrong type counts as missing and is named in Facts.probe_errors. The
# classes below are the only description of the probes' JSON: read_section() walks their fields.


@dataclass(frozen=True)
class Python:
    version: str | None = None
    implementation: str | None = None
    executable: str | None = None
    prefix: str | None = None
    base_prefix: str | None = None
    is_venv: bool | None = None
    soabi: str | None = None
    ext_suffix: str | None = None
    abiflags: str | None = None
    cp_tag: str | None = None
    platform_tag: str | None = None
    externally_managed: bool | None = None
    site_packages: tuple[str, ...] = ()
    maxsize_64bit: bool | None = None

    @property
    def series(self) -> str | None:
        """3.11 for 3.11.7."""
        return ".".join(self.version.split(".")[:2]) if self.version else None


@dataclass(frozen=True)
class HostPlatform:
    system: str | None = None
    machine: str | None = None
    release: str | None = None
    libc: str | None = None
    glibc: str | None = None
    mac_ver: str | None = None


@dataclass(frozen=True)
class GpuDevice:
    """One GPU as the driver (nvidia-smi, ENVDOCTOR_GPUS) or torch lists it; an item missing a field is left out."""

    name: str
    compute_capability: str
    source: str


@dataclass(frozen=True)
class Gpu:
    driver_version: str | None = None
    driver_source: str | None = None
    gpus: tuple[GpuDevice, ...] = ()


@dataclass(frozen=True)
class Nvcc:
    path: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Ffmpeg:
    """The ffmpeg MuseTalk runs by name: the environment's bin first, then PATH."""

    path: str | None = None
    source: str | None = None
    """environment | PATH"""
    real_path: str | None = None
    version: str | None = None
    libx264: bool | None = None
    aac: bool | None = None

    @property
    def missing(self) -> tuple[str, ...]:
        """The encoders MuseTalk needs that this ffmpeg lacks (envdoctor.tools.ffmpeg owns the rule)."""
        return missing_encoders(libx264=self.libx264, aac=self.aac)

    @property
    def usable(self) -> bool:
        """MuseTalk can write its mp4 with it: there is one, and it has every encoder MuseTalk needs."""
        return bool(self.path) and not self.missing


@dataclass(frozen=True)
class MmcvExt:
    """What stands in mmcv's package folder for its compiled ops."""

    state: str | None = None
    """no-mmcv | missing | compiled | stub | handwritten; None when the probe could not tell."""
    files: tuple[str, ...] = ()
    matches_interpreter: bool | None = None
    """compiled only: one of the files loads on this interpreter (its EXT_SUFFIX or abi3)."""
    leftover_stub: bool | None = None
    """compiled only: an _ext.py sits beside the compiled files."""
    stub: Mapping[str, str] | None = None
    """stub and handwritten: the envdoctor-stub header's pairs (empty for a hand-written file)."""


@dataclass(frozen=True)
class Mmcv:
    package_dir: str | None = None
    version: str | None = None
    """What mmcv/version.py says (not the distribution's metadata)."""
    ext: MmcvExt = MmcvExt()


@dataclass(frozen=True)
class TorchDevice:
    name: str
    capability: str


@dataclass(frozen=True)
class Torch:
    """What the imported torch says about itself (the imports probe asks it once torch is imported)."""

    version: str | None = None
    cuda: str | None = None
    hip: str | None = None
    cudnn: int | None = None
    cuda_available: bool | None = None
    arch_list: tuple[str, ...] = ()
    devices: tuple[TorchDevice, ...] = ()
    cxx11_abi: bool | None = None


SECTIONS: dict[str, type[Any]] = {
    "python": Python, "platform": HostPlatform, "gpu": Gpu, "nvcc": Nvcc, "ffmpeg": Ffmpeg, "mmcv": Mmcv,
    "torch": Torch,
}  # fmt: skip
"""The probes' sections and the class each is read into."""


@dataclass(frozen=True)
class Facts:
    """Everything the probes found about one target, read once (envdoctor.probe.facts_from_raw); checks,
    strategies, plan, stub and explain all read these, never the probes' JSON."""

    python: Python = Python()
    platform: HostPlatform = HostPlatform()
    distributions: Mapping[str, Distribution] = field(default_factory=dict)
    gpu: Gpu = Gpu()
    nvcc: Nvcc = Nvcc()
    ffmpeg: Ffmpeg = Ffmpeg()
    mmcv: Mmcv = Mmcv()
    imports: tuple[ImportResult, ...] = ()
    torch: Torch | None = None
    """None: torch was not imported (or said nothing readable about itself)."""
    probe_errors: tuple[str, ...] = ()
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

    def mmcv_providers(self) -> list[Distribution]:
        """Distributions that install the mmcv package itself (mmcv, mmcv-lite, ...), not envdoctor's stub."""
        return [d for d in self.providers("mmcv") if d.key != STUB_DIST]

    def import_result(self, module: str) -> ImportResult | None:
        for r in self.imports:
            if r.module == module:
                return r
        return None

    @property
    def visible_gpus(self) -> tuple[GpuDevice, ...]:
        """The GPUs the driver lists; without them, the devices torch sees (source "torch")."""
        if self.gpu.gpus or self.torch is None:
            return self.gpu.gpus
        return tuple(GpuDevice(d.name, d.capability, "torch") for d in self.torch.devices)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        d["distributions"] = {k: _plain(v) for k, v in sorted(self.distributions.items())}
        return d


def _plain(value: Any) -> Any:
    """A dataclass, tuple or mapping as JSON's dicts and lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


# --- reading a section from the probe's JSON --------------------------------------------------------

_MISSING = object()
S = TypeVar("S")


def _fits_scalar(value: Any, kind: type[Any]) -> bool:
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, kind)


def _read_value(hint: Any, value: Any, where: str, dropped: list[str]) -> Any:
    """`value` as `hint` says, or _MISSING when it does not fit (items of a list that do not fit are
    left out one by one, and counted in `dropped`)."""
    args = get_args(hint)
    if isinstance(hint, UnionType):
        if value is None and type(None) in args:
            return None
        inner = next(a for a in args if a is not type(None))
        return _read_value(inner, value, where, dropped)
    origin = get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list):
            return _MISSING
        items = [_read_value(args[0], v, where, []) for v in value]
        kept = tuple(v for v in items if v is not _MISSING)
        if len(kept) != len(items):
            dropped.append(f"{len(items) - len(kept)} of {len(items)} items of {where}")
        return kept
    if origin is Mapping:
        if not isinstance(value, dict):
            return _MISSING
        return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
    if isinstance(hint, type) and is_dataclass(hint):
        return _read_object(hint, value, where, dropped)
    return value if _fits_scalar(value, hint) else _MISSING


def _read_object(cls: type[Any], value: Any, where: str, dropped: list[str]) -> Any:
    """An instance of `cls` from a JSON object. A field without a default (an item of a list) must be
    there and fit, else the whole object is _MISSING; a field with one falls back to it, said in `dropped`."""
    if not isinstance(value, dict):
        return _MISSING
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        required = f.default is MISSING and f.default_factory is MISSING
        path = f"{where}.{f.name}" if where else f.name
        if f.name not in value:
            if required:
                return _MISSING
            continue
        got = _read_value(hints[f.name], value[f.name], path, [] if required else dropped)
        if got is _MISSING:
            if required:
                return _MISSING
            dropped.append(path)
            continue
        kwargs[f.name] = got
    return cls(**kwargs)


def _read_top(name: str, cls: type[S], value: Any, problems: list[str]) -> S | None:
    if value is None:
        return None
    dropped: list[str] = []
    got = _read_object(cls, value, "", dropped)
    if got is _MISSING:
        problems.append(f"{name}: the probe sent a {type(value).__name__}, not an object")
        return None
    if dropped:
        problems.append(f"{name}: left out {', '.join(dropped)} (not of the expected type)")
    return cast(S, got)  # _read_object built it from cls


def read_section(name: str, cls: type[S], value: Any, problems: list[str]) -> S:
    """The probe's section `name` read into `cls`; every part left out is said in `problems`. A section
    that is absent, or is no object, is cls() (every field missing)."""
    got = _read_top(name, cls, value, problems)
    return cls() if got is None else got


def read_torch(value: Any, problems: list[str]) -> Torch | None:
    """What the imported torch said about itself; None when torch was not imported (or said no object)."""
    return _read_top("torch", Torch, value, problems)


def shape(cls: type[Any]) -> dict[str, Any]:
    """The keys a section's JSON may hold, nested as its objects and lists nest (for tests that walk
    a probe's real output for keys no class reads)."""
    out: dict[str, Any] = {}
    for name, hint in get_type_hints(cls).items():
        inner = next((a for a in get_args(hint) if a is not type(None)), hint) if isinstance(hint, UnionType) else hint
        if get_origin(inner) is tuple:
            item = get_args(inner)[0]
            out[name] = [shape(item) if isinstance(item, type) and is_dataclass(item) else item]
        elif isinstance(inner, type) and is_dataclass(inner):
            out[name] = shape(inner)
        else:
            out[name] = inner
    return out


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
            damaged.append(
                Damaged(
                    name=name or "?",
                    file=_text(row.get("file")) or "METADATA",
                    problem=_text(row.get("problem")) or "unreadable",
                    path=path,
                )
            )
            continue
        version = _text(row.get("version"))
        try:
            Version(version)
        except InvalidVersion:
            damaged.append(
                Damaged(
                    name=name,
                    file="METADATA",
                    path=path,
                    problem=f"has the version {version[:60]!r}, which is not PEP 440",
                )
            )
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
