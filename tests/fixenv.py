"""Environments for the plan/fix/lock tests, built with tests/envkit.py from real packages.

`broken_env()` is the acceptance start state: torch 2.14.1 + torchvision (held), the OpenMMLab set on
mmcv-lite, then numpy 2 under the xtcocotools 1.14.3 wheel, setuptools >= 82, and mmcv 2.1.0 from its
PyPI sdist (built with isolation: a pure-Python mmcv without `_ext`) on top of mmcv-lite.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from envkit import OPENMMLAB, build_env

# What turns the healthy set into the broken one; installed last with --no-deps (envkit's no_deps).
BREAKERS = ["numpy>=2", "setuptools>=82", "mmcv==2.1.0"]


@contextmanager
def _mmcv_build_constraint() -> Iterator[None]:
    # mmcv's setup.py imports pkg_resources: its isolated build needs setuptools <82.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "build-constraints.txt"
        path.write_text("setuptools<82\n")
        old = os.environ.get("UV_BUILD_CONSTRAINT")
        os.environ["UV_BUILD_CONSTRAINT"] = str(path)
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("UV_BUILD_CONSTRAINT", None)
            else:
                os.environ["UV_BUILD_CONSTRAINT"] = old


@contextmanager
def broken_env(tag: str | None = None) -> Iterator[Path]:
    """A fresh broken environment for one test (fix changes it), removed afterwards."""
    name = f"fix-broken-{tag or uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:6]}"
    with _mmcv_build_constraint():
        env = build_env(name, OPENMMLAB, torch="vision", no_deps=BREAKERS)
    try:
        yield env
    finally:
        shutil.rmtree(env, ignore_errors=True)


def cpu_torch_env() -> Path:
    """torch 2.13.0+cpu alone (shared, never changed by a test)."""
    return build_env("plan-cpu-torch", torch="cpu")
