"""Run the probes inside the target interpreter and turn their JSON into Facts.

The facts probe and the imports probe run side by side. The imports probe imports every module
in one worker process (so torch is paid for once); when that worker segfaults, aborts, exits or
hangs, the module it was importing is recorded as such and a fresh worker carries on with the
rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor import process
from envdoctor.errors import EnvdoctorError
from envdoctor.facts import (
    Facts,
    Ffmpeg,
    Gpu,
    HostPlatform,
    ImportResult,
    Mmcv,
    Nvcc,
    Python,
    read_distributions,
    read_section,
    read_torch,
)
from envdoctor.inside import InsideError, run_json
from envdoctor.resources import probe_script
from envdoctor.target import Target
from envdoctor.tools import ffmpeg

DEFAULT_IMPORT_TIMEOUT = 120.0
STDERR_HEAD = 4096
STDERR_TAIL = 16384
"""What is kept of a worker's stderr (bytes): its start and its end. A module may print 100 MB at
import; nothing after the worker ever sees more than this."""
MAX_LINE = 2000
"""Characters kept of any one line of that text."""
MAX_EVENT = 1 << 20
"""An event line longer than this (bytes) is not the probe speaking: the worker is stopped."""
MAX_TEXT = 8000
"""Characters kept of a message or traceback an event carries."""

Progress = Callable[[str], None]


class ProbeError(EnvdoctorError, RuntimeError):
    """A probe could not run or said something that is not JSON."""

    code = "probe-failed"


def run_facts_probe(target: Target, timeout: float = 60.0, sections: Sequence[str] = ()) -> dict[str, Any]:
    """The facts probe's document; `sections` limits it (python, platform, distributions, mmcv, gpu,
    nvcc) for callers that need a few facts fast. ffmpeg is found from outside (gather)."""
    script = probe_script("envdoctor_facts")
    try:
        return run_json(target.python, [str(script), *sections], what="the facts probe", timeout=timeout).data
    except InsideError as exc:
        raise ProbeError(f"{exc}.") from exc  # InsideError says a clause; the user reads a sentence


@dataclass
class _Worker:
    child: process.Child
    events: process.Reader  # the worker's stdout, where it writes its events
    stderr_path: Path
    buffer: bytes = b""

    def stderr_tail(self, lines: int = 25) -> str:
        """The last `lines` lines of what the worker printed, read from at most STDERR_HEAD +
        STDERR_TAIL bytes of the file; when the output was longer, its first lines come first."""
        return bounded_text(self.stderr_path, lines)


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[: MAX_LINE // 2] + " [...] " + line[-MAX_LINE // 2 :]


def bounded_text(path: Path, lines: int = 25) -> str:
    """Head and tail of a file that may be huge, in bounded memory and time."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size <= STDERR_HEAD + STDERR_TAIL:
                fh.seek(0)
                text = fh.read().decode(errors="replace")
                return "\n".join(_cut(ln) for ln in text.strip().splitlines()[-lines:])
            fh.seek(0)
            head = fh.read(STDERR_HEAD).decode(errors="replace")
            fh.seek(size - STDERR_TAIL)
            tail = fh.read(STDERR_TAIL).decode(errors="replace")
    except OSError:
        return ""
    head_lines = [_cut(ln) for ln in head.strip().splitlines()[:5]]
    tail_lines = [_cut(ln) for ln in tail.strip().splitlines()[1:][-lines:]]
    skipped = size - STDERR_HEAD - STDERR_TAIL
    return "\n".join([*head_lines, f"[... {skipped} bytes of output left out ...]", *tail_lines])


def _describe_exit(returncode: int | None) -> tuple[str, str]:
    if returncode is None:
        return "crash", "the interpreter died"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return "crash", f"the interpreter was killed by {name}"
    return "exit", f"the interpreter exited with code {returncode} during the import"


class _Garbled(Exception):
    """The event stream broke its contract (too long, not JSON): the worker is stopped."""


def parse_event(line: bytes) -> dict[str, Any]:
    """One line of the imports probe's event stream; _Garbled when it is not an event."""
    try:
        event = json.loads(line.decode(errors="replace"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _Garbled("the import worker sent something that is not an event") from exc
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise _Garbled("the import worker sent something that is not an event")
    return event


class ImportProber:
    """Import modules in the target, one worker at a time, surviving crashes and hangs."""

    def __init__(
        self,
        target: Target,
        *,
        timeout: float = DEFAULT_IMPORT_TIMEOUT,
        extra_path: Sequence[str] = (),
        cwd: Path | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.extra_path = list(extra_path)
        self.cwd = cwd
        self.progress = progress or (lambda _msg: None)
        self.torch: dict[str, Any] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="envdoctor-imports-")

    def _spawn(self, modules: Sequence[str], n: int) -> _Worker:
        stderr_path = Path(self._tmp.name) / f"worker-{n}.stderr"
        with open(stderr_path, "wb") as err:
            # Its own process group (envdoctor.process), so a hung worker and anything it started
            # can be killed together.
            child = process.Child(
                [str(self.target.python), str(probe_script("envdoctor_imports")), "-", *self.extra_path],
                stdin=process.PIPE,
                stdout=process.PIPE,
                stderr=err,
                cwd=self.cwd,
            )
        assert child.popen.stdin is not None and child.popen.stdout is not None
        with contextlib.suppress(OSError):  # a worker that dies at once closes its stdin: its exit says why
            child.popen.stdin.write(json.dumps({"modules": list(modules), "torch_facts": True}).encode())
            child.popen.stdin.close()
        return _Worker(child, process.Reader(child.popen.stdout), stderr_path)

    def _read_event(self, worker: _Worker, deadline: float) -> dict[str, Any] | None:
        """The next event, None at EOF; raises TimeoutError past the deadline."""
        while b"\n" not in worker.buffer:
            chunk = worker.events.read(deadline - time.monotonic())
            if chunk is None:
                return None
            worker.buffer += chunk
            if len(worker.buffer) > MAX_EVENT:
                raise _Garbled(f"the import worker sent an event over {MAX_EVENT} bytes")
        line, _, worker.buffer = worker.buffer.partition(b"\n")
        return parse_event(line)

    @staticmethod
    def _kill(worker: _Worker) -> None:
        worker.child.stop()

    def run(self, modules: Sequence[str]) -> list[ImportResult]:
        results: dict[str, ImportResult] = {}
        remaining = list(dict.fromkeys(modules))
        n = 0
        while remaining:
            n += 1
            worker = self._spawn(remaining, n)
            current: str | None = None
            started = 0.0
            try:
                while True:
                    deadline = time.monotonic() + self.timeout
                    event = self._read_event(worker, deadline)
                    if event is None:  # the worker died
                        worker.child.wait()
                        if current is not None:
                            status, why = _describe_exit(worker.child.returncode)
                            results[current] = ImportResult(
                                module=current,
                                status=status,
                                seconds=round(time.monotonic() - started, 3),
                                error_type="Crash" if status == "crash" else "SystemExit",
                                message=why,
                                traceback=worker.stderr_tail(),
                            )
                            self.progress(f"{current}: {why}")
                        break
                    kind = event["event"]
                    if kind == "start":
                        current = str(event.get("module"))
                        started = time.monotonic()
                        self.progress(f"importing {current}")
                    elif kind == "done":
                        done = result_from_event(event)
                        if done.module in remaining:
                            results[done.module] = done
                        current = None
                    elif kind == "torch":
                        torch = event.get("torch")
                        self.torch = torch if isinstance(torch, dict) else None
                    elif kind == "end":
                        worker.child.wait()
                        break
            except _Garbled as exc:
                self._kill(worker)
                if current is not None:
                    results[current] = ImportResult(
                        module=current,
                        status="crash",
                        error_type="Crash",
                        message=str(exc),
                        traceback=worker.stderr_tail(),
                    )
            except TimeoutError:
                self._kill(worker)
                if current is not None:
                    results[current] = ImportResult(
                        module=current,
                        status="timeout",
                        seconds=self.timeout,
                        error_type="Timeout",
                        message=f"the import did not finish within {self.timeout:g} s",
                        traceback=worker.stderr_tail(),
                    )
                    self.progress(f"{current}: hung, killed after {self.timeout:g} s")
            finally:
                worker.events.close()
            before = len(remaining)
            remaining = [m for m in remaining if m not in results]
            if len(remaining) == before:
                # The worker died before it started any module: the interpreter itself is broken.
                for m in remaining:
                    results[m] = ImportResult(
                        module=m,
                        status="skipped",
                        message="the import worker could not start: " + (worker.stderr_tail(3) or "no output"),
                    )
                break
        self._tmp.cleanup()
        return [results[m] for m in dict.fromkeys(modules)]


def _short(value: Any, limit: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit // 4] + " [...] " + text[-(limit * 3) // 4 :]


_STATUSES = ("ok", "missing", "error", "exit", "crash", "timeout", "skipped")


def result_from_event(event: dict[str, Any]) -> ImportResult:
    """An ImportResult from a "done" event; the event comes from the target, so every field is checked."""
    err = event.get("error")
    err = err if isinstance(err, dict) else {}
    frames = err.get("frames")
    files = tuple(
        f["file"]
        for f in (frames if isinstance(frames, list) else ())
        if isinstance(f, dict) and isinstance(f.get("file"), str)
    )[-12:]
    status = event.get("status")
    seconds = event.get("seconds")
    return ImportResult(
        module=str(event.get("module")),
        status=status if status in _STATUSES else "error",
        seconds=float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None,
        error_type=_short(err.get("type"), 200),
        message=_short(err.get("message")),
        missing_module=_short(err.get("missing_module"), 200),
        traceback=_short(err.get("traceback")),
        files=files,
    )


def gather(
    target: Target,
    modules: Sequence[str],
    *,
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT,
    extra_path: Sequence[str] = (),
    cwd: Path | None = None,
    progress: Progress | None = None,
) -> Facts:
    """All facts about the target: the facts probe and the imports probe, run side by side."""
    raw: dict[str, Any] = {}
    error: list[BaseException] = []

    def facts_thread() -> None:
        try:
            raw.update(run_facts_probe(target))
        except BaseException as exc:  # handed to the caller below
            error.append(exc)

    def ffmpeg_thread() -> None:
        # Found from outside, as fix and smoke find it (envdoctor.tools.ffmpeg): one discovery.
        try:
            raw["ffmpeg"] = ffmpeg.target_facts(target.python)
        except Exception as exc:  # said in probe_errors, like a section the probe could not read
            raw["ffmpeg"] = {"error": f"{type(exc).__name__}: {exc}"}

    thread = threading.Thread(target=facts_thread)
    thread.start()
    tool_thread = threading.Thread(target=ffmpeg_thread)
    tool_thread.start()
    prober = ImportProber(target, timeout=import_timeout, extra_path=extra_path, cwd=cwd, progress=progress)
    imports = prober.run(modules) if modules else []
    thread.join()
    tool_thread.join()
    if error:
        raise error[0]
    return facts_from_raw(raw, imports, prober.torch)


def facts_from_raw(raw: dict[str, Any], imports: Sequence[ImportResult], torch: dict[str, Any] | None) -> Facts:
    """Facts from the probes' documents. They come from the target, so a section of the wrong
    shape counts as absent (and is said in probe_errors), never as an exception."""
    raw = raw if isinstance(raw, dict) else {}
    probe_errors = [f"{k}: {str(v['error'])[:500]}" for k, v in raw.items() if isinstance(v, dict) and "error" in v]
    dists, damaged = read_distributions(raw.get("distributions"))
    return Facts(
        python=read_section("python", Python, raw.get("python"), probe_errors),
        platform=read_section("platform", HostPlatform, raw.get("platform"), probe_errors),
        distributions=dists,
        gpu=read_section("gpu", Gpu, raw.get("gpu"), probe_errors),
        nvcc=read_section("nvcc", Nvcc, raw.get("nvcc"), probe_errors),
        ffmpeg=read_section("ffmpeg", Ffmpeg, raw.get("ffmpeg"), probe_errors),
        mmcv=read_section("mmcv", Mmcv, raw.get("mmcv"), probe_errors),
        imports=tuple(imports),
        torch=read_torch(torch, probe_errors),
        probe_errors=tuple(probe_errors),
        damaged=damaged,
    )
