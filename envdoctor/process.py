"""Start, watch and stop child processes: the one place that knows how.

Every program envdoctor runs (the target's interpreter, uv, ffmpeg, pip, pyenv, espeak) starts here:

- in a process group of its own, so that a deadline or Ctrl-C stops it and everything it started
  (POSIX: a new session, then killpg TERM and KILL; Windows: CREATE_NEW_PROCESS_GROUP, then
  CTRL_BREAK and taskkill /T /F). The operating system's difference lives in this module only.
- with an environment from which the variables that change what a Python imports are removed
  (`child_env`): a PYTHONPATH in the user's shell must not make a module the target lacks import
  "ok". Which ones were removed is kept on the result and in the command log. A variable the caller
  passes in `env` is kept: that is a choice, not an accident of the shell.
- with its output read by threads, never by select() on a pipe or an inherited descriptor, so the
  same code runs on Windows; what `run` keeps of a stream is bounded (its start and its end).
- and logged: every command with its duration and exit, to stderr with ENVDOCTOR_LOG=1 or
  `--verbose`, to a file with ENVDOCTOR_LOG=path; `history()` holds the last ones.

envdoctor.inside.run_json (a JSON object from code run in the target) is built on `run`.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, Literal, TypeVar, overload

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT
TimeoutExpired = subprocess.TimeoutExpired

WINDOWS = os.name == "nt"

SCRUBBED = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONNOUSERSITE",
    "PYTHONUSERBASE",
    "PYTHONSAFEPATH",
    "PYTHONPLATLIBDIR",
    "PYTHONEXECUTABLE",
    "PYTHONCASEOK",
    "__PYVENV_LAUNCHER__",
)
"""Variables that change which files a Python imports, or which Python it believes it is."""

CAPTURE_LIMIT = 64 << 20
"""Bytes `run` keeps of one stream; past it, the first quarter and the last three quarters stay."""
UNLIMITED = 1 << 62
"""A `limit` for output that is data (decoded frames), not words: all of it is kept."""
CHUNK = 65536
HISTORY = 1000
"""Commands `history()` keeps."""

T = TypeVar("T", str, bytes)
Stdio = int | IO[Any] | None


# --- the environment ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildEnv:
    env: dict[str, str]
    removed: tuple[str, ...]
    """The names in this process's environment that the child does not get."""


def child_env(extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None) -> ChildEnv:
    """This process's environment (or `base`) without SCRUBBED, with `extra` added on top."""
    source = os.environ if base is None else base
    extra = dict(extra or {})
    removed = tuple(name for name in SCRUBBED if name in source and name not in extra)
    env = {k: v for k, v in source.items() if k not in SCRUBBED}
    env.update(extra)
    return ChildEnv(env, removed)


def removed_from_env() -> tuple[str, ...]:
    """What child_env takes away from the children this process starts, for a report to say."""
    return child_env().removed


# --- the command log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """One finished command, as the log shows it."""

    argv: tuple[str, ...]
    cwd: str | None
    seconds: float
    returncode: int | None
    """None when it was still running when given up on."""
    timed_out: bool
    removed_env: tuple[str, ...]

    def line(self) -> str:
        how = "timed out" if self.timed_out else f"exit {self.returncode}"
        text = f"[envdoctor] {self.seconds:.2f} s, {how}: {shlex.join(self.argv)}"
        if self.cwd:
            text += f"  (in {self.cwd})"
        if self.removed_env:
            text += f"  (not passed on: {', '.join(self.removed_env)})"
        return text


_history: collections.deque[Ran] = collections.deque(maxlen=HISTORY)
_verbose = False
_log_lock = threading.Lock()


def set_verbose(on: bool) -> None:
    """Log every command to stderr (the CLI's --verbose), whatever ENVDOCTOR_LOG says."""
    global _verbose
    _verbose = on


def history() -> tuple[Ran, ...]:
    return tuple(_history)


def record(ran: Ran) -> None:
    _history.append(ran)
    where = os.environ.get("ENVDOCTOR_LOG", "")
    if not (_verbose or where):
        return
    with _log_lock:
        if _verbose or where.lower() in ("1", "true", "yes", "on", "-", "stderr"):
            print(ran.line(), file=sys.stderr, flush=True)
        elif where.lower() not in ("0", "false", "no", "off"):
            with contextlib.suppress(OSError), open(where, "a", encoding="utf-8") as fh:
                fh.write(ran.line() + "\n")


# --- one child ------------------------------------------------------------------------------------


def _preexec(address_space: int | None, die_with_parent: bool) -> Callable[[], None] | None:
    if WINDOWS or (address_space is None and not die_with_parent):
        return None

    def apply() -> None:
        if address_space is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if die_with_parent and sys.platform.startswith("linux"):
            # PR_SET_PDEATHSIG: SIGKILL when envdoctor dies, even by SIGKILL, so nothing runs on alone.
            import ctypes

            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)

    return apply


def _group_options(address_space: int | None, die_with_parent: bool) -> dict[str, Any]:
    if WINDOWS:
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined,unused-ignore]
    return {"start_new_session": True, "preexec_fn": _preexec(address_space, die_with_parent)}


class Child:
    """A started program in its own process group; `stop` ends the group, `wait` logs the command.

    Raises what subprocess.Popen raises when it cannot start (FileNotFoundError, PermissionError,
    OSError); nothing is logged then.
    """

    def __init__(
        self,
        argv: Sequence[str | Path],
        *,
        stdin: Stdio = None,
        stdout: Stdio = None,
        stderr: Stdio = None,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        address_space: int | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.argv = tuple(str(a) for a in argv)
        self.cwd = str(cwd) if cwd is not None else None
        prepared = child_env(env)
        self.removed_env = prepared.removed
        self.timed_out = False
        self._recorded = False
        self.started = time.monotonic()
        self.popen: subprocess.Popen[bytes] = subprocess.Popen(
            list(self.argv),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=prepared.env,
            cwd=self.cwd,
            **_group_options(address_space, die_with_parent),
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def poll(self) -> int | None:
        code = self.popen.poll()
        if code is not None:
            self._record()
        return code

    def wait(self, timeout: float | None = None) -> int:
        """Its exit status; subprocess.TimeoutExpired when it runs past `timeout`."""
        code = self.popen.wait(timeout=timeout)
        self._record()
        return code

    def interrupt(self) -> None:
        """Ask the whole group to stop (POSIX SIGTERM, Windows CTRL_BREAK). Only sends: safe in a signal handler."""
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            if WINDOWS:
                self.popen.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined,unused-ignore]
            else:
                os.killpg(self.popen.pid, signal.SIGTERM)

    def kill(self) -> None:
        """Kill the whole group now: what outlived the leader, or ignored the request to stop, too."""
        if WINDOWS:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    ["taskkill", "/T", "/F", "/PID", str(self.popen.pid)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=30,
                )
            with contextlib.suppress(OSError):
                self.popen.kill()
            return
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(OSError):
                self.popen.kill()

    def stop(self, grace: float = 0.0) -> None:
        """End the group: with `grace`, ask first and wait that long; then kill; then reap the leader."""
        try:
            if grace > 0 and self.popen.poll() is None:
                self.interrupt()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=grace)
        finally:  # a second Ctrl-C while it winds down: the group still ends
            self.kill()
            self.popen.wait()
            self._record()

    def _record(self) -> None:
        if self._recorded:
            return
        self._recorded = True
        record(
            Ran(
                argv=self.argv,
                cwd=self.cwd,
                seconds=time.monotonic() - self.started,
                returncode=self.popen.returncode,
                timed_out=self.timed_out,
                removed_env=self.removed_env,
            )
        )

    def communicate(
        self,
        input: bytes | None = None,
        timeout: float | None = None,
        *,
        limit: int = CAPTURE_LIMIT,
        grace: float = 0.0,
        on_line: Callable[[str], None] | None = None,
    ) -> tuple[bytes, bytes]:
        """Feed `input`, collect stdout and stderr (those that are PIPE; b"" otherwise), wait for the end.

        `on_line` sees each complete line of either stream as it comes (a build's progress), from the
        reader threads; what it raises turns it off, and capturing goes on.

        Past `timeout` the group is stopped (see `stop`) and subprocess.TimeoutExpired carries what
        came so far; any other exception while waiting (Ctrl-C) stops the group too and goes on up.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        captures = [
            Capture(s, limit, on_line) if s is not None else None for s in (self.popen.stdout, self.popen.stderr)
        ]
        feeder = None
        if self.popen.stdin is not None:
            feeder = threading.Thread(target=_feed, args=(self.popen.stdin, input or b""), daemon=True)
            feeder.start()

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        def collected() -> tuple[bytes, bytes]:
            out, err = (c.value() if c is not None else b"" for c in captures)
            return out, err

        try:
            self.popen.wait(timeout=left())
            for c in captures:
                # A grandchild that outlived the leader may hold the pipe open: the deadline still holds.
                if c is not None and not c.join(left()):
                    raise subprocess.TimeoutExpired(self.argv, timeout or 0.0)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.stop(grace)
            for c in captures:
                if c is not None:
                    c.join(10.0)  # a grandchild that left the group and holds the pipe: give up on it
            out, err = collected()
            raise subprocess.TimeoutExpired(self.argv, timeout or 0.0, output=out, stderr=err) from None
        except BaseException:
            self.stop(grace)
            raise
        if feeder is not None:
            feeder.join(1.0)
        self._record()
        return collected()


def _feed(stream: IO[bytes], data: bytes) -> None:
    # A child that exits without reading its stdin closes the pipe under us: that is its business.
    with contextlib.suppress(OSError, ValueError):
        if data:
            stream.write(data)
    with contextlib.suppress(OSError, ValueError):
        stream.close()


class Capture:
    """A thread that drains one stream, keeping at most `limit` bytes: its start and its end."""

    def __init__(
        self, stream: IO[bytes], limit: int = CAPTURE_LIMIT, on_line: Callable[[str], None] | None = None
    ) -> None:
        self._stream = stream
        self._on_line = on_line
        self._partial = b""
        self._head_limit = limit // 4
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while chunk := _read_chunk(self._stream):
                self._lines(chunk)
                room = self._head_limit - len(self._head)
                if room > 0:
                    self._head += chunk[:room]
                    chunk = chunk[room:]
                if chunk:
                    self._tail.append(chunk)
                    self._tail_size += len(chunk)
                    while self._tail_size > self._tail_limit:
                        first = self._tail.popleft()
                        over = self._tail_size - self._tail_limit
                        if len(first) > over:
                            self._tail.appendleft(first[over:])
                            self._tail_size -= over
                            self.dropped += over
                        else:
                            self._tail_size -= len(first)
                            self.dropped += len(first)
        with contextlib.suppress(OSError, ValueError):
            self._stream.close()

    def _lines(self, chunk: bytes) -> None:
        if self._on_line is None:
            return
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        if len(self._partial) > CHUNK:  # a line without end is no progress line: do not hold it
            self._partial = b""
        try:
            for line in complete:
                self._on_line(decode(line.rstrip(b"\r")))
        except Exception:  # a broken observer must not cost the capture: it is not called again
            self._on_line = None

    def join(self, timeout: float | None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def value(self) -> bytes:
        tail = b"".join(list(self._tail))
        if self.dropped:
            return bytes(self._head) + f"\n[... {self.dropped} bytes left out ...]\n".encode() + tail
        return bytes(self._head) + tail


def _read_chunk(stream: IO[bytes]) -> bytes:
    read1 = getattr(stream, "read1", None)
    if read1 is not None:
        data: bytes = read1(CHUNK)
        return data
    return os.read(stream.fileno(), CHUNK)


class Reader:
    """A thread that reads a stream as it comes, so that a caller can wait for output with a deadline.

    Bounded: the thread stops reading while `backlog` chunks wait, so a child that floods its
    output fills a pipe, not this process's memory.
    """

    def __init__(self, stream: IO[bytes], backlog: int = 64) -> None:
        self._stream = stream
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=backlog)
        self._closed = threading.Event()
        self._eof = False
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            while not self._closed.is_set():
                chunk = _read_chunk(self._stream)
                if not chunk:
                    break
                self._put(chunk)
        except (OSError, ValueError):  # the stream broke or was closed: that is its end
            pass
        self._put(b"")
        with contextlib.suppress(OSError, ValueError):
            self._stream.close()

    def _put(self, chunk: bytes) -> None:
        while not self._closed.is_set():
            try:
                self._queue.put(chunk, timeout=0.2)
                return
            except queue.Full:
                continue

    def read(self, timeout: float | None) -> bytes | None:
        """The next piece (never empty); None once the stream has ended; TimeoutError when nothing comes in time."""
        if self._eof:
            return None
        try:
            chunk = self._queue.get(timeout=None if timeout is None else max(0.0, timeout))
        except queue.Empty:
            raise TimeoutError from None
        if not chunk:
            self._eof = True
            return None
        return chunk

    def close(self, wait: float = 1.0) -> None:
        """Stop reading. The thread closes the stream itself when its last read returns: closing it
        from here while that read blocks would wait on the read, or race with the descriptor's reuse."""
        self._closed.set()
        self._thread.join(wait)


# --- one command ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completed(Generic[T]):
    """A finished command and what it printed (bounded, see CAPTURE_LIMIT)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: T
    stderr: T
    seconds: float
    removed_env: tuple[str, ...]


@overload
def run(
    argv: Sequence[str | Path],
    *,
    text: Literal[True] = ...,
    input: str | None = ...,
    timeout: float | None = ...,
    env: Mapping[str, str] | None = ...,
    cwd: str | Path | None = ...,
    limit: int = ...,
    grace: float = ...,
    address_space: int | None = ...,
    die_with_parent: bool = ...,
    on_start: Callable[[Child], None] | None = ...,
) -> Completed[str]: ...
@overload
def run(
    argv: Sequence[str | Path],
    *,
    text: Literal[False],
    input: bytes | None = ...,
    timeout: float | None = ...,
    env: Mapping[str, str] | None = ...,
    cwd: str | Path | None = ...,
    limit: int = ...,
    grace: float = ...,
    address_space: int | None = ...,
    die_with_parent: bool = ...,
    on_start: Callable[[Child], None] | None = ...,
) -> Completed[bytes]: ...
def run(
    argv: Sequence[str | Path],
    *,
    text: bool = True,
    input: str | bytes | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    limit: int = CAPTURE_LIMIT,
    grace: float = 0.0,
    address_space: int | None = None,
    die_with_parent: bool = False,
    on_start: Callable[[Child], None] | None = None,
) -> Completed[str] | Completed[bytes]:
    """Run `argv` to its end and keep its output, like subprocess.run(capture_output=True).

    `env` is added to the child environment (child_env). Past `timeout` the whole group is stopped
    (`grace` seconds after a request to stop, else at once) and subprocess.TimeoutExpired is raised,
    carrying the output so far. Text is decoded as UTF-8 with replacement. `on_start` sees the child
    before it is waited on (a registry of what to stop on a signal). Raises OSError when it cannot start.
    """
    data = input.encode() if isinstance(input, str) else input
    child = Child(
        argv,
        stdin=PIPE if data is not None else DEVNULL,
        stdout=PIPE,
        stderr=PIPE,
        env=env,
        cwd=cwd,
        address_space=address_space,
        die_with_parent=die_with_parent,
    )
    if on_start is not None:
        try:
            on_start(child)
        except BaseException:
            child.stop(grace)
            raise
    try:
        out, err = child.communicate(data, timeout, limit=limit, grace=grace)
    except subprocess.TimeoutExpired as exc:
        if not text:
            raise
        raise subprocess.TimeoutExpired(
            exc.cmd, exc.timeout, output=decode(exc.output or b""), stderr=decode(exc.stderr or b"")
        ) from None
    code = child.popen.returncode
    seconds = time.monotonic() - child.started
    if text:
        return Completed(child.argv, code, decode(out), decode(err), seconds, child.removed_env)
    return Completed(child.argv, code, out, err, seconds, child.removed_env)


def decode(data: bytes | str) -> str:
    """Text as subprocess's text mode gives it: UTF-8 (bad bytes replaced), universal newlines."""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
