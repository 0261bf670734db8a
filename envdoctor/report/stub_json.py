"""`envdoctor stub ... --json`: the generated stub, the target's state, what install or remove did."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from envdoctor.document import head
from envdoctor.stub import GeneratedStub, InstallResult, RemoveResult, StubState
from envdoctor.stub.kept import Drift

SCHEMA = "envdoctor.stub"
"""Every `stub ... --json` document; `command` says which one wrote it."""


def _dump(command: str, data: dict[str, Any]) -> str:
    return json.dumps({**head(SCHEMA), "command": f"stub {command}", **data}, indent=2)


def stub_summary(stub: GeneratedStub) -> dict[str, Any]:
    return {
        "mmcv": stub.mmcv_version,
        "sources_sha256": stub.sources_sha256,
        "origin": stub.origin,
        "ops": len(stub.ops),
        "real": list(stub.real),
        "raising": len(stub.raising),
        "sha256": stub.sha256,
    }


def state_dict(state: StubState) -> dict[str, Any]:
    return {
        "python": state.python,
        "mmcv": state.mmcv_version,
        "provider": state.provider,
        "ext": state.ext_state,
        "ext_path": str(state.ext_path) if state.ext_path else None,
        "stub_distribution": state.stub_dist_version,
        "header": state.header,
        "real": state.real,
        "raising": state.raising,
        "stale": state.stale,
    }


def kept(drifts: Sequence[Drift]) -> str:
    return _dump(
        "kept", {"kept": [{"mmcv": d.kept.version, "path": str(d.kept.path), "state": d.state} for d in drifts]}
    )


def generated(stub: GeneratedStub, seconds: float, output: str | None) -> str:
    return _dump("generate", {**stub_summary(stub), "seconds": round(seconds, 3), "output": output})


def status(state: StubState) -> str:
    return _dump("status", state_dict(state))


def installed(result: InstallResult) -> str:
    return _dump(
        "install",
        {
            "action": result.action,
            "backup": result.backup,
            "stub": stub_summary(result.stub),
            "after": state_dict(result.after),
        },
    )


def removed(result: RemoveResult) -> str:
    return _dump(
        "remove",
        {
            "removed": result.removed_version,
            "restored_caches": list(result.restored_caches),
            "after": state_dict(result.after),
        },
    )
