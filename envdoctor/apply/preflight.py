"""What can be decided before any change: is each index the plan needs reachable, and what then.

- torch from the PyTorch index (uv's --torch-backend auto) when download.pytorch.org cannot be reached
  (a company mirror that serves only PyPI): torch comes from the index that can be reached, said out loud
  with what that build is.
- torchvision beside a torch that has none: if the index that serves that torch cannot be reached, fix
  refuses here, before anything changes (never apply, then roll back).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

from envdoctor.apply.request import PYPI, Sources
from envdoctor.datafiles import load
from envdoctor.plan import Plan
from envdoctor.uv import Indexes

TIMEOUT = 8.0


def pytorch_index_root() -> str:
    """The PyTorch wheel index (lock.toml's template, without the accelerator)."""
    template = str(load("lock.toml")["torch"]["index"])
    return template.split("{accelerator}")[0]


def unreachable(url: str, timeout: float = TIMEOUT) -> str | None:
    """Why `url` cannot be reached (a short phrase), or None when it answers."""
    if url.startswith("file://"):
        return None if Path(url[len("file://") :]).exists() else "the folder does not exist"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None  # it answered; a 403/404 on the index root is still a reachable server
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return str(reason) or type(exc).__name__


def torch_build(os_name: str, machine: str) -> str:
    if os_name == "linux" and machine in ("x86_64", "amd64"):
        return "PyPI's torch for Linux x86_64 is a CUDA build (it also runs without a GPU)"
    return f"PyPI's torch for {os_name} {machine} is a CPU build"


@dataclass(frozen=True)
class Prepared:
    sources: Sources
    notices: tuple[str, ...] = ()
    refusal: str | None = None


def prepare(plan: Plan, sources: Sources) -> Prepared:
    kinds = {s.kind: s for s in plan.steps}
    if sources.torch is not None:
        return Prepared(sources)  # the user named torch's index: it is used as given
    if "torch" in kinds:
        root = pytorch_index_root()
        why = unreachable(root)
        if why is not None:
            fallback = sources.indexes.index_url or PYPI
            ctx = plan.context
            notice = (
                f"the PyTorch wheel index {root} cannot be reached ({why}), so torch comes from {fallback}: "
                + torch_build(ctx.os, ctx.machine)
            )
            return Prepared(replace(sources, torch=Indexes(index_url=fallback)), (notice,))
    step = kinds.get("torchvision")
    if step is not None and step.index_url and step.index_url != PYPI:
        why = unreachable(step.index_url)
        if why is not None:
            return Prepared(sources, refusal=(
                f"torchvision is missing beside torch {plan.context.torch}, and the index that serves that torch's "
                f"torchvision, {step.index_url}, cannot be reached ({why}). Nothing was changed: give an index that "
                "has it with --torch-index URL (or --torch-find-links DIR)"
            ))  # fmt: skip
    return Prepared(sources)
