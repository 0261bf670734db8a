"""Load the fact files under envdoctor/data/ (TOML or JSON)."""

from __future__ import annotations

import json
import sys
from functools import cache
from typing import Any

from envdoctor.resources import data_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@cache
def load(name: str) -> Any:
    """envdoctor/data/<name> parsed; the result is shared, so treat it as read-only."""
    path = data_dir() / name
    if name.endswith(".json"):
        return json.loads(path.read_text(encoding="utf-8"))
    with open(path, "rb") as fh:
        return tomllib.load(fh)


@cache
def mmcv_ext_symbols() -> frozenset[str]:
    """The 112 names mmcv.ops asks of mmcv._ext (the same in mmcv 2.0.0 to 2.2.0)."""
    text = (data_dir() / "mmcv-ext-symbols.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
