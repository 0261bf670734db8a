"""Where envdoctor keeps what it downloads and builds: one folder, by the platform's convention."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path


def cache_root(platform: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """envdoctor's cache folder: $ENVDOCTOR_CACHE_DIR when that is set (as uv's UV_CACHE_DIR: one
    folder for envdoctor alone, a CI cache key or a test's own), $XDG_CACHE_HOME/envdoctor when that is
    set (on any OS: the user chose it), else ~/.cache/envdoctor on Linux and other Unixes,
    ~/Library/Caches/envdoctor on macOS and %LOCALAPPDATA%\\envdoctor\\Cache on Windows."""
    platform = sys.platform if platform is None else platform
    env = os.environ if environ is None else environ
    if env.get("ENVDOCTOR_CACHE_DIR"):
        return Path(env["ENVDOCTOR_CACHE_DIR"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "envdoctor"
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    if platform == "darwin":
        return home / "Library" / "Caches" / "envdoctor"
    if platform == "win32":
        local = env.get("LOCALAPPDATA")
        return (Path(local) if local else home / "AppData" / "Local") / "envdoctor" / "Cache"
    return home / ".cache" / "envdoctor"
