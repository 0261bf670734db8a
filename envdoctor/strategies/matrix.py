"""The prebuilt mmcv wheels envdoctor knows (envdoctor/data/wheels.toml): the official matrix and the sources."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.datafiles import load


@dataclass(frozen=True)
class WheelRow:
    mmcv: str
    os: str
    torch_series: str
    accelerators: tuple[str, ...]
    python: tuple[str, ...]


@cache
def rows() -> tuple[WheelRow, ...]:
    out = []
    for w in load("wheels.toml")["wheel"]:
        for series, cell in w["torch"].items():
            out.append(WheelRow(w["mmcv"], w["os"], series, tuple(cell["accelerators"]), tuple(cell["python"])))
    return tuple(out)


def index_url(accelerator: str, series: str) -> str:
    return str(load("wheels.toml")["index"]["url"]).format(accelerator=accelerator, series=series)


def supported_machines() -> tuple[str, ...]:
    return tuple(load("wheels.toml")["index"]["machine"])


def _series_key(series: str) -> Version:
    return Version(series)


def newest_series(os: str, mmcv: str | None = None) -> tuple[str, str] | None:
    """(torch series, mmcv) of the newest torch any wheel on `os` was built for."""
    cands = [r for r in rows() if r.os == os and (mmcv is None or r.mmcv == mmcv)]
    if not cands:
        return None
    best = max(cands, key=lambda r: (_series_key(r.torch_series), Version(r.mmcv)))
    return best.torch_series, best.mmcv


def for_series(os: str, series: str, mmcv: str | None = None) -> tuple[WheelRow, ...]:
    return tuple(r for r in rows() if r.os == os and r.torch_series == series and (mmcv is None or r.mmcv == mmcv))


@dataclass(frozen=True)
class Source:
    """A place prebuilt mmcv wheels come from, its naming convention and the trust it carries."""

    name: str
    title: str
    url: str
    convention: str
    """folder | label (see wheels.toml)"""
    torch_match: str
    """series | release"""
    third_party: bool
    builder: str
    provenance: str
    torch: SpecifierSet | None = None
    python: SpecifierSet | None = None
    wheels: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    """(<os>-<machine>, platform tag, compute platforms) the source builds."""

    def project_url(self, project: str = "mmcv") -> str:
        """The PEP 503 page of `project` (a flat list of links: uv takes it as --find-links)."""
        return f"{self.url.rstrip('/')}/{project}/"

    def platform_tag(self, os: str, machine: str, platform: str) -> str | None:
        """The platform tag of this source's wheels for the target; None when it builds none there."""
        key = f"{os}-{machine.lower()}"
        for where, tag, platforms in self.wheels:
            if where == key and any(platform == p or (p == "cu" and platform.startswith("cu")) for p in platforms):
                return tag
        return None

    def covers(self, torch: Version, python: str) -> list[str]:
        """Why this source has no wheel for this torch / Python (empty: it builds for them)."""
        problems = []
        if self.torch is not None and not self.torch.contains(Version(torch.base_version)):
            problems.append(f"it builds for torch {self.torch}, not {torch.base_version}")
        if self.python is not None and not self.python.contains(python):
            problems.append(f"it builds for Python {self.python}, not {python}")
        return problems


@cache
def wheel_sources() -> tuple[Source, ...]:
    return tuple(
        Source(
            name=s["name"],
            title=s["title"],
            url=s["url"],
            convention=s["convention"],
            torch_match=s["torch_match"],
            third_party=bool(s["third_party"]),
            builder=s["builder"],
            provenance=s["provenance"],
            torch=SpecifierSet(s["torch"]) if "torch" in s else None,
            python=SpecifierSet(s["python"]) if "python" in s else None,
            wheels=tuple((k, v["tag"], tuple(v["platforms"])) for k, v in (s.get("wheels") or {}).items()),
        )
        for s in load("wheels.toml")["source"]
    )


def source(name: str) -> Source:
    for s in wheel_sources():
        if s.name == name:
            return s
    raise KeyError(name)


def build_estimate(cores: int, cuda_archs: int = 0) -> float:
    """Seconds a local build of mmcv's ops would take on `cores` cores, with CUDA kernels for `cuda_archs`
    GPU architectures (0: CPU ops only), scaled from the measured builds."""
    b = load("wheels.toml")["build"]
    cpu = float(b["mmcv_seconds"])
    per_arch = (float(b["mmcv_cuda_seconds"]) - cpu) / int(b["mmcv_cuda_archs"])
    return (cpu + per_arch * cuda_archs) * int(b["mmcv_cores"]) / max(1, cores)
