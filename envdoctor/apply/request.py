"""What the user asked `fix` to do, parsed once: the plan's options, where packages come from, and how
to behave around other runs (wait for the lock or refuse)."""

from __future__ import annotations

from dataclasses import dataclass, field

from envdoctor.strategies import Options
from envdoctor.uv import Indexes

PYPI = "https://pypi.org/simple"


@dataclass(frozen=True)
class Sources:
    """Where packages come from. `torch` None: uv's --torch-backend auto picks the index for this machine."""

    indexes: Indexes = field(default_factory=Indexes)
    torch: Indexes | None = None


def sources(
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


@dataclass(frozen=True)
class Request:
    """One `fix` run as asked: everything the plan, the transaction and the output need."""

    options: Options = field(default_factory=Options)
    sources: Sources = field(default_factory=Sources)
    wait: bool = True
    """Another envdoctor holds the environment's lock: wait for it (True) or refuse (--no-wait)."""
