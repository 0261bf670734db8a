"""`envdoctor fix` into an empty venv vs a bare `uv pip sync` and vs `pip install -r` of the same lockfile.

All three run in this process's run, on the same machine, with warm caches (each is run once before
it is timed). Printed as ratios against the bare uv sync measured here, never against fixed numbers.

- fix (install):  the install-lock + stub steps of `envdoctor fix` (torch already present)
- fix (whole):    `envdoctor fix --venv NEW --create` from nothing: torch from the local index, plan probe,
                  lockfile, stub, and the verifying `envdoctor check`
- uv sync:        `uv pip sync LOCKFILE` into a new empty venv (no torch: the lockfile holds none)
- pip:            `pip install --no-deps --require-hashes -r LOCKFILE` into a seeded venv, pip cache warm

Targets: fix <= 1.3x a bare uv sync; fix >= 5x faster than pip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envdoctor import apply as apply_mod
from envdoctor import pipconfig
from envdoctor import plan as plan_mod
from envdoctor import target as target_mod
from envdoctor.resources import lockfiles_dir
from envdoctor.uv import Indexes, find_uv

LOCK = lockfiles_dir() / "lite-stub-modern-py311-cpu-linux.txt"
# torch from local indexes only, never a multi-GB download: $ENVDOCTOR_TEST_TORCH_INDEX and
# $ENVDOCTOR_TEST_LOCAL_INDEX, else the indexes pip's configuration names (how a machine announces them).
LOCAL_INDEXES = (
    tuple(
        url
        for url in (os.environ.get("ENVDOCTOR_TEST_TORCH_INDEX"), os.environ.get("ENVDOCTOR_TEST_LOCAL_INDEX"))
        if url
    )
    or pipconfig.read().index_urls
)
TORCH = Indexes(index_url="https://pypi.org/simple", extra_index_urls=LOCAL_INDEXES, strategy="first-index")


def _fix_from_nothing(root: Path) -> tuple[float, dict[str, float]]:
    uv = find_uv()
    venv = root / "fix"
    t0 = time.perf_counter()
    uv.venv(venv, python="3.11")
    target = target_mod.resolve(venv=str(venv))
    p = plan_mod.make(target)
    result = apply_mod.apply(p, sources=apply_mod.Sources(torch=TORCH), cache=root / "cache")
    total = time.perf_counter() - t0
    if not result.ok:
        raise SystemExit(f"bench: fix failed: {result.message}")
    phases = {o.step.kind: o.seconds for o in result.outcomes}
    return total, phases


def _uv_sync(root: Path) -> float:
    uv = find_uv()
    venv = root / "sync"
    uv.venv(venv, python="3.11")
    t0 = time.perf_counter()
    uv.pip_sync(venv / "bin" / "python", [LOCK])
    return time.perf_counter() - t0


def _pip(root: Path) -> float:
    uv = find_uv()
    venv = root / "pip"
    uv.venv(venv, python="3.11", seed=True)
    t0 = time.perf_counter()
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--require-hashes", "-r", str(LOCK)],
        check=True,
        # pip as a newcomer runs it: PyPI only, whatever this machine's pip.conf adds.
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    return time.perf_counter() - t0


def _fresh(fn, label: str):  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory(prefix=f"bench-fix-{label}-") as tmp:
        return fn(Path(tmp))


def main() -> None:
    if not LOCAL_INDEXES:
        raise SystemExit("bench fix: no local torch index: set ENVDOCTOR_TEST_TORCH_INDEX to one")
    print(f"lockfile: {LOCK.name}", flush=True)
    # Warm every cache first: uv's (wheels, torch hard-links), pip's, and the import caches of the probes.
    _fresh(_fix_from_nothing, "warm")
    _fresh(_uv_sync, "warm")
    _fresh(_pip, "warm")
    fix_total, phases = _fresh(_fix_from_nothing, "timed")
    sync = _fresh(_uv_sync, "timed")
    pip = _fresh(_pip, "timed")
    install = phases.get("install-lock", 0.0) + phases.get("stub", 0.0)
    print(f"uv pip sync (bare, empty venv):      {sync:7.1f} s   1.00x")
    print(f"fix, install-lock + stub steps:      {install:7.1f} s   {install / sync:4.2f}x sync  (target <= 1.3x)")
    print(
        f"fix, install-lock step alone:        {phases.get('install-lock', 0.0):7.1f} s   "
        f"{phases.get('install-lock', 0.0) / sync:4.2f}x sync"
    )
    print(f"fix from nothing (torch+plan+check): {fix_total:7.1f} s   {fix_total / sync:4.2f}x sync")
    for kind, secs in phases.items():
        print(f"   {kind:14s} {secs:6.1f} s")
    print(f"   plan probe, venv and snapshot: {fix_total - sum(phases.values()):6.1f} s")
    print(
        f"pip install -r (same pins, warm):    {pip:7.1f} s   fix install is {pip / install:4.1f}x faster "
        "(target >= 5x)"
    )
    print(f"                                     pip vs whole fix: {pip / fix_total:4.1f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
