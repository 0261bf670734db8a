"""`envdoctor stub` for people: what the target has in place of mmcv's compiled ops, what install or remove did."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from envdoctor.stub import DIST_NAME, GeneratedStub, InstallResult, RemoveResult, StubState
from envdoctor.stub.kept import Drift


def describe(state: StubState) -> str:
    if state.ext_state == "stub":
        owner = f"{DIST_NAME} {state.stub_dist_version}" if state.stub_dist_version else "no package"
        stale = (
            f"; STALE: generated from mmcv {state.header.get('mmcv')}, run `envdoctor stub install`"
            if state.stale
            else ""
        )
        return (
            f"mmcv {state.mmcv_version} ({state.provider}): envdoctor's _ext stub, {state.real} ops real, "
            f"{state.raising} raise when called (installed by {owner}){stale}"
        )
    words = {
        "no-mmcv": "no mmcv package",
        "missing": f"mmcv {state.mmcv_version} ({state.provider}) without compiled ops and without a stub",
        "compiled": f"mmcv {state.mmcv_version} with its compiled ops ({', '.join(state.ext_files)})",
        "handwritten": f"mmcv {state.mmcv_version} with a hand-written {state.ext_path} (no envdoctor header)",
    }
    return words.get(state.ext_state or "", state.ext_state or "unknown")


def status(state: StubState) -> str:
    return f"{state.python}: {describe(state)}"


def kept(drifts: Sequence[Drift], *, check: bool) -> str:
    verb = "differs from" if check else "rewritten from"
    return "\n".join(
        f"{d.kept.path}: {'up to date' if d.state == 'same' else verb + ' a fresh generation'} ({d.state})"
        for d in drifts
    )


def generated(stub: GeneratedStub, source: Path, seconds: float, output: str | None) -> str:
    """The one line `stub generate` writes to stderr (the module itself goes to stdout or --output)."""
    return (
        f"mmcv {stub.mmcv_version}: {len(stub.ops)} ops, {len(stub.real)} real, {len(stub.raising)} raise "
        f"MmcvExtStubError; read from {source} in {seconds:.2f} s"
        + (f", written to {output}" if output and output != "-" else "")
    )


def installed(result: InstallResult) -> str:
    stub = result.stub
    verbs = {"installed": "installed", "replaced": "replaced the earlier _ext.py with", "unchanged": "already has"}
    lines = [f"moved the untracked {result.before.ext_path} to {result.backup}"] if result.backup else []
    lines += [
        f"{result.target}: {verbs[result.action]} {DIST_NAME} {stub.mmcv_version} ({result.after.ext_path})",
        f"  {len(stub.ops)} ops: {len(stub.real)} real ({', '.join(stub.real)}), {len(stub.raising)} raise "
        "MmcvExtStubError when called",
        f"  remove it with: envdoctor stub remove --python {result.target}",
    ]
    return "\n".join(lines)


def removed(result: RemoveResult) -> str:
    lines = [f"{result.target}: removed {DIST_NAME} {result.removed_version}; now {describe(result.after)}"]
    if result.restored_caches:
        lines.append(f"  put back {len(result.restored_caches)} bytecode caches of mmcv that uv deleted with it")
    return "\n".join(lines)
