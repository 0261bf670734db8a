"""Tools: external programs MuseTalk calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from envdoctor.checks.base import CheckResult, Context, ResultFactory, Status, check
from envdoctor.checks.texts import said


def _where(f: dict[str, Any]) -> str:
    """Where MuseTalk's `ffmpeg` comes from, said with the file behind a link."""
    place = "on PATH"
    if f.get("source") == "environment":
        # MuseTalk runs `ffmpeg` by name: the bin is on PATH once the environment is activated.
        place = "in the environment's bin: activate the environment, or pass MuseTalk --ffmpeg_path to that bin"
    real = f.get("real_path")
    behind = f" -> {real}" if real and real != f["path"] else ""
    return f"at {f['path']}{behind} ({place})"


@check("tools.ffmpeg", "Tools", "the ffmpeg MuseTalk runs (the environment's bin, then PATH), with libx264")
def ffmpeg(ctx: Context, result: ResultFactory) -> Iterator[CheckResult]:
    f = ctx.facts.ffmpeg or {}
    if not f.get("path"):
        yield result(
            Status.FAIL,
            found="no ffmpeg in the environment's bin or on PATH",
            expected="ffmpeg with the libx264 encoder",
            **said("tools.ffmpeg", "missing"),
            breaker=18,
        )
    elif not f.get("libx264"):
        yield result(
            Status.FAIL,
            found=f"ffmpeg {f.get('version')} {_where(f)} without libx264",
            expected="ffmpeg with the libx264 encoder",
            **said("tools.ffmpeg", "no-libx264"),
            breaker=18,
        )
    else:
        aac = "" if f.get("aac") else " (no aac encoder)"
        yield result(Status.OK, found=f"ffmpeg {f.get('version')} {_where(f)} with libx264{aac}")


@check("tools.nvcc", "Tools", "CUDA compiler (only for building mmcv)")
def nvcc(ctx: Context, result: ResultFactory) -> Iterator[CheckResult]:
    n = ctx.facts.nvcc or {}
    torch_cuda = (ctx.facts.torch or {}).get("cuda")
    if not n.get("path"):
        yield result(Status.OK, found="no nvcc (needed only to build mmcv from source)")
        return
    found = f"nvcc {n.get('version')} at {n['path']}"
    if torch_cuda and n.get("version") and torch_cuda.split(".")[0] != str(n["version"]).split(".")[0]:
        yield result(
            Status.WARN,
            found=found + f"; torch is built with CUDA {torch_cuda}",
            expected=f"nvcc {torch_cuda.split('.')[0]}.x to build mmcv for this torch",
            **said("tools.nvcc", "cuda-mismatch"),
        )
    else:
        yield result(Status.OK, found=found)
