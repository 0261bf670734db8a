"""The official prebuilt mmcv wheel matrix (envdoctor/data/wheels.toml), and questions about it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

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


def find(mmcv: str, os: str, series: str, accelerator: str, python_tag: str) -> WheelRow | None:
    for r in rows():
        if (
            r.mmcv == mmcv
            and r.os == os
            and r.torch_series == series
            and accelerator in r.accelerators
            and python_tag in r.python
        ):
            return r
    return None


def newest_series(os: str, mmcv: str | None = None) -> tuple[str, str] | None:
    """(torch series, mmcv) of the newest torch any wheel on `os` was built for."""
    cands = [r for r in rows() if r.os == os and (mmcv is None or r.mmcv == mmcv)]
    if not cands:
        return None
    best = max(cands, key=lambda r: (_series_key(r.torch_series), Version(r.mmcv)))
    return best.torch_series, best.mmcv


def for_series(os: str, series: str, mmcv: str | None = None) -> tuple[WheelRow, ...]:
    return tuple(r for r in rows() if r.os == os and r.torch_series == series and (mmcv is None or r.mmcv == mmcv))
