"""Models: MuseTalk's weight files (with --models DIR) and the S3FD cache file."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from envdoctor.checks.base import CheckResult, Context, ResultFactory, Status, check
from envdoctor.checks.texts import said
from envdoctor.datafiles import load


def _file_problem(path: Path, spec: dict[str, Any]) -> str | None:
    size = path.stat().st_size
    if spec.get("size") and size != spec["size"]:
        kind = "truncated" if size < spec["size"] else "not the official file"
        return f"{size:,} bytes, expected {spec['size']:,} ({kind})"
    if spec.get("min_size") and size < spec["min_size"]:
        return f"{size:,} bytes, expected at least {spec['min_size']:,} (truncated?)"
    if spec.get("zip") or path.suffix in (".pth", ".bin", ".pt"):
        # torch's zip format keeps its directory at the end: a cut-off download loses it.
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head == b"PK\x03\x04" and not zipfile.is_zipfile(path):
            return f"{size:,} bytes, and its zip directory is missing (truncated)"
    return None


@check("models.files", "Models", "MuseTalk model files (--models DIR)")
def model_files(ctx: Context, result: ResultFactory) -> Iterator[CheckResult]:
    if ctx.models is None:
        yield result(Status.SKIP, found="no --models DIR given")
        return
    for spec in load("models.toml")["model"]:
        path = ctx.models / spec["path"]
        required = spec.get("scope", "inference") in ctx.scopes
        title = f"models/{spec['path']}"
        if not path.is_file():
            yield result(
                Status.FAIL if required else Status.SKIP,
                title=title,
                found="missing",
                expected=f"{spec['size']:,} bytes" if spec.get("size") else "present",
                why=spec["why"],
                **said("models.files", "missing"),
            )
            continue
        problem = _file_problem(path, spec)
        if problem:
            yield result(
                Status.FAIL if required else Status.WARN,
                title=title,
                found=problem,
                expected=f"{spec['size']:,} bytes" if spec.get("size") else "a complete file",
                **said("models.files", "incomplete", what=spec["why"], path=path),
            )
        else:
            yield result(Status.OK, title=title, found=f"{path.stat().st_size:,} bytes")


def torch_home(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("TORCH_HOME"):
        return Path(env["TORCH_HOME"])
    xdg = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "torch"


@check("models.s3fd", "Models", "S3FD face detector in the torch hub cache")
def s3fd(ctx: Context, result: ResultFactory) -> Iterator[CheckResult]:
    spec = load("models.toml")["s3fd"]
    path = (ctx.torch_home or torch_home()) / spec["path"]
    if not path.is_file():
        yield result(
            Status.WARN if ctx.models is None else Status.FAIL,
            found=f"{path} missing",
            expected="the cached file",
            **said("models.s3fd", "missing", what=spec["why"], file=path.name, folder=path.parent),
            breaker=19,
        )
        return
    problem = _file_problem(path, spec)
    if problem:
        yield result(
            Status.FAIL,
            found=f"{path}: {problem}",
            expected="a complete file",
            **said("models.s3fd", "incomplete", path=path),
            breaker=19,
        )
    else:
        yield result(Status.OK, found=f"{path} ({path.stat().st_size:,} bytes)")
