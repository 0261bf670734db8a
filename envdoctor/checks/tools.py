"""Tools: external programs MuseTalk calls."""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.checks.base import CheckResult, Context, Status, check, result


@check("tools.ffmpeg", "Tools", "ffmpeg with libx264 on PATH")
def ffmpeg(ctx: Context) -> Iterator[CheckResult]:
    f = ctx.facts.ffmpeg or {}
    if not f.get("path"):
        yield result(
            "tools.ffmpeg",
            Status.FAIL,
            found="no ffmpeg on PATH",
            expected="ffmpeg with the libx264 encoder",
            why="MuseTalk calls ffmpeg to read audio and write the mp4; without it a task fails and the script "
            "still exits 0, leaving no video (breaker #18)",
            fix="apt-get install ffmpeg  (or conda install -c conda-forge ffmpeg; brew install ffmpeg)",
            breaker=18,
        )
    elif not f.get("libx264"):
        yield result(
            "tools.ffmpeg",
            Status.FAIL,
            found=f"ffmpeg {f.get('version')} at {f['path']} without libx264",
            expected="ffmpeg with the libx264 encoder",
            why="MuseTalk encodes with -vcodec libx264; without it the video step fails silently (breaker #18)",
            fix="install an ffmpeg build with libx264 (Debian/Ubuntu's ffmpeg package has it)",
            breaker=18,
        )
    else:
        aac = "" if f.get("aac") else " (no aac encoder)"
        yield result("tools.ffmpeg", Status.OK, found=f"ffmpeg {f.get('version')} at {f['path']} with libx264{aac}")


@check("tools.nvcc", "Tools", "CUDA compiler (only for building mmcv)")
def nvcc(ctx: Context) -> Iterator[CheckResult]:
    n = ctx.facts.nvcc or {}
    torch_cuda = (ctx.facts.torch or {}).get("cuda")
    if not n.get("path"):
        yield result("tools.nvcc", Status.OK, found="no nvcc (needed only to build mmcv from source)")
        return
    found = f"nvcc {n.get('version')} at {n['path']}"
    if torch_cuda and n.get("version") and torch_cuda.split(".")[0] != str(n["version"]).split(".")[0]:
        yield result(
            "tools.nvcc",
            Status.WARN,
            found=found + f"; torch is built with CUDA {torch_cuda}",
            expected=f"nvcc {torch_cuda.split('.')[0]}.x to build mmcv for this torch",
            why="a source build of mmcv with a different CUDA major than torch's fails or loads with undefined symbols",
            fix="use a prebuilt mmcv wheel (envdoctor plan), or an nvcc that matches torch's CUDA",
        )
    else:
        yield result("tools.nvcc", Status.OK, found=found)
