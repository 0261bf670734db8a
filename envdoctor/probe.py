"""Run the probes inside the target interpreter and turn their JSON into Facts.

The facts probe and the imports probe run side by side. The imports probe imports every module
in one worker process (so torch is paid for once); when that worker segfaults, aborts, exits or
hangs, the module it was importing is recorded as such and a fresh worker carries on with the
rest.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor.facts import Facts, ImportResult, read_distributions
from envdoctor.resources import probe_script
from envdoctor.target import Target

DEFAULT_IMPORT_TIMEOUT = 120.0

Progress = Callable[[str], None]


class ProbeError(RuntimeError):
    """A probe could not run or said something that is not JSON."""


def run_facts_probe(
    target: Target, timeout: float = 60.0, sections: Sequence[str] = ()
) -> dict[str, Any]:
    """The facts probe's document; `sections` limits it (python, platform, distributions, mmcv, gpu,
    nvcc, ffmpeg) for callers that need a few facts fast."""
    script = probe_script("envdoctor_facts")
    try:
        proc = subprocess.run(
            [str(target.python), str(script), *sections], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(f"the facts probe did not finish within {timeout:.0f} s") from exc
    try:
        doc = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError) as exc:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ProbeError(f"the facts probe failed in {target.python}: {tail[0][:300].rstrip('.')}") from exc
    if not isinstance(doc, dict):
        raise ProbeError(f"the facts probe in {target.python} printed a {type(doc).__name__}, not its report")
    return doc


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    events: Any  # the read end of the event pipe, as a binary file
    stderr_path: Path
    buffer: bytes = b""

    def stderr_tail(self, lines: int = 25) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


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
        read_fd, write_fd = os.pipe()
        stderr_path = Path(self._tmp.name) / f"worker-{n}.stderr"
        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                [str(self.target.python), str(probe_script("envdoctor_imports")), str(write_fd), *self.extra_path],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=err,
                pass_fds=(write_fd,),
                cwd=self.cwd,
                start_new_session=True,  # so a hung worker and anything it started can be killed together
            )
        os.close(write_fd)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"modules": list(modules), "torch_facts": True}).encode())
        proc.stdin.close()
        return _Worker(proc, os.fdopen(read_fd, "rb"), stderr_path)

    def _read_event(self, worker: _Worker, deadline: float) -> dict[str, Any] | None:
        """The next event, None at EOF; raises TimeoutError past the deadline."""
        fd = worker.events.fileno()
        while b"\n" not in worker.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            worker.buffer += chunk
        line, _, worker.buffer = worker.buffer.partition(b"\n")
        return json.loads(line.decode())

    @staticmethod
    def _kill(worker: _Worker) -> None:
        try:
            os.killpg(worker.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        worker.proc.wait()

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
                        worker.proc.wait()
                        if current is not None:
                            status, why = _describe_exit(worker.proc.returncode)
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
                        current = event["module"]
                        started = time.monotonic()
                        self.progress(f"importing {current}")
                    elif kind == "done":
                        results[event["module"]] = _result_from_event(event)
                        current = None
                    elif kind == "torch":
                        self.torch = event["torch"]
                    elif kind == "end":
                        worker.proc.wait()
                        break
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


def _result_from_event(event: dict[str, Any]) -> ImportResult:
    err = event.get("error") or {}
    files = tuple(f["file"] for f in err.get("frames") or ())
    return ImportResult(
        module=event["module"],
        status=event["status"],
        seconds=event.get("seconds"),
        error_type=err.get("type"),
        message=err.get("message"),
        missing_module=err.get("missing_module"),
        traceback=err.get("traceback"),
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

    thread = threading.Thread(target=facts_thread)
    thread.start()
    prober = ImportProber(target, timeout=import_timeout, extra_path=extra_path, cwd=cwd, progress=progress)
    imports = prober.run(modules) if modules else []
    thread.join()
    if error:
        raise error[0]
    return facts_from_raw(raw, imports, prober.torch)


def facts_from_raw(
    raw: dict[str, Any], imports: list[ImportResult], torch: dict[str, Any] | None
) -> Facts:
    """Facts from the probes' documents. They come from the target, so a section of the wrong
    shape counts as absent (and is said in probe_errors), never as an exception."""
    raw = raw if isinstance(raw, dict) else {}
    probe_errors = [f"{k}: {str(v['error'])[:500]}" for k, v in raw.items() if isinstance(v, dict) and "error" in v]

    def section(key: str) -> dict[str, Any]:
        value = raw.get(key)
        if value is not None and not isinstance(value, dict):
            probe_errors.append(f"{key}: the probe sent a {type(value).__name__}, not an object")
        return value if isinstance(value, dict) else {}

    dists, damaged = read_distributions(raw.get("distributions"))
    return Facts(
        python=section("python"),
        platform=section("platform"),
        distributions=dists,
        gpu=section("gpu"),
        nvcc=section("nvcc"),
        ffmpeg=section("ffmpeg"),
        mmcv=section("mmcv"),
        imports=imports,
        torch=torch,
        probe_errors=probe_errors,
        damaged=damaged,
    )
