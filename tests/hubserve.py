"""A stand-in for the Hugging Face Hub on loopback: the requests huggingface_hub's hf_hub_download makes.

HEAD and GET of /{repo}/resolve/{revision}/{filename}, answered with the headers the client reads
(X-Repo-Commit, ETag and X-Linked-Etag holding the sha256 as LFS files do, X-Linked-Size, Content-Length,
and on request the Xet headers), and Range requests answered 206 with Content-Range. Each file can be made
to fail: a status with an HTML body, an HTML page served as the file, other bytes than the real ones, or a
pause part-way through. Every byte of body sent is counted, per file, and every request logged, a proxy's
CONNECT too (a server can stand for every other host).
"""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

HTML_PAGE = b"<!DOCTYPE html><html><head><title>Error</title></head><body>Service unavailable</body></html>\n"


@dataclass
class Fault:
    status: int | None = None
    """Answer HEAD and GET with this status and an HTML body."""
    get_status: int | None = None
    """Answer HEAD as the Hub does, GET with this status and an HTML body."""
    html: bool = False
    """Answer 200 with the hub's headers but an HTML page as the body (a proxy's error page)."""
    other_bytes: bytes | None = None
    """Serve these bytes (with their own hash as ETag) instead of the real ones."""
    pause_after: int | None = None
    """Send this many bytes of a GET, then wait for `release` before the rest."""
    release: threading.Event = field(default_factory=threading.Event)
    cut_after: int | None = None
    """Send this many bytes of the first GET, then close the connection (a transfer dropped part-way)."""
    busy: int = 0
    """Answer this many GETs 429 Too Many Requests (Retry-After: 1) before serving the file."""


@dataclass
class Hub:
    files: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    faults: dict[str, Fault] = field(default_factory=dict)
    """By filename."""
    served: Counter[str] = field(default_factory=Counter)
    """Body bytes sent, by filename."""
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(method, path, Range header); a proxy's CONNECT logs its host:port as the path."""
    url: str = ""
    xet_auth: str | None = None
    """Advertise each file as stored in Xet, as the Hub does (X-Xet-Hash, and a Link header whose `xet-auth`
    route is where a Xet client asks for its token first): a client with Xet on goes there, not here."""

    def add(self, repo: str, revision: str, filename: str, data: bytes) -> None:
        self.files[(repo, revision, filename)] = data


_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


def _handler(hub: Hub) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_CONNECT(self) -> None:
            """A client sent here as its HTTPS proxy: logged (the host it wanted), and refused."""
            hub.requests.append((self.command, self.path, None))
            self._plain(502, HTML_PAGE, body=False)

        def _plain(self, status: int, payload: bytes, body: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body:
                self.wfile.write(payload)

        def _answer(self, body: bool) -> None:
            hub.requests.append((self.command, self.path, self.headers.get("Range")))
            match = _RESOLVE.match(self.path.split("?")[0])
            if not match:
                self._plain(404, HTML_PAGE, body)
                return
            key = (match["repo"], match["rev"], match["file"])
            name = match["file"]
            fault = hub.faults.get(name, Fault())
            if fault.status or (body and fault.get_status):
                self._plain(fault.status or fault.get_status or 500, HTML_PAGE, body)
                return
            if body and fault.busy > 0:
                fault.busy -= 1
                self.send_response(429)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = hub.files.get(key)
            if data is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            real_sha = hashlib.sha256(data).hexdigest()
            if fault.other_bytes is not None:
                data = fault.other_bytes
                real_sha = hashlib.sha256(data).hexdigest()
            if fault.html:
                data = HTML_PAGE
            start, status = 0, 200
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if wanted and int(wanted[1]) < len(data):
                start, status = int(wanted[1]), 206
            self.send_response(status)
            self.send_header("X-Repo-Commit", match["rev"])
            self.send_header("ETag", f'"{real_sha}"')
            self.send_header("X-Linked-Etag", f'"{real_sha}"')
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("Accept-Ranges", "bytes")
            if hub.xet_auth:
                self.send_header("X-Xet-Hash", hashlib.sha256(b"xet" + data).hexdigest())
                self.send_header("Link", f'<{hub.xet_auth}>; rel="xet-auth"')
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data) - start))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if not body:
                return
            rest = memoryview(data)[start:]
            try:
                if fault.cut_after is not None and len(rest) > fault.cut_after:
                    cut, fault.cut_after = fault.cut_after, None
                    self._send(name, rest[:cut])
                    self.close_connection = True
                    return
                if fault.pause_after is not None and len(rest) > fault.pause_after:
                    self._send(name, rest[: fault.pause_after])
                    fault.release.wait(30)
                    rest = rest[fault.pause_after :]
                self._send(name, rest)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _send(self, name: str, chunk: memoryview) -> None:
            for i in range(0, len(chunk), 1 << 20):
                piece = chunk[i : i + (1 << 20)]
                self.wfile.write(piece)
                hub.served[name] += len(piece)
            self.wfile.flush()

    return Handler


@contextmanager
def serve(hub: Hub) -> Iterator[Hub]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        for fault in hub.faults.values():
            fault.release.set()
        server.shutdown()
        server.server_close()
