"""`smoke --deps`: one real forward pass per heavy library, each in its own process in the target.

No checkout and no weights: the models are built at MuseTalk's shapes with random weights (the
shapes are data under envdoctor/data/). A pass that cannot apply here (no DWPose path installed) is
reported as skipped with its reason; the run succeeds only when no pass failed.
"""

from __future__ import annotations

import json
import shlex
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from envdoctor.document import head
from envdoctor.inside import InsideError, TimedOut, run_json
from envdoctor.resources import data_dir, smoke_script
from envdoctor.smoke import inputs, record
from envdoctor.tools import ffmpeg as ffmpeg_tool

INSIDE = smoke_script("deps_pass")
PASSES = ("dwpose", "unet", "vae", "whisper", "ffmpeg")


@dataclass(frozen=True)
class PassResult:
    name: str
    status: str
    """ok, failed or skipped."""
    device: str
    build_seconds: float | None
    seconds: float | None
    """The forward pass alone."""
    peak_mb: float | None
    memory_kind: str
    detail: str
    total_seconds: float | None = None
    traceback: tuple[str, ...] = ()


@dataclass(frozen=True)
class DepsResult:
    passes: tuple[PassResult, ...]
    python: str

    @property
    def success(self) -> bool:
        return not any(p.status == "failed" for p in self.passes)

    @property
    def message(self) -> str:
        failed = [p for p in self.passes if p.status == "failed"]
        skipped = [f"{p.name} ({p.detail})" for p in self.passes if p.status == "skipped"]
        ok = [p.name for p in self.passes if p.status == "ok"]
        parts = [f"{len(ok)} of {len(self.passes)} forward passes ran: {', '.join(ok) or 'none'}."]
        if failed:
            names = ", ".join(p.name for p in failed)
            details = {p.detail for p in failed}
            # One cause under several passes (torch missing, no CUDA) is said once, not read off each row.
            same = f", each with {details.pop()}" if len(failed) > 1 and len(details) == 1 else ""
            check = f"envdoctor check --python {shlex.quote(self.python)}"
            parts.append(f"FAILED: {names}{same}. `{check}` names the cause and its fix.")
        if skipped:
            parts.append(f"Skipped: {'; '.join(skipped)}.")
        return " ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "success": self.success,
            "output_path": None,
            "message": self.message,
            "mode": "deps",
            "python": self.python,
            "passes": [asdict(p) for p in self.passes],
        }


def deps_document(result: DepsResult) -> dict[str, Any]:
    """smoke-report.json of `smoke --deps`, and what its --json prints."""
    return {**head(record.SCHEMA), **result.to_dict()}


def run_pass(
    python: Path,
    name: str,
    *,
    device: str,
    speech: Path,
    work: Path,
    timeout: float,
    dwpose_config: Path | None = None,
    env: dict[str, str] | None = None,
) -> PassResult:
    args = [
        str(INSIDE),
        name,
        "--device",
        device,
        "--data",
        str(data_dir()),
        "--speech",
        str(speech),
        "--work",
        str(work),
    ]
    if dwpose_config:
        args += ["--dwpose-config", str(dwpose_config)]
    try:
        data = run_json(python, args, what=f"the {name} pass", timeout=timeout, env=env).data
    except TimedOut:
        return PassResult(name, "failed", device, None, None, None, "", f"no result within {timeout:g} s")
    except InsideError as exc:
        # The interpreter died before the pass could report (a segfault in a compiled extension).
        return PassResult(name, "failed", device, None, None, None, "", str(exc))
    if not isinstance(data.get("status"), str):
        return PassResult(name, "failed", device, None, None, None, "", f"the {name} pass reported no status")
    return PassResult(
        name=name,
        status=data["status"],
        device=data.get("device", device),
        build_seconds=data.get("build_seconds"),
        seconds=data.get("seconds"),
        peak_mb=data.get("peak_mb"),
        memory_kind=data.get("memory_kind", ""),
        detail=data.get("detail", ""),
        total_seconds=data.get("total_seconds"),
        traceback=tuple(data.get("traceback", ())),
    )


def run_deps(
    python: Path,
    out_dir: Path | None = None,
    *,
    device: str = "auto",
    passes: Sequence[str] = PASSES,
    timeout: float = 900.0,
    dwpose_config: Path | None = None,
    on_pass: Callable[[str], None] | None = None,
) -> DepsResult:
    """Run each pass in turn; write smoke-report.json into `out_dir` when given."""
    results = []
    with tempfile.TemporaryDirectory(prefix="envdoctor-deps-") as tmp:
        work = Path(tmp)
        speech = inputs.write_speech(work / "speech.wav")  # the shipped clip: no espeak-ng needed
        with ffmpeg_tool.lent_to(python) as lent:
            for name in passes:
                if on_pass:
                    on_pass(name)
                done = run_pass(
                    python,
                    name,
                    device=device,
                    speech=speech,
                    work=work,
                    timeout=timeout,
                    dwpose_config=dwpose_config,
                    env=lent.env,
                )
                if name == "ffmpeg" and lent.note:  # passed or not, on a borrowed binary: say so
                    done = replace(done, detail=f"{done.detail} ({lent.note})")
                results.append(done)
    result = DepsResult(tuple(results), str(python))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / record.REPORT_JSON).write_text(json.dumps(deps_document(result), indent=2) + "\n", encoding="utf-8")
    return result
