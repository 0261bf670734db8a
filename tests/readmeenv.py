"""MuseTalk's environment made the way its README says, by pip and mim, as a new user makes it.

Python 3.10 in a venv (the README's conda environment, without conda), torch 2.0.1 / torchvision 0.15.2 /
torchaudio 2.0.2 from PyPI (the README's PyTorch index is one a PyPI-only machine cannot reach), the
checkout's requirements.txt, then openmim and its four `mim install` lines. mim finds no reachable wheel
index and builds mmcv 2.0.1 from its source, as it does for users. pip's own configuration is switched off
(PIP_CONFIG_FILE) so that the machine's local wheel folders play no part: everything comes from PyPI.

About 16 minutes and 7 GB of disk on 2 cores; built once under the test environments' folder and kept,
keyed by the checkout's requirements.txt and the steps. What each step took is kept beside it
(.readme-steps.json), for the notes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from envkit import ENV_ROOT, find_python

PYTHON = "3.10"
TORCH = ["torch==2.0.1", "torchvision==0.15.2", "torchaudio==2.0.2"]
MIM = ["mmengine", "mmcv==2.0.1", "mmdet==3.1.0", "mmpose==1.1.0"]
STEPS_FILE = ".readme-steps.json"


def _steps(checkout: Path) -> list[list[str]]:
    return [
        ["pip", "install", *TORCH],
        ["pip", "install", "-r", str(checkout / "requirements.txt")],
        ["pip", "install", "--no-cache-dir", "-U", "openmim"],
        *(["mim", "install", spec] for spec in MIM),
    ]


def _environ(env: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "PYTHON"))}
    return {
        **keep,
        "PATH": f"{env / 'bin'}{os.pathsep}{keep.get('PATH', '')}",
        "VIRTUAL_ENV": str(env),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_CACHE_DIR": "1",  # the disk here is small; a user's pip cache changes nothing of what is built
        "PIP_DEFAULT_TIMEOUT": "30",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def readme_env(checkout: Path) -> Path:
    """The README-made environment for `checkout` (built once); skips where this machine has no Python 3.10."""
    python = find_python(PYTHON)
    if python is None:
        pytest.skip(f"no Python {PYTHON} for the README's environment (set ENVDOCTOR_TEST_PYTHONS)")
    requirements = (checkout / "requirements.txt").read_bytes()
    key = hashlib.sha256(json.dumps([python, TORCH, MIM]).encode() + requirements).hexdigest()[:10]
    root = ENV_ROOT / f"musetalk-readme-{key}"
    ready = root / STEPS_FILE
    if ready.exists():
        return root
    ENV_ROOT.mkdir(parents=True, exist_ok=True)
    with open(ENV_ROOT / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return root
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(root)], check=True)
        log = root / ".readme-build.log"
        taken: list[dict[str, object]] = []
        with open(log, "w") as out:
            for step in _steps(checkout):
                start = time.monotonic()
                ran = subprocess.run(
                    [str(root / "bin" / step[0]), *step[1:]],
                    env=_environ(root),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=checkout,
                )
                taken.append({"step": " ".join(step), "seconds": round(time.monotonic() - start, 1)})
                if ran.returncode != 0:
                    pytest.fail(f"the README's `{' '.join(step)}` failed (exit {ran.returncode}); see {log}")
        ready.write_text(json.dumps(taken, indent=1) + "\n")
    return root
