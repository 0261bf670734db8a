"""The mmcv `_ext` stub: generated in one pass from mmcv's sources, loud when called, real where torch can be.

Library API (envdoctor/commands/stub.py is a thin layer over it; docs/stub.md has the details):
- generate(source) -> GeneratedStub: the text of `mmcv/_ext.py` for an mmcv folder, sdist or wheel.
- install(target) -> InstallResult: generate from the target's own mmcv and install it with uv as the
  distribution `mmcv-ext-stub` (version = the mmcv version). Raises StubRefused / StubError.
- remove(target) -> RemoveResult: uninstall `mmcv-ext-stub` with uv.
- status(target) -> StubState: what the target has in place of mmcv's compiled ops;
  state_from_facts(facts) gives the same from envdoctor.facts.Facts already gathered, and
  why_not_install(state) the sentence install() would refuse with (None: it would go ahead).
"""

from envdoctor.stub.generate import GeneratedStub, generate, parse_header, real_ops
from envdoctor.stub.installer import InstallResult, install
from envdoctor.stub.remover import RemoveResult, remove
from envdoctor.stub.sources import MmcvSources, SourceError, read
from envdoctor.stub.state import (
    StubError,
    StubRefused,
    StubState,
    state_from_facts,
    status,
    why_not_install,
)
from envdoctor.stub.wheel import DIST_NAME

__all__ = [
    "DIST_NAME",
    "GeneratedStub",
    "InstallResult",
    "MmcvSources",
    "RemoveResult",
    "SourceError",
    "StubError",
    "StubRefused",
    "StubState",
    "generate",
    "install",
    "parse_header",
    "read",
    "real_ops",
    "remove",
    "state_from_facts",
    "status",
    "why_not_install",
]
