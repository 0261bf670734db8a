"""Install the `_ext` stub in a target environment, as a distribution uv tracks.

Read the target's own mmcv (its folder in site-packages, read with ast, never imported), generate
`mmcv/_ext.py`, pack it as the wheel `mmcv-ext-stub`, install that wheel with uv, then probe the target
again to confirm the file is there and is the stub just generated. Refuses, with one sentence and before
changing anything, when the target is not fit for it (stub/state.py says when).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from envdoctor.stub.generate import GeneratedStub, generate
from envdoctor.stub.state import StubError, StubRefused, StubState, backup_dir, refusal, status, untracked
from envdoctor.stub.wheel import DIST_NAME, build_wheel, wheel_folder, wheel_version
from envdoctor.target import Target
from envdoctor.uv import Indexes, Uv, UvError, find_uv


@dataclass(frozen=True)
class InstallResult:
    target: str
    action: str
    """installed | replaced (an older stub, or an untracked _ext.py moved aside) | unchanged (already there)"""
    stub: GeneratedStub
    wheel: str
    """The wheel's file name (the wheel itself is kept in envdoctor's wheelhouse, stub/wheel_folder())."""
    before: StubState
    after: StubState
    backup: str | None = None
    """Where a hand-written (or untracked) _ext.py was moved before installing, with replace_handwritten."""


def _move_aside(state: StubState) -> str:
    assert state.ext_path is not None
    data = state.ext_path.read_bytes()
    dest = backup_dir() / f"_ext-{hashlib.sha256(data).hexdigest()[:16]}.py"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    state.ext_path.unlink()
    return str(dest)


def uv_or_error(uv: Uv | None) -> Uv:
    if uv is not None:
        return uv
    try:
        return find_uv()
    except FileNotFoundError as exc:
        raise StubError(str(exc)) from exc


def install(target: Target, *, replace_handwritten: bool = False, uv: Uv | None = None) -> InstallResult:
    """Generate the stub from the target's own mmcv and install it as `mmcv-ext-stub` with uv.

    Raises StubRefused (nothing changed) when the target has no mmcv, already has compiled ops, is
    externally managed, or has an `_ext.py` that no package owns (unless replace_handwritten, which
    first moves that file to backup_dir() and says so in the result); StubError when uv fails or
    the file found afterwards is not the stub that was generated.
    """
    before = status(target)
    refused = refusal(before, for_remove=False, replace_handwritten=replace_handwritten)
    if refused:
        raise StubRefused(refused)
    assert before.mmcv_dir is not None
    stub = generate(before.mmcv_dir)
    backup = _move_aside(before) if untracked(before) else None
    if before.header.get("sources") == f"sha256:{stub.sources_sha256}" and before.ext_path is not None:
        try:
            same = before.ext_path.read_text(encoding="utf-8") == stub.text
        except OSError:
            same = False
        if same and before.stub_dist_version == wheel_version(stub):
            return InstallResult(str(target.python), "unchanged", stub, "", before, before)
    uv = uv_or_error(uv)
    # Kept, not temporary: `envdoctor lock` takes the wheel of an installed stub from the wheelhouse.
    wheel = build_wheel(stub, wheel_folder())
    try:
        uv.pip_install(
            target.python,
            [str(wheel)],
            indexes=Indexes(no_index=True),
            extra=["--no-deps", "--reinstall-package", DIST_NAME],
        )
    except UvError as exc:
        raise StubError(f"uv could not install {wheel.name} into {target.python}: {exc}") from exc
    after = status(target)
    if after.ext_state != "stub" or after.header.get("sources") != f"sha256:{stub.sources_sha256}":
        raise StubError(
            f"after installing {wheel.name}, {after.ext_path} is {after.ext_state}, not the stub just generated."
        )
    action = "replaced" if before.stub_dist_version is not None or backup else "installed"
    return InstallResult(str(target.python), action, stub, wheel.name, before, after, backup)
