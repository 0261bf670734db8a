"""Where packages come from: the indexes the user named, and whether an index the plan needs answers.

The plan reads both before anything runs, so `plan` shows the index each step uses and `fix` runs that
plan as shown: a PyTorch index that cannot be reached is said in the plan (torch then comes from the
index that answers), and a torchvision index that cannot be reached refuses the plan.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.datafiles import load
from envdoctor.uv import Indexes

PYPI = "https://pypi.org/simple"
TIMEOUT = 8.0


@dataclass(frozen=True)
class Sources:
    """Where packages come from. `torch` None: uv's --torch-backend auto picks the index for this machine."""

    indexes: Indexes = field(default_factory=Indexes)
    torch: Indexes | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"indexes": self.indexes.to_dict(), "torch": None if self.torch is None else self.torch.to_dict()}


def install_sources(
    index_url: str | None = None, torch_index: tuple[str, ...] = (), torch_find_links: tuple[str, ...] = ()
) -> Sources:
    """The package sources from the command line's index options."""
    torch = None
    if torch_index or torch_find_links:
        # The torch indexes first, PyPI only for packages they do not have at all (e.g. cuda-bindings).
        # first-index: once an index has torch, only its versions count; never a fall-through to PyPI's torch.
        torch = Indexes(
            index_url=PYPI,
            extra_index_urls=tuple(torch_index),
            find_links=tuple(torch_find_links),
            strategy="first-index",
        )
    return Sources(indexes=Indexes(index_url=index_url), torch=torch)


def pytorch_index(accelerator: str) -> str:
    """PyTorch's own index for an accelerator: where a torch whose version says +cpu or +cu121 came from."""
    return str(load("lock.toml")["torch"]["index"]).format(accelerator=accelerator)


def torch_index(accelerator: str) -> str:
    """Where a lock cell's held torch comes from: PyPI for the accelerators PyPI itself serves (lock.toml
    [torch.pypi]), else PyTorch's index."""
    return str(load("lock.toml")["torch"].get("pypi", {}).get(accelerator) or pytorch_index(accelerator))


def served_by_pypi(accelerator: str) -> bool:
    return accelerator in load("lock.toml")["torch"].get("pypi", {})


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
    """What PyPI's torch is on this platform, said when torch comes from PyPI instead of PyTorch's index."""
    if os_name == "linux" and machine in ("x86_64", "amd64"):
        return "PyPI's torch for Linux x86_64 is a CUDA build (it also runs without a GPU)"
    return f"PyPI's torch for {os_name} {machine} is a CPU build"
