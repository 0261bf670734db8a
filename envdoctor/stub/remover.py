"""Remove the `_ext` stub from a target environment: uninstall `mmcv-ext-stub` with uv and confirm the file is gone.

Refuses, with one sentence and before changing anything, when there is no such distribution (stub/state.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from envdoctor.stub.installer import uv_or_error
from envdoctor.stub.state import StubError, StubRefused, StubState, refusal, status
from envdoctor.stub.wheel import DIST_NAME
from envdoctor.target import Target
from envdoctor.uv import Uv, UvError


@dataclass(frozen=True)
class RemoveResult:
    target: str
    removed_version: str
    before: StubState
    after: StubState
    restored_caches: tuple[str, ...] = ()
    """Bytecode caches of other mmcv modules that uv deleted along with `mmcv/__pycache__`, put back as they were."""


def remove(target: Target, *, uv: Uv | None = None) -> RemoveResult:
    """Uninstall `mmcv-ext-stub` with uv; raises StubRefused when there is no such distribution."""
    before = status(target)
    refused = refusal(before, for_remove=True)
    if refused:
        raise StubRefused(refused)
    uv = uv_or_error(uv)
    caches = _foreign_caches(before)
    try:
        uv.pip_uninstall(target.python, [DIST_NAME])
    except UvError as exc:
        raise StubError(f"uv could not uninstall {DIST_NAME} from {target.python}: {exc}") from exc
    restored = _restore(caches)
    after = status(target)
    if after.stub_dist_version is not None or after.ext_state == "stub":
        raise StubError(f"after uninstalling {DIST_NAME}, {after.ext_path} is still there.")
    assert before.stub_dist_version is not None
    return RemoveResult(str(target.python), before.stub_dist_version, before, after, restored)


@dataclass(frozen=True)
class _Cache:
    path: Path
    data: bytes
    mode: int
    times: tuple[int, int]


def _foreign_caches(state: StubState) -> list[_Cache]:
    # uv deletes the whole __pycache__ folder beside a .py file it uninstalls, including the caches
    # of mmcv's own modules; keep them so that removal leaves site-packages exactly as it was.
    if not state.mmcv_dir:
        return []
    folder = Path(state.mmcv_dir) / "__pycache__"
    out: list[_Cache] = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("_ext."):
                st = path.stat()
                out.append(_Cache(path, path.read_bytes(), st.st_mode, (st.st_atime_ns, st.st_mtime_ns)))
    return out


def _restore(caches: list[_Cache]) -> tuple[str, ...]:
    restored: list[str] = []
    for cache in caches:
        if cache.path.exists():
            continue
        try:
            cache.path.parent.mkdir(exist_ok=True)
            cache.path.write_bytes(cache.data)
            os.chmod(cache.path, cache.mode & 0o7777)
            os.utime(cache.path, ns=cache.times)
            restored.append(str(cache.path))
        except OSError:  # a cache only: Python rebuilds it on the next import
            continue
    return tuple(restored)
