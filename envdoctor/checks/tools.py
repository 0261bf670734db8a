"""Tools: external programs MuseTalk calls."""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.checks.base import CheckContext, CheckResult, ResultFactory, Status, check
from envdoctor.checks.texts import said
from envdoctor.facts import Ffmpeg


def _where(f: Ffmpeg) -> str:
    """Where MuseTalk's `ffmpeg` comes from, said with the file behind a link."""
    place = "on PATH"
    if f.source == "environment":
        # MuseTalk runs `ffmpeg` by name: the bin is on PATH once the environment is activated.
        place = "in the environment's bin: activate the environment, or pass MuseTalk --ffmpeg_path to that bin"
    behind = f" -> {f.real_path}" if f.real_path and f.real_path != f.path else ""
    return f"at {f.path}{behind} ({place})"


EXPECTED_FFMPEG = "ffmpeg with the libx264 and aac encoders"


@check("tools.ffmpeg", "Tools", "the ffmpeg MuseTalk runs (the environment's bin, then PATH), with libx264 and AAC")
def ffmpeg(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    f = ctx.facts.ffmpeg
    if not f.path:
        yield result(
            Status.FAIL,
            found="no ffmpeg in the environment's bin or on PATH",
            expected=EXPECTED_FFMPEG,
            **said("tools.ffmpeg", "missing"),
            breaker=18,
        )
    elif not f.usable:
        texts = said("tools.ffmpeg", "no-libx264") if "libx264" in f.missing else said("tools.ffmpeg", "no-aac")
        yield result(
            Status.FAIL,
            found=f"ffmpeg {f.version} {_where(f)} without {' and '.join(f.missing)}",
            expected=EXPECTED_FFMPEG,
            **texts,
            breaker=18,
        )
    else:
        yield result(Status.OK, found=f"ffmpeg {f.version} {_where(f)} with libx264 and aac")


@check("tools.nvcc", "Tools", "CUDA compiler (only for building mmcv)")
def nvcc(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    n = ctx.facts.nvcc
    torch_cuda = ctx.facts.torch.cuda if ctx.facts.torch is not None else None
    if not n.path:
        yield result(Status.OK, found="no nvcc (needed only to build mmcv from source)")
        return
    found = f"nvcc {n.version} at {n.path}"
    if torch_cuda and n.version and torch_cuda.split(".")[0] != n.version.split(".")[0]:
        yield result(
            Status.WARN,
            found=found + f"; torch is built with CUDA {torch_cuda}",
            expected=f"nvcc {torch_cuda.split('.')[0]}.x to build mmcv for this torch",
            **said("tools.nvcc", "cuda-mismatch"),
        )
    else:
        yield result(Status.OK, found=found)
