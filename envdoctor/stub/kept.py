"""The stubs kept under stubs/, and the mmcv sdists from PyPI they are generated from.

`envdoctor-maint stubs` rewrites them; the tests regenerate them and fail on drift. The sdists
are downloaded once into a cache folder and checked against the hashes in envdoctor/data/stub.toml.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from envdoctor import __version__, pypi
from envdoctor.cachedir import cache_root
from envdoctor.datafiles import load, mmcv_ext_symbols
from envdoctor.digest import sha256_file
from envdoctor.resources import stubs_dir
from envdoctor.stub.generate import GeneratedStub, generate, parse_header
from envdoctor.stub.sources import SourceError


@dataclass(frozen=True)
class KeptStub:
    version: str
    sdist: str
    sha256: str

    @property
    def path(self) -> Path:
        return stubs_dir() / f"mmcv-{self.version}" / "_ext.py"


@dataclass(frozen=True)
class Drift:
    kept: KeptStub
    state: str
    """same | changed | missing"""


def kept_stubs() -> tuple[KeptStub, ...]:
    table = load("stub.toml")["kept"]
    return tuple(KeptStub(v, e["sdist"], e["sha256"]) for v, e in sorted(table.items()))


def default_cache() -> Path:
    return Path(os.environ.get("ENVDOCTOR_MMCV_SOURCES") or cache_root() / "mmcv-sources")


def fetch_sdist(version: str, cache: Path | None = None, expected_sha256: str | None = None) -> Path:
    """The PyPI sdist of mmcv `version`, downloaded once into `cache` (PyPI's simple JSON API)."""
    cache = cache or default_cache()
    name = f"mmcv-{version}.tar.gz"
    path = cache / name
    if path.is_file() and (expected_sha256 is None or sha256_file(path) == expected_sha256):
        return path
    try:
        return pypi.download_sdist("mmcv", version, cache, expected_sha256)
    except pypi.SdistError as exc:
        raise SourceError(str(exc)) from exc


def regenerate(kept: KeptStub, cache: Path | None = None) -> GeneratedStub:
    return generate(fetch_sdist(kept.version, cache, kept.sha256))


def check(cache: Path | None = None, *, write: bool = False) -> list[Drift]:
    """Compare (or with write=True, rewrite) every kept stub against a fresh generation."""
    out: list[Drift] = []
    for kept in kept_stubs():
        stub = regenerate(kept, cache)
        current = kept.path.read_text(encoding="utf-8") if kept.path.is_file() else None
        state = "missing" if current is None else "same" if current == stub.text else "changed"
        if write and state != "same":
            kept.path.parent.mkdir(parents=True, exist_ok=True)
            kept.path.write_text(stub.text, encoding="utf-8")
        out.append(Drift(kept, state))
    return out


def load_kept(version: str) -> GeneratedStub | None:
    """The kept stub of mmcv `version` as a GeneratedStub, when it is current.

    Current means written by this envdoctor (the drift test guarantees it equals a fresh generation
    from mmcv's sources, and the sdist, the mmcv-lite wheel and the installed package give the same
    text). None otherwise: the caller then generates from the target's own mmcv.
    """
    kept = next((k for k in kept_stubs() if k.version == version), None)
    if kept is None or not kept.path.is_file():
        return None
    text = kept.path.read_text(encoding="utf-8")
    header = parse_header(text)
    real = tuple(sorted(filter(None, header.get("real_ops", "").split(","))))
    names = mmcv_ext_symbols()
    if (
        header.get("envdoctor") != __version__
        or header.get("mmcv") != version
        or header.get("ops") != str(len(names))
        or not header.get("sources", "").startswith("sha256:")
        or not set(real) <= names
    ):
        return None
    return GeneratedStub(
        mmcv_version=version,
        sources_sha256=header["sources"].removeprefix("sha256:"),
        origin=f"kept stub {kept.path.name} of mmcv {version}",
        text=text,
        real=real,
        raising=tuple(sorted(names - set(real))),
    )
