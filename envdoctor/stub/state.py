"""What a target has in place of mmcv's compiled ops, and whether the stub may be installed or removed there.

status(): run the facts probe (python, distributions, mmcv) and read the stub's state from it;
state_from_facts() gives the same from facts already gathered. refusal() is the one sentence install or
remove refuses with, before changing anything, when the target is not fit for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envdoctor.cachedir import cache_root
from envdoctor.errors import EnvdoctorError
from envdoctor.facts import Facts, canonical
from envdoctor.probe import facts_from_raw, run_facts_probe
from envdoctor.stub.wheel import DIST_NAME
from envdoctor.target import Target


class StubError(EnvdoctorError):
    """The stub could not be installed or removed; the message says why and what to do."""

    code = "stub-failed"


class StubRefused(StubError):
    """The target is not fit for the stub (no mmcv, compiled ops present, a hand-written _ext.py...)."""

    code = "stub-refused"


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
    return refusal(state, for_remove=False)


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


def untracked(state: StubState) -> bool:
    """An _ext.py that no distribution owns: hand-written, or a generated stub copied by hand."""
    return state.ext_state == "handwritten" or (state.ext_state == "stub" and state.stub_dist_version is None)


def refusal(state: StubState, *, for_remove: bool, replace_handwritten: bool = False) -> str | None:
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
    if untracked(state) and not replace_handwritten:
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
