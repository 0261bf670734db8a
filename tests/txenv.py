"""Small real environments for the transaction tests of `fix` (no torch): a C extension built here with
the machine's compiler, a pure package, and a loopback index that serves a wheel slowly so that
"in the middle of a uv install" is a moment a test can wait for.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from envkit import python_of, run_inside, suite_python

from envdoctor.uv import find_uv
from envdoctor.wheelfile import write_wheel

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "tx_driver.py"

_EXT_C = r"""
#include <Python.h>
static PyObject *token(PyObject *self, PyObject *args) { return PyUnicode_FromString("%(token)s"); }
static PyMethodDef methods[] = {{"token", token, METH_NOARGS, "the build's token"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tinyext", NULL, -1, methods};
PyMODINIT_FUNC PyInit__tinyext(void) { return PyModule_Create(&module); }
"""

_TARGET_INFO = (
    "import json, sys, sysconfig; print(json.dumps({'include': sysconfig.get_paths()['include'], "
    "'suffix': sysconfig.get_config_var('EXT_SUFFIX'), 'platform': sysconfig.get_platform(), "
    "'tag': 'cp%d%d' % sys.version_info[:2]}))"
)


def _meta(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()


def build_ext_wheel(python: Path, out: Path, token: str) -> Path:
    """tinyext 1.0: a package with a C extension compiled here (cc), wrapped as a platform wheel."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc or gcc on PATH) to build the compiled distribution")
    info = run_inside(python, ["-c", _TARGET_INFO], what="reading its build paths", timeout=60)
    if not Path(info["include"], "Python.h").is_file():
        pytest.skip(f"{python} has no Python.h (install its development headers)")
    src = out / "tinyext.c"
    src.write_text(_EXT_C % {"token": token})
    so = out / f"_tinyext{info['suffix']}"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", f"-I{info['include']}", str(src), "-o", str(so)], check=True)
    plat = info["platform"].replace("-", "_").replace(".", "_")
    tag = f"{info['tag']}-{info['tag']}-{plat}"
    wheel_meta = f"Wheel-Version: 1.0\nGenerator: envdoctor-tests\nRoot-Is-Purelib: false\nTag: {tag}\n"
    files = [
        ("tinyext/__init__.py", b"from tinyext._tinyext import token\n"),
        (f"tinyext/_tinyext{info['suffix']}", so.read_bytes()),
        ("tinyext-1.0.dist-info/METADATA", _meta("tinyext", "1.0")),
        ("tinyext-1.0.dist-info/WHEEL", wheel_meta.encode()),
    ]
    return write_wheel(out / f"tinyext-1.0-{tag}.whl", "tinyext-1.0.dist-info", files)


_PURE_WHEEL = b"Wheel-Version: 1.0\nGenerator: envdoctor-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def pure_wheel(out: Path, name: str, version: str, padding: int = 0) -> Path:
    """A pure-Python wheel; `padding` bytes of data make a download take a while from the slow index."""
    files = [
        (f"{name}/__init__.py", f"VERSION = {version!r}\n".encode()),
        (f"{name}-{version}.dist-info/METADATA", _meta(name, version)),
        (f"{name}-{version}.dist-info/WHEEL", _PURE_WHEEL),
    ]
    if padding:
        files.insert(1, (f"{name}/padding.bin", os.urandom(padding)))
    return write_wheel(out / f"{name}-{version}-py3-none-any.whl", f"{name}-{version}.dist-info", files)


@contextmanager
def slow_index(wheel: Path, chunk: int = 256, pause: float = 0.2) -> Iterator[tuple[str, threading.Event]]:
    """A PEP 503 index on 127.0.0.1 with one wheel, sent `chunk` bytes per `pause` seconds.

    Yields the index URL and an event set once a client has begun downloading the wheel.
    """
    data = wheel.read_bytes()
    name = wheel.name.split("-")[0]
    started = threading.Event()
    digest = hashlib.sha256(data).hexdigest()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_a: object) -> None:
            pass

        def do_HEAD(self) -> None:
            if self.path == f"/files/{wheel.name}":
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
            else:
                self.send_error(404)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == f"/simple/{name}":
                body = f'<a href="/files/{wheel.name}#sha256={digest}">{wheel.name}</a>'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == f"/files/{wheel.name}":
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                started.set()
                try:
                    for i in range(0, len(data), chunk):
                        self.wfile.write(data[i : i + chunk])
                        self.wfile.flush()
                        time.sleep(pause)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            else:
                self.send_error(404)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple", started
    finally:
        server.shutdown()
        server.server_close()


def make_env(root: Path, ext_wheel: Path, extra: list[Path]) -> Path:
    """A venv (uv, on envkit.suite_python()) holding tinyext and the given wheels, installed offline."""
    env = root / "env"
    uv = find_uv()
    uv.venv(env, python=suite_python())
    uv.pip_install(python_of(env), [str(ext_wheel), *map(str, extra)], extra=["--offline", "--no-deps"])
    return env


def files_state(env: Path) -> dict[str, str]:
    """Every file that a RECORD in the env lists, with the sha256 of its bytes (the env's exact state)."""
    site = next((env / "lib").glob("python*/site-packages"))
    state: dict[str, str] = {}
    for record in sorted(site.glob("*.dist-info/RECORD")):
        with open(record, newline="") as fh:
            for row in csv.reader(fh):
                path = os.path.normpath(site / row[0])
                if os.path.isfile(path):
                    digest = hashlib.sha256(Path(path).read_bytes()).digest()
                    state[path] = base64.urlsafe_b64encode(digest).decode()
    return state


def token_of(env: Path) -> str:
    proc = subprocess.run([str(python_of(env)), "-c", "import tinyext; print(tinyext.token())"],
                          capture_output=True, text=True)  # fmt: skip
    return proc.stdout.strip() if proc.returncode == 0 else f"import failed: {proc.stderr.strip()[-300:]}"


def driver(env: Path, index: str, *args: str) -> subprocess.Popen[str]:
    """`fix`'s transaction on `env` in a process of its own (so that a test can signal it)."""
    return subprocess.Popen(
        [sys.executable, "-u", str(DRIVER), str(env), index, *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=HERE.parent,
        # This checkout's envdoctor, whichever one is installed.
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])},
    )  # fmt: skip
