"""A wheelhouse: a folder of wheels, its static PEP 503 index, and the listings `plan` reads.

`index(folder)` writes `simple/index.html` and `simple/<project>/index.html` next to the wheels, each
link with its `#sha256=` fragment, so anything that serves files (a bucket, static pages,
`python -m http.server`) serves the index, and uv verifies every wheel it takes from it.
"""

from __future__ import annotations

import html
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from envdoctor.cuda.fatbin import DeviceCode
from envdoctor.digest import sha256_file
from envdoctor.wheelfile import build_record
from envdoctor.wheellabel import parse_label
from envdoctor.wheelmatch import Candidate, candidate

SIMPLE = "simple"


@dataclass(frozen=True)
class IndexResult:
    root: Path
    """The folder whose `index.html` lists the projects: serve the wheelhouse, point uv at this."""
    projects: tuple[tuple[str, int], ...]
    """(project, number of wheels)."""


def wheels_in(folder: Path) -> list[Path]:
    """Every wheel under `folder`, at any depth, in a stable order."""
    return sorted(p for p in folder.rglob("*.whl") if p.is_file()) if folder.is_dir() else []


@dataclass(frozen=True)
class ListedWheel:
    """One wheel of a wheelhouse, with the torch its version label names (`envdoctor wheelhouse list`)."""

    file: str
    """Relative to the wheelhouse folder."""
    name: str
    version: str
    torch: str | None
    platform: str | None
    tags: tuple[str, ...]
    device: DeviceCode | None = None
    """The GPU architectures its `_ext` holds, from the build record of a CUDA wheel envdoctor built."""


def listing(folder: Path) -> list[ListedWheel]:
    """Every wheel under `folder` whose file name parses, in the order of wheels_in()."""
    rows = []
    for whl in wheels_in(folder):
        try:
            name, version, _b, tags = parse_wheel_filename(whl.name)
        except InvalidWheelFilename:
            continue
        lab = parse_label(version.local)
        rows.append(
            ListedWheel(
                file=str(whl.relative_to(folder)),
                name=str(name),
                version=str(version),
                torch=str(lab.torch) if lab else None,
                platform=lab.platform if lab else None,
                tags=tuple(sorted(str(t) for t in tags)),
                device=device_code(whl),
            )
        )
    return rows


def local_candidates(folders: tuple[Path, ...]) -> list[Candidate]:
    out = []
    for folder in folders:
        for whl in wheels_in(folder):
            cand = candidate(whl.name, str(whl))
            if cand is not None:
                out.append(replace(cand, device=device_code(whl)))
    return out


def device_code(wheel: Path) -> DeviceCode | None:
    """What a CUDA wheel envdoctor built says its `_ext` holds (read from the binary when it was built)."""
    record = build_record(wheel)
    if record is None:
        return None
    sass, ptx = record.get("sass"), record.get("ptx", [])
    if not isinstance(sass, list) or not isinstance(ptx, list):
        return None
    return DeviceCode(frozenset(int(s) for s in sass), frozenset(int(p) for p in ptx))


def _page(title: str, links: list[tuple[str, str]]) -> str:
    body = "".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a><br>\n' for href, text in links)
    return (
        '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>{html.escape(title)}</title></head><body>\n{body}</body></html>\n"
    )


def index(folder: Path) -> IndexResult:
    """Write the PEP 503 index of every wheel under `folder` into `folder/simple/`."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    root = folder / SIMPLE
    projects: dict[str, list[Path]] = defaultdict(list)
    for whl in wheels_in(folder):
        try:
            name = canonicalize_name(parse_wheel_filename(whl.name)[0])
        except InvalidWheelFilename:
            continue
        projects[name].append(whl)
    for project, wheels in projects.items():
        page = root / project
        page.mkdir(parents=True, exist_ok=True)
        links = []
        for whl in wheels:
            # Relative links: the index works wherever the folder is served from.
            rel = Path("..", "..", whl.relative_to(folder)).as_posix()
            links.append((f"{urllib.parse.quote(rel)}#sha256={sha256_file(whl)}", whl.name))
        (page / "index.html").write_text(_page(f"Links for {project}", links), encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    names = sorted(projects)
    (root / "index.html").write_text(_page("Simple index", [(f"{n}/", n) for n in names]), encoding="utf-8")
    return IndexResult(root, tuple((n, len(projects[n])) for n in names))


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def project_page(index_url: str, project: str = "mmcv") -> str:
    """The PEP 503 page of `project` under an index URL (`.../simple/` -> `.../simple/mmcv/`)."""
    return f"{index_url.rstrip('/')}/{canonicalize_name(project)}/"


def remote_candidates(page_url: str, timeout: float = 20.0) -> list[Candidate]:
    """The mmcv wheels a PEP 503 project page links to. Raises OSError when the page cannot be read."""
    request = urllib.request.Request(page_url, headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        text = resp.read().decode("utf-8", "replace")
    parser = _Links()
    parser.feed(text)
    out = []
    for href in parser.hrefs:
        url = urllib.parse.urljoin(page_url, href)
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        cand = candidate(filename, url.split("#", 1)[0])
        if cand is not None:
            out.append(cand)
    return out
