"""Fetch MuseTalk's weights: each file from its pinned source (huggingface_hub is the downloader, running in
envdoctor's own environment), or from a folder of files already downloaded; checked by sha256, then renamed
into place, so a target path only ever holds a complete, verified file.

Partial downloads wait in a hidden folder beside their target root (.envdoctor-partial/) where huggingface_hub
resumes them; a file whose bytes do not match the manifest is deleted there and never placed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from envdoctor.digest import sha256_file
from envdoctor.errors import EnvdoctorError
from envdoctor.models.hashing import HashCache, Stamp
from envdoctor.models.manifest import HubSource, Manifest, ModelFile, Roots, Source
from envdoctor.models.verify import FileVerdict, Missing, Verified, Wrong, judge, sniff

STAGING = ".envdoctor-partial"
DEFAULT_ENDPOINT = "https://huggingface.co"
WORKERS = 4
TIMEOUT_S = 10.0


class NotEnoughSpace(EnvdoctorError):
    code = "not-enough-space"
    exit_code = 1


class Sink(Protocol):
    """Where the progress of a fetch goes (one display for all files, drawn by envdoctor.report)."""

    def start(self, files: int, total_bytes: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def file_done(self, title: str) -> None: ...

    def stop(self) -> None: ...


class _Quiet:
    def start(self, files: int, total_bytes: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def file_done(self, title: str) -> None:
        pass

    def stop(self) -> None:
        pass


# What happened to each file.
@dataclass(frozen=True)
class AlreadyThere:
    verdict: FileVerdict


@dataclass(frozen=True)
class Placed:
    sha256: str
    size: int
    source: str
    how: str
    """downloaded | hard link | copy"""
    fell_back: tuple[str, ...] = ()
    """The sources tried before the one it came from, each with why it failed: a fallback is said."""


@dataclass(frozen=True)
class Refused:
    """The bytes came, but were not the manifest's: deleted, nothing placed."""

    source: str
    found_sha256: str
    expected_sha256: str
    what: str


@dataclass(frozen=True)
class Failed:
    reasons: tuple[str, ...]
    """One sentence per source that was tried."""


@dataclass(frozen=True)
class Kept:
    """Present but wrong, and --repair was not given: left as it is."""

    verdict: FileVerdict


FileOutcome = AlreadyThere | Placed | Refused | Failed | Kept


@dataclass(frozen=True)
class FileResult:
    file: ModelFile
    target: Path
    outcome: FileOutcome

    @property
    def ok(self) -> bool:
        return isinstance(self.outcome, AlreadyThere | Placed)


@dataclass(frozen=True)
class FetchReport:
    results: tuple[FileResult, ...]
    endpoint: str
    notes: tuple[str, ...]
    transferred: int

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def _nearest_existing(path: Path) -> Path:
    """`path`, or the nearest parent that exists: where a file about to be written will live."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem that holds `path` (its nearest existing parent). Tests replace it."""
    return shutil.disk_usage(_nearest_existing(path)).free


def _device(path: Path) -> int:
    return os.stat(_nearest_existing(path)).st_dev


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def check_space(todo: Sequence[ModelFile], roots: Roots) -> None:
    """Refuse before the first byte: each filesystem needs its files' bytes plus room for the largest one
    (a partial download and a resumed one can sit side by side while a file is being replaced)."""
    by_device: dict[int, tuple[Path, list[int]]] = {}
    for f in todo:
        base = roots.base(f.root)
        entry = by_device.setdefault(_device(base), (base, []))
        entry[1].append(f.bytes_needed)
    for base, sizes in by_device.values():
        need = sum(sizes) + max(sizes, default=0)
        free = free_bytes(base)
        if free < need:
            raise NotEnoughSpace(
                f"{base} has {_gb(free)} free; fetching {len(sizes)} files needs {_gb(need)} "
                f"({_gb(sum(sizes))} plus room for the largest, {_gb(max(sizes))}): nothing was downloaded."
            )


def use_endpoint(endpoint: str | None) -> tuple[str, tuple[str, ...]]:
    """The endpoint to fetch from, and what to say about it once. A mirror needs Xet off: hf-xet sends its data
    traffic to the Hub's own storage whatever HF_ENDPOINT says. And telemetry off: huggingface_hub 2.x fills
    its User-Agent header from a registry it asks its default endpoint for (huggingface.co, or HF_ENDPOINT as
    it was at import), not the endpoint a download is given, so a mirror alone would not keep the fetch off
    other hosts."""
    chosen = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    if chosen == DEFAULT_ENDPOINT:
        return chosen, ()
    os.environ["HF_HUB_DISABLE_XET"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    from huggingface_hub import constants

    # huggingface_hub reads the variables once, at import.
    constants.HF_HUB_DISABLE_XET = True
    constants.HF_HUB_DISABLE_TELEMETRY = True
    return chosen, (
        f"fetching from the mirror {chosen}, with Xet transfers disabled (HF_HUB_DISABLE_XET=1) and "
        "huggingface_hub's telemetry off (HF_HUB_DISABLE_TELEMETRY=1): every request goes to the mirror.",
    )


def partial_path(roots: Roots, f: ModelFile) -> Path:
    """Where a download of `f` waits to be resumed: named by what it will be and where it goes, so a partial
    file is only ever resumed into the same file."""
    key = hashlib.sha256(f"{f.root}/{f.path}:{f.sha256 or f.sha256_prefix}".encode()).hexdigest()[:16]
    return roots.base(f.root) / STAGING / f"{f.name}.{key}.part"


class DownloadBusy(EnvdoctorError):
    code = "download-busy"
    exit_code = 1


def _hold(fh: IO[bytes], part: Path) -> None:
    """Two fetches appending to one partial file would interleave their bytes: the second one is refused."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: its own sharing rules keep the file to one writer
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise DownloadBusy(f"another envdoctor is downloading into {part}") from None


def _counting_tqdm(advance: Callable[[int], None]) -> type[Any]:
    """A tqdm class that draws nothing and hands each chunk's size to the one display."""
    from huggingface_hub.utils import tqdm

    class Counted(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if n:
                advance(int(n))
            return None

    return Counted


def _why(exc: BaseException) -> str:
    """One clause for why a source failed, from huggingface_hub's exception or its HTTP client's (matched by
    class name: the client library changed between huggingface_hub releases)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    response = getattr(exc, "response", None)
    if names & {"TimeoutException", "Timeout", "ReadTimeout", "ConnectTimeout"}:
        return f"no answer within {TIMEOUT_S:.0f} s"
    if names & {"ConnectError", "ConnectionError", "NetworkError"} and response is None:
        return f"could not connect ({exc or type(exc).__name__})"
    if response is not None and getattr(response, "status_code", None):
        kind = response.headers.get("content-type", "")
        page = " with an HTML page" if "html" in kind else ""
        return f"the server answered {response.status_code} {response.reason_phrase}{page}".rstrip()
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Consistency check failed" in text:
        return "the transfer ended early (fewer bytes than the server announced)"
    if "X-Repo-Commit" in str(exc) or "does not seem to be on huggingface.co" in str(exc):
        return "it answered, but not as a Hugging Face Hub does (a proxy's or a login page?)"
    return text.rstrip(".")


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class _Fetcher:
    def __init__(
        self,
        manifest: Manifest,
        roots: Roots,
        cache: HashCache,
        endpoint: str,
        sink: Sink,
    ) -> None:
        self.manifest = manifest
        self.roots = roots
        self.cache = cache
        self.endpoint = endpoint
        self.sink = sink
        self.lock = threading.Lock()
        self.dead: dict[str, str] = {}
        """Hosts that did not answer, and why: the other files skip them rather than wait on each."""
        self.transferred = 0

    def advance(self, n: int) -> None:
        with self.lock:
            self.transferred += n
        self.sink.advance(n)

    def stage(self, f: ModelFile) -> Path:
        return self.roots.base(f.root) / STAGING

    # One source. huggingface_hub 2.x downloads to a temporary name unique to each process and deletes it on
    # failure, so hf_hub_download never resumes across runs; its own HEAD (get_hf_file_metadata) and transfer
    # (http_get, which takes a resume offset) are used with a partial file whose name stays the same from run
    # to run: the bytes already there are asked for no more (a Range request).
    def _download(self, f: ModelFile, source: Source) -> tuple[Path, str | None]:
        """The downloaded file in the staging folder, and the sha256 the Hub gave for it (an LFS file's ETag)."""
        from huggingface_hub import get_hf_file_metadata, hf_hub_url
        from huggingface_hub.file_download import http_get
        from huggingface_hub.utils import build_hf_headers

        staging = self.stage(f)
        headers = build_hf_headers()
        if isinstance(source, HubSource):
            # Without retries: a dead or refusing endpoint costs one request, not a backoff.
            url = hf_hub_url(source.repo, source.filename, revision=source.revision, endpoint=self.endpoint)
            meta = get_hf_file_metadata(url, timeout=TIMEOUT_S, endpoint=self.endpoint)
            url, size = meta.location, meta.size
            served_sha = meta.etag if meta.etag and re.fullmatch(r"[0-9a-f]{64}", meta.etag) else None
        else:
            url, size, served_sha = source.url, f.size, None
            self._reachable(url, headers)
        staging.mkdir(parents=True, exist_ok=True)
        part = partial_path(self.roots, f)
        held = False
        try:
            with open(part, "ab") as fh:
                _hold(fh, part)
                held = True
                have = fh.tell()
                if size is not None and have > size:
                    fh.truncate(0)
                    have = 0
                self.sink.advance(have)  # the display counts what is on disk; `transferred` only what came now
                http_get(
                    url,
                    fh,
                    resume_size=have,
                    headers=headers,
                    expected_size=size,
                    tqdm_class=_counting_tqdm(self.advance),
                )
        except BaseException:
            if held and part.exists() and part.stat().st_size == 0:
                part.unlink()  # nothing to resume: no trace left
            raise
        done = part.with_suffix(".done")
        os.replace(part, done)
        return done, served_sha

    @staticmethod
    def _reachable(url: str, headers: dict[str, str]) -> None:
        """One HEAD before the transfer, whose own retries (five, a second apart) are meant for a connection
        lost part-way, not for a host that is not there."""
        from huggingface_hub.utils import get_session, hf_raise_for_status

        response = get_session().head(url, headers=headers, follow_redirects=True, timeout=TIMEOUT_S)
        if response.status_code in (404, 410) or response.status_code >= 500:
            hf_raise_for_status(response)

    def _place(self, f: ModelFile, got: Path, source: str, how: str, served_sha: str | None = None) -> FileOutcome:
        # Where the manifest has no hash (v1.0's UNet), the Hub's own sha256 of the file stands in for it.
        sha, prefix = f.sha256 or served_sha, f.sha256_prefix
        digest = sha256_file(got)
        if (sha and digest != sha) or (not sha and prefix and not digest.startswith(prefix)):
            st = os.stat(got)
            sniffed = sniff(got, st.st_size, f.zip)
            what = sniffed.detail if sniffed else f"{st.st_size:,} bytes of other content"
            if how == "downloaded":
                got.unlink(missing_ok=True)
            return Refused(source, digest, sha or f"{prefix}…", what)
        target = self.roots.path(f)
        target.parent.mkdir(parents=True, exist_ok=True)
        if how == "downloaded":
            os.replace(got, target)
        else:
            how = _link_or_copy(got, target)
        self.cache.remember(target, Stamp.of(os.stat(target)), digest)
        return Placed(digest, os.stat(target).st_size, source, how)

    def from_network(self, f: ModelFile) -> FileOutcome:
        reasons: list[str] = []
        for source in f.sources:
            url = self.endpoint if isinstance(source, HubSource) else source.url
            host = _host(url)
            where = f"{source.describe()} from {host}" if isinstance(source, HubSource) else source.url
            with self.lock:
                dead = self.dead.get(host)
            if dead:
                reasons.append(f"{host}: {dead}")
                continue
            try:
                got, served_sha = self._download(f, source)
            except Exception as exc:
                why = _why(exc)
                if why.startswith(("could not connect", "no answer")):
                    with self.lock:
                        self.dead.setdefault(host, why)
                    reasons.append(f"{host}: {why}")
                else:
                    reasons.append(f"{where}: {why}")
                continue
            outcome = self._place(f, got, where, "downloaded", served_sha)
            if isinstance(outcome, Placed):
                return replace(outcome, fell_back=tuple(reasons)) if reasons else outcome
            if isinstance(outcome, Refused):
                if len(f.sources) == 1:
                    return outcome
                reasons.append(
                    f"{where}: sent other bytes (sha256 {outcome.found_sha256}, expected {outcome.expected_sha256})"
                )
        return Failed(tuple(reasons) or ("the manifest names no source for it",))

    def from_folder(self, f: ModelFile, folder: Path) -> FileOutcome:
        sha, prefix = f.sha256, f.sha256_prefix
        if not sha and not prefix:
            return Failed((f"not taken from {folder}: the manifest has no sha256 to verify {f.name} by",))
        expected = sha or f"{prefix}…"
        # A file there under the name that is not the manifest's is said, never passed over in silence.
        rejected: list[str] = []
        seen: set[Path] = set()
        for candidate in _candidates(f, folder):
            try:
                st = os.stat(candidate)
                real = candidate.resolve()
            except OSError:
                continue
            if real in seen or not candidate.is_file():
                continue
            seen.add(real)
            if f.size is not None and st.st_size != f.size:
                rejected.append(f"{candidate} is {st.st_size:,} bytes, expected {f.size:,}: not taken")
                continue
            digest, _ = self.cache.hash(candidate, Stamp.of(st))
            if (sha and digest == sha) or (not sha and prefix and digest.startswith(prefix)):
                return self._place(f, candidate, str(candidate), "link")
            rejected.append(f"{candidate} has sha256 {digest}, expected {expected}: not taken")
        return Failed(
            tuple(rejected)
            or (
                f"not in {folder}: no file named {f.name} there (flat, in a models/ tree, or in a huggingface_hub "
                "cache)",
            )
        )


def _candidates(f: ModelFile, folder: Path) -> Iterable[Path]:
    """Where a folder of downloaded files may hold this one: flat by name, a models/ tree, a huggingface_hub cache
    (the folder itself, or an HF_HOME holding hub/)."""
    yield folder / f.path
    yield folder / f.name
    for source in f.sources:
        if not isinstance(source, HubSource):
            continue
        repo_dir = "models--" + source.repo.replace("/", "--")
        for hub in (folder, folder / "hub"):
            snapshots = hub / repo_dir / "snapshots"
            yield snapshots / source.revision / source.filename
            if snapshots.is_dir():
                yield from (s / source.filename for s in sorted(snapshots.iterdir()) if s.name != source.revision)
            # An LFS file's blob is named by its sha256: found even where the snapshots' links did not survive
            # the copy (a FAT-formatted stick holds no symlinks).
            if f.sha256:
                yield hub / repo_dir / "blobs" / f.sha256


def _link_or_copy(src: Path, target: Path) -> str:
    """Place `src` at `target` through a temporary name beside it: a hard link where the filesystem allows it
    (no second copy of gigabytes), else a copy."""
    tmp = target.with_name(f".{target.name}.envdoctor-tmp")
    tmp.unlink(missing_ok=True)
    real = src.resolve()  # a hub cache's snapshot entries are symlinks to its blobs
    try:
        os.link(real, tmp)
        how = "hard link"
    except OSError:
        shutil.copyfile(real, tmp)
        how = "copy"
    os.replace(tmp, target)
    return how


def _tidy(staging: Path) -> None:
    """Remove the staging folder once nothing in it waits to be resumed."""
    if not staging.is_dir():
        return
    if any(p.name.endswith((".incomplete", ".part")) for p in staging.rglob("*")):
        return
    shutil.rmtree(staging, ignore_errors=True)


def fetch(
    manifest: Manifest,
    files: Sequence[ModelFile],
    roots: Roots,
    *,
    endpoint: str | None = None,
    from_dir: Path | None = None,
    repair: bool = False,
    sink: Sink | None = None,
    cache: HashCache | None = None,
    workers: int = WORKERS,
) -> FetchReport:
    cache = cache or HashCache()
    sink = sink or _Quiet()
    chosen, notes = (str(from_dir), ()) if from_dir is not None else use_endpoint(endpoint)
    verdicts = [judge(manifest, f, roots, cache) for f in files]
    done: dict[str, FileOutcome] = {}
    todo: list[ModelFile] = []
    for v in verdicts:
        if v.ok:
            done[v.file.path] = AlreadyThere(v)
        elif isinstance(v.outcome, Wrong) and not repair:
            done[v.file.path] = Kept(v)
        else:
            assert isinstance(v.outcome, Missing | Wrong)
            todo.append(v.file)
    if from_dir is None:
        check_space(todo, roots)
    fetcher = _Fetcher(manifest, roots, cache, chosen, sink)
    sink.start(len(todo), sum(f.bytes_needed for f in todo))

    def one(f: ModelFile) -> tuple[ModelFile, FileOutcome]:
        outcome = fetcher.from_folder(f, from_dir) if from_dir is not None else fetcher.from_network(f)
        sink.file_done(f.title)
        return f, outcome

    # huggingface_hub logs each retry of a transfer; the report says each failure once, in its own words.
    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for f, outcome in pool.map(one, todo):
                done[f.path] = outcome
    finally:
        hub_log.setLevel(level)
        sink.stop()
        cache.save()
        for root in {f.root for f in files}:
            _tidy(roots.base(root) / STAGING)
    results = tuple(FileResult(f, roots.path(f), done[f.path]) for f in files)
    return FetchReport(results, chosen, notes, fetcher.transferred)


__all__ = ["FetchReport", "FileResult", "NotEnoughSpace", "Verified", "fetch", "free_bytes"]
