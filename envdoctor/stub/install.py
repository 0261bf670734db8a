"""Install and remove the `_ext` stub in a target environment, as a distribution uv tracks.

install(): read the target's own mmcv (its folder in site-packages, read with ast, never imported),
generate `mmcv/_ext.py`, pack it as the wheel `mmcv-ext-stub`, install that wheel with uv, then
probe the target again to confirm the file is there and is the stub just generated.
remove(): uninstall `mmcv-ext-stub` with uv and confirm the file is gone.
Both refuse, with one sentence and before changing anything, when the target is not fit for it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from envdoctor.cachedir import cache_root
from envdoctor.errors import UsageError
from envdoctor.facts import Facts, canonical
from envdoctor.probe import facts_from_raw, run_facts_probe
from envdoctor.stub.generate import GeneratedStub, generate
from envdoctor.stub.wheel import DIST_NAME, build_wheel, wheel_version
from envdoctor.target import Target
from envdoctor.uv import Indexes, Uv, UvError, find_uv


class StubError(UsageError):
    """The stub could not be installed or removed; the message says why and what to do."""


class StubRefused(StubError):
    """The target is not fit for the stub (no mmcv, compiled ops present, a hand-written _ext.py...)."""


@dataclass(frozen=True)
class StubState:
    """What a target has in place of mmcv's compiled ops, as the facts probe sees it."""

    python: str
    mmcv_version: str | None
    mmcv_dir: str | None
    provider: str | None
    """The distribution that installs the `mmcv` package (mmcv or mmcv-lite)."""
    ext_state: str | None
    """no-mmcv | missing | compiled | stub | handwritten (the facts probe's words); None when it could not tell."""
    ext_files: tuple[str, ...]
    header: dict[str, str]
    """The stub's header pairs when ext_state is "stub"."""
    stub_dist_version: str | None
    """The version of the installed `mmcv-ext-stub` distribution, None when it is not installed."""
    externally_managed: bool
    damaged: tuple[str, ...] = ()
    """mmcv's own distributions (or the stub's) whose metadata could not be read: name, file and problem."""

    @property
    def ext_path(self) -> Path | None:
        return Path(self.mmcv_dir) / "_ext.py" if self.mmcv_dir else None

    @property
    def stale(self) -> bool:
        """The installed stub was generated from another mmcv release than the one installed now."""
        made_for = self.header.get("mmcv")
        return self.ext_state == "stub" and bool(made_for) and made_for != self.mmcv_version

    @property
    def real(self) -> int | None:
        return int(self.header["real"]) if self.header.get("real", "").isdigit() else None

    @property
    def raising(self) -> int | None:
        return int(self.header["raising"]) if self.header.get("raising", "").isdigit() else None


@dataclass(frozen=True)
class InstallResult:
    target: str
    action: str
    """installed | replaced (an older stub, or an untracked _ext.py moved aside) | unchanged (already there)"""
    stub: GeneratedStub
    wheel: str
    """The wheel's file name (the wheel itself was built in a temporary folder)."""
    before: StubState
    after: StubState
    backup: str | None = None
    """Where a hand-written (or untracked) _ext.py was moved before installing, with replace_handwritten."""


@dataclass(frozen=True)
class RemoveResult:
    target: str
    removed_version: str
    before: StubState
    after: StubState
    restored_caches: tuple[str, ...] = ()
    """Bytecode caches of other mmcv modules that uv deleted along with `mmcv/__pycache__`, put back as they were."""


_MMCV_DISTS = ("mmcv", "mmcv-lite", "mmcv-full", DIST_NAME)


def state_from_facts(facts: Facts, python: str | None = None) -> StubState:
    """The StubState of the target `facts` describe (a planner judging the lite-stub strategy holds them
    already); `python` names the target in sentences (default: the interpreter the probe ran in)."""
    mmcv = facts.mmcv
    provider = next((d.name for d in facts.mmcv_providers()), None)
    stub_dist = facts.dist(DIST_NAME)
    return StubState(
        python=python if python is not None else facts.python.executable or "",
        mmcv_version=mmcv.version,
        mmcv_dir=mmcv.package_dir,
        provider=provider,
        ext_state=mmcv.ext.state,
        ext_files=mmcv.ext.files,
        header=dict(mmcv.ext.stub or {}),
        stub_dist_version=stub_dist.version if stub_dist else None,
        externally_managed=bool(facts.python.externally_managed),
        damaged=tuple(d.describe() for d in facts.damaged if canonical(d.name) in _MMCV_DISTS),
    )


def why_not_install(state: StubState) -> str | None:
    """The sentence install() would refuse with for this state, or None when it would go ahead."""
    return _refusal(state, for_remove=False)


# What the stub's state is made of; GPU, nvcc and ffmpeg facts would only cost time here.
_SECTIONS = ("python", "distributions", "mmcv")


def status(target: Target) -> StubState:
    """What the target has in place of mmcv's compiled ops (runs the facts probe; changes nothing)."""
    raw = run_facts_probe(target, sections=_SECTIONS)
    facts = facts_from_raw(raw, [], None)
    if facts.mmcv.ext.state is None:  # the probe could not look into mmcv: nothing here can be judged
        said = [e for e in facts.probe_errors if e.startswith("mmcv:")] or ["the facts probe said nothing about it"]
        raise StubError(f"could not inspect mmcv in {target.python}: {'; '.join(said)}")
    return state_from_facts(facts, str(target.python))


def _untracked(state: StubState) -> bool:
    """An _ext.py that no distribution owns: hand-written, or a generated stub copied by hand."""
    return state.ext_state == "handwritten" or (state.ext_state == "stub" and state.stub_dist_version is None)


def _refusal(state: StubState, *, for_remove: bool, replace_handwritten: bool = False) -> str | None:
    where = state.python
    if state.externally_managed:
        return (
            f"{where} is an externally managed interpreter (PEP 668): envdoctor will not change it; "
            "make a virtual environment (`uv venv`) and treat that."
        )
    if state.damaged:
        return (
            f"the metadata of {'; '.join(state.damaged)} cannot be read: envdoctor will not change mmcv over it; "
            "reinstall it first (`uv pip install --reinstall NAME`)."
        )
    if for_remove:
        if state.stub_dist_version is not None:
            return None
        if state.ext_state in ("stub", "handwritten"):
            return (
                f"{state.ext_path} is not installed by the {DIST_NAME} distribution, so uv cannot remove it; "
                "delete that file yourself if you no longer want it."
            )
        return f"{where} has no {DIST_NAME} installed: there is nothing to remove."
    if state.ext_state == "no-mmcv":
        return f"{where} has no mmcv package: install mmcv-lite (or mmcv) first, then the stub."
    if state.ext_state == "compiled":
        files = ", ".join(f for f in state.ext_files if not f.endswith(".py"))
        return (
            f"mmcv {state.mmcv_version} in {where} already has its compiled ops ({files}): "
            "a stub is not needed and would be shadowed by them."
        )
    if _untracked(state) and not replace_handwritten:
        what = "a hand-written _ext.py" if state.ext_state == "handwritten" else "a generated stub copied by hand"
        return (
            f"{state.ext_path} is {what} that no package owns: envdoctor will not overwrite it silently; "
            f"pass --replace-handwritten (replace_handwritten=True) to move it to {backup_dir()} and install the stub."
        )
    if not state.mmcv_dir:
        return f"mmcv's package folder in {where} could not be found."
    return None


def backup_dir() -> Path:
    """Where install(replace_handwritten=True) moves an untracked _ext.py (outside site-packages)."""
    return cache_root() / "replaced-ext"


def _move_aside(state: StubState) -> str:
    assert state.ext_path is not None
    data = state.ext_path.read_bytes()
    dest = backup_dir() / f"_ext-{hashlib.sha256(data).hexdigest()[:16]}.py"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    state.ext_path.unlink()
    return str(dest)


def _uv(uv: Uv | None) -> Uv:
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
    refusal = _refusal(before, for_remove=False, replace_handwritten=replace_handwritten)
    if refusal:
        raise StubRefused(refusal)
    assert before.mmcv_dir is not None
    stub = generate(before.mmcv_dir)
    backup = _move_aside(before) if _untracked(before) else None
    if before.header.get("sources") == f"sha256:{stub.sources_sha256}" and before.ext_path is not None:
        try:
            same = before.ext_path.read_text(encoding="utf-8") == stub.text
        except OSError:
            same = False
        if same and before.stub_dist_version == wheel_version(stub):
            return InstallResult(str(target.python), "unchanged", stub, "", before, before)
    uv = _uv(uv)
    with tempfile.TemporaryDirectory(prefix="envdoctor-stub-") as tmp:
        wheel = build_wheel(stub, Path(tmp))
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


def remove(target: Target, *, uv: Uv | None = None) -> RemoveResult:
    """Uninstall `mmcv-ext-stub` with uv; raises StubRefused when there is no such distribution."""
    before = status(target)
    refusal = _refusal(before, for_remove=True)
    if refusal:
        raise StubRefused(refusal)
    uv = _uv(uv)
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
