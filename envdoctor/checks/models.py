"""Models: MuseTalk's weight files (with --models DIR) and the S3FD cache file, from the one manifest
(envdoctor/data/models.toml). Every file is judged by sha256, as `envdoctor models verify` judges it, and the
hash is remembered (keyed by size, mtime, inode and device): the first check hashes, a repeat costs a stat
per file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from envdoctor.checks.base import CheckContext, CheckResult, ResultFactory, Status, check
from envdoctor.checks.texts import said
from envdoctor.models import manifest as manifest_mod
from envdoctor.models.hashing import HashCache
from envdoctor.models.manifest import MODELS, TORCH_HOME, Manifest, ModelFile, Roots
from envdoctor.models.verify import FileVerdict, Missing, SizeOnly, Verified, judge


def _required(manifest: Manifest, f: ModelFile, scopes: tuple[str, ...]) -> bool:
    wanted = {ep for s in scopes if s in manifest.purposes for ep in manifest.entry_points(s, "v15")}
    return bool(wanted & set(f.needed_for))


def _expected(f: ModelFile) -> str:
    if f.sha256:
        return f"{f.size:,} bytes, sha256 {f.sha256[:12]}…" if f.size else f"sha256 {f.sha256[:12]}…"
    return f"{f.size:,} bytes" if f.size else "a complete file"


def _found(v: FileVerdict) -> str:
    o = v.outcome
    where = f" ({v.alternative.path})" if v.alternative else ""
    if isinstance(o, Verified):
        return f"{o.size:,} bytes, sha256 verified{where}"
    if isinstance(o, SizeOnly):
        return f"{o.size:,} bytes{where}, {o.reason}"
    assert not isinstance(o, Missing)
    return o.detail if o.detail.startswith(f"{o.size:,}") else f"{o.size:,} bytes, {o.detail}"


def torch_home(environ: dict[str, str] | None = None) -> Path:
    return manifest_mod.torch_home(os.environ if environ is None else environ)


@check("models.files", "Models", "MuseTalk model files (--models DIR)")
def model_files(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    if ctx.models is None:
        yield result(Status.SKIP, found="no --models DIR given")
        return
    manifest = manifest_mod.active()
    roots = Roots(ctx.models, ctx.torch_home or torch_home())
    cache = HashCache()
    try:
        for f in manifest.files:
            if f.root != MODELS:
                continue
            required = _required(manifest, f, ctx.scopes)
            v = judge(manifest, f, roots, cache)
            if isinstance(v.outcome, Missing):
                yield result(
                    Status.FAIL if required else Status.SKIP,
                    title=f.title,
                    found="missing",
                    expected=_expected(f),
                    why=f.why,
                    **said("models.files", "missing", models=ctx.models),
                )
            elif not v.ok:
                yield result(
                    Status.FAIL if required else Status.WARN,
                    title=f.title,
                    found=_found(v),
                    expected=_expected(f),
                    **said("models.files", "incomplete", what=f.why, models=ctx.models),
                )
            else:
                yield result(Status.OK, title=f.title, found=_found(v))

    finally:
        cache.save()  # a verified file's hash is remembered: the next check costs a stat


@check("models.s3fd", "Models", "S3FD face detector in the torch hub cache")
def s3fd(ctx: CheckContext, result: ResultFactory) -> Iterator[CheckResult]:
    manifest = manifest_mod.active()
    roots = Roots(ctx.models or Path("models"), ctx.torch_home or torch_home())
    cache = HashCache()
    try:
        for f in manifest.files:
            if f.root != TORCH_HOME:
                continue
            v = judge(manifest, f, roots, cache)
            if isinstance(v.outcome, Missing):
                yield result(
                    Status.WARN if ctx.models is None else Status.FAIL,
                    found=f"{v.path} missing",
                    expected="the cached file",
                    **said("models.s3fd", "missing", what=f.why, file=v.path.name, folder=v.path.parent),
                    breaker=19,
                )
            elif not v.ok:
                yield result(
                    Status.FAIL,
                    found=f"{v.path}: {_found(v)}",
                    expected="a complete file",
                    **said("models.s3fd", "incomplete", path=v.path),
                    breaker=19,
                )
            else:
                yield result(Status.OK, found=f"{v.path} ({_found(v)})")
    finally:
        cache.save()
