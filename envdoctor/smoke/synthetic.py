"""`smoke --synthetic-weights`: a stand-in models/ tree, so MuseTalk runs before anyone downloads 4 GB.

The files are written inside the target (probes/smoke/synth_weights.py) with the target's own torch,
diffusers, transformers, mmpose (or envdoctor's port) and the checkout's own BiSeNet and S3FD
classes, in the formats MuseTalk loads. The lip-sync verdict of such a run is "not assessed"; the
structural checks still apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor import datafiles
from envdoctor.inside import InsideError, TimedOut, run_json
from envdoctor.resources import data_dir, smoke_script
from envdoctor.smoke import models as model_files

INSIDE = smoke_script("synth_weights")
DWPOSE_CONFIG = Path("musetalk/utils/dwpose/rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288.py")
DEFAULT_SECONDS = 0.6
"""Speech length for a synthetic run: enough frames to exercise every stage, cheap on a CPU
(MuseTalk costs seconds per frame there, whatever the weights)."""
TORCH_HOME = ".torch-home"


@dataclass(frozen=True)
class SyntheticModels:
    models: str
    steps: tuple[dict[str, Any], ...]
    env: dict[str, str] = field(default_factory=dict)
    """What the MuseTalk run needs in its environment (TORCH_HOME, where the S3FD file is)."""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.steps) and all(s.get("ok") for s in self.steps)

    def summary(self) -> str:
        if self.error:
            return f"synthetic weights not written: {self.error}"
        failed = [f"{s['name']} ({s['detail']})" for s in self.steps if not s.get("ok")]
        total = sum(int(s.get("bytes") or 0) for s in self.steps)
        if failed:
            return f"synthetic weights: FAILED {'; '.join(failed)}"
        return f"synthetic weights: {len(self.steps)} parts, {total / 2**30:.2f} GiB in {self.models}"

    def to_dict(self) -> dict[str, Any]:
        return {"models": self.models, "ok": self.ok, "steps": list(self.steps), "env": self.env, "error": self.error}


def build(
    python: Path,
    checkout: Path,
    models: Path,
    *,
    timeout: float = 1800.0,
    unet_config: dict[str, Any] | None = None,
    face_size: tuple[int, int] = (448, 512),
) -> SyntheticModels:
    """Write the tree into `models` (and the S3FD file under models/.torch-home) using the target.

    `unet_config` replaces MuseTalk v1.5's UNet shape (tests use a small one; the weights file
    then only fits a checkout whose musetalk.json says the same, which the tree's own does).
    """
    checkout = checkout.resolve()
    models = models.resolve()
    config = checkout / DWPOSE_CONFIG
    if not config.is_file():
        return SyntheticModels(str(models), (), error=f"{checkout} has no {DWPOSE_CONFIG}")
    cfg = dict(unet_config or datafiles.load("musetalk-unet-v15.json"))
    cfg = {k: v for k, v in cfg.items() if k != "_comment"}
    unet_json = models / "musetalkV15" / "musetalk.json"
    unet_json.parent.mkdir(parents=True, exist_ok=True)
    unet_json.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    torch_home = models / TORCH_HOME
    args = [
        str(INSIDE),
        "--models",
        str(models),
        "--torch-home",
        str(torch_home),
        "--data",
        str(data_dir()),
        "--unet-config",
        str(unet_json),
        "--dwpose-config",
        str(DWPOSE_CONFIG),
        "--s3fd-name",
        model_files.s3fd_name(),
        "--face-size",
        str(face_size[0]),
        str(face_size[1]),
    ]
    try:
        ran = run_json(python, args, what="the weights writer", cwd=checkout, timeout=timeout)
    except TimedOut:
        return SyntheticModels(str(models), (), error=f"writing them took longer than {timeout:g} s")
    except InsideError as exc:
        return SyntheticModels(str(models), (), error=str(exc))
    steps = ran.data.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        return SyntheticModels(str(models), (), error="the weights writer reported no steps")
    return SyntheticModels(str(models), tuple(steps), env={"TORCH_HOME": str(torch_home)})
