"""Where each installed distribution's wheel is, and its sha256.

A distribution installed from a wheel records that wheel's tags (dist-info/WHEEL); with its name and
version they select exactly one file of an index or a folder. The sources, in order: wheels envdoctor
built (its cache wheelhouse), the folders and local indexes given or named in pip's configuration, then
the remote indexes (PyPI's JSON simple API, which lists each file's sha256). A wheel in a folder is
hashed here; an index's sha256 is taken as the index states it, and `bundle` checks it on download.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from packaging.tags import parse_tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from envdoctor import pipconfig
from envdoctor.cachedir import cache_root
from envdoctor.deploy.inventory import Installed

PYPI = "https://pypi.org/simple/"


@dataclass(frozen=True)
class WheelSource:
    """The wheel a distribution came from."""

    filename: str
    url: str
    """file:// for a local wheel, else the index's URL for it."""
    sha256: str
    index: str
    """The index or folder it was found in (the lock names it: torch's index matters)."""
    built_by_envdoctor: bool = False


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tags_of(filename: str) -> tuple[str, str, frozenset[str]] | None:
    try:
        name, version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return str(name), str(version), frozenset(str(t) for t in tags)


def matches(dist: Installed, filename: str) -> bool:
    parsed = _tags_of(filename)
    if parsed is None:
        return False
    name, version, tags = parsed
    return name == dist.name and version == dist.version and (not dist.tags or tags == expanded(dist.tags))


def expanded(tag_lines: tuple[str, ...]) -> frozenset[str]:
    """The tags of WHEEL's Tag lines, a compressed line (py2.py3-none-any) spelled out."""
    return frozenset(str(t) for line in tag_lines for t in parse_tag(line))


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def _local_path(url: str) -> Path | None:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(url) if not parsed.scheme else None


@dataclass(frozen=True)
class Sources:
    folders: tuple[Path, ...] = ()
    built: tuple[Path, ...] = ()
    """Folders of wheels envdoctor built (the cache wheelhouse)."""
    indexes: tuple[str, ...] = (PYPI,)
    network: bool = True

    def find(self, dist: Installed) -> WheelSource | None:
        direct = dist.local_wheel
        if direct:
            path = _local_path(direct)
            if path is not None and path.is_file():
                # A wheel installed by path from envdoctor's wheelhouse (the stub) is one envdoctor built:
                # the lock carries it in its own wheels/, since no index has it.
                built = any(path.resolve().is_relative_to(b.resolve()) for b in self.built)
                return WheelSource(path.name, path.as_uri(), sha256_file(path), str(path.parent), built)
        for folder, built in [(f, True) for f in self.built] + [(f, False) for f in self.folders]:
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*.whl")):
                if matches(dist, path.name):
                    return WheelSource(path.name, path.as_uri(), sha256_file(path), str(folder), built)
        for index in self.indexes:
            found = self._from_index(index, dist)
            if found is not None:
                return found
        return None

    def _from_index(self, index: str, dist: Installed) -> WheelSource | None:
        base = index.rstrip("/") + "/"
        folder = _local_path(base)
        if folder is not None:
            page = folder / dist.name / "index.html"
            if not page.is_file():
                return None
            return _pick(page.read_text(errors="replace"), page.as_uri(), dist, index)
        if not self.network:
            return None
        request = urllib.request.Request(
            urljoin(base, f"{dist.name}/"), headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                files = json.load(resp).get("files", [])
        except (OSError, ValueError):
            return None
        for f in files:
            sha = (f.get("hashes") or {}).get("sha256")
            if sha and matches(dist, str(f.get("filename", ""))):
                return WheelSource(str(f["filename"]), str(f["url"]), str(sha), index)
        return None


def _pick(html: str, page_url: str, dist: Installed, index: str) -> WheelSource | None:
    links = _Links()
    links.feed(html)
    for href in links.hrefs:
        url, _, frag = href.partition("#")
        filename = unquote(url.rsplit("/", 1)[-1])
        if not matches(dist, filename):
            continue
        m = re.match(r"sha256=([0-9a-f]{64})$", frag)
        full = urljoin(page_url, url)
        path = _local_path(full)
        if m:
            return WheelSource(filename, full, m.group(1), index)
        if path is not None and path.is_file():
            return WheelSource(filename, full, sha256_file(path), index)
    return None


def default_sources(extra_folders: Sequence[Path] = (), *, network: bool = True) -> Sources:
    """envdoctor's cache wheelhouse, the given folders, pip's configured folders and indexes, then PyPI."""
    pip = pipconfig.read()
    folders = [*extra_folders]
    folders += [p for p in (_local_path(u) for u in pip.find_links) if p is not None]
    indexes = [*pip.index_urls]
    if not pip.index_url:
        indexes.append(PYPI)
    return Sources(
        folders=tuple(folders),
        built=(cache_root() / "wheelhouse",),
        indexes=tuple(dict.fromkeys(indexes)),
        network=network,
    )


def canonical(name: str) -> str:
    return str(canonicalize_name(name))
