"""Real virtual environments for the tests, built with uv and cached between runs.

Each environment is keyed by a hash of what goes into it, built once under `.cache/test-envs/`
(or $ENVDOCTOR_TEST_ENVS), and shared by every test that asks for the same thing. A file lock
keeps parallel pytest processes from building the same one twice.

Torch never comes from PyPI here (that would be a multi-GB CUDA download):
- "cpu":    torch 2.13.0+cpu from a folder of wheels: $ENVDOCTOR_TEST_TORCH_WHEELS, else the pip
            configuration's find-links folder that holds that wheel.
- "vision": torch 2.14.1 + torchvision 0.29.1 from an index: $ENVDOCTOR_TEST_TORCH_INDEX, else the pip
            configuration's local (file://) index that holds both; uv's cache hard-links the 5 GB, so
            each venv costs little disk. Needed wherever torchvision or mmpose (which declares
            torchvision) goes in. $ENVDOCTOR_TEST_LOCAL_INDEX (else pip's other local indexes) serves
            what that index lacks before PyPI does.
A machine that has neither skips the tests that need them, naming the variable to set. pip's
configuration is how a machine announces its local wheels (`pip config list`); uv ignores it, so
it is read here. Everything else comes from PyPI, with torch and torchvision held where phase one put
them. Other interpreters come from $ENVDOCTOR_TEST_PYTHONS or discovery (find_python).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from envdoctor import pipconfig
from envdoctor.inside import InsideError, run_json
from envdoctor.uv import Indexes, find_uv

REPO = Path(__file__).resolve().parent.parent
ENV_ROOT = Path(os.environ.get("ENVDOCTOR_TEST_ENVS", REPO / ".cache" / "test-envs"))
PYTHON = os.environ.get("ENVDOCTOR_TEST_PYTHON", "3.11")

TORCH_CPU = "2.13.0"
TORCH_VISION = ("2.14.1", "0.29.1")


@functools.cache
def _pip() -> pipconfig.PipIndexes:
    return pipconfig.read()


def _local_folder(url: str) -> Path | None:
    """The folder behind a file:// index URL or a plain path; None for a remote index."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(url) if not parsed.scheme else None


def _index_has(url: str, project: str, version: str) -> bool:
    """Whether a local simple index lists `project` at `version` (its page names the files)."""
    folder = _local_folder(url)
    page = folder / project if folder else None
    if not (page and page.is_dir()):
        return False
    listed = " ".join(p.name for p in page.iterdir())
    for html in page.glob("*.htm*"):
        listed += html.read_text(errors="replace")
    return f"{project}-{version}" in listed


def _discover_wheels() -> str | None:
    for link in _pip().find_links:
        folder = _local_folder(link)
        if folder and folder.is_dir() and any(folder.glob(f"torch-{TORCH_CPU}*.whl")):
            return str(folder)
    return None


def _discover_index() -> str | None:
    torch, vision = TORCH_VISION
    held = (u for u in _pip().index_urls if _index_has(u, "torch", torch) and _index_has(u, "torchvision", vision))
    return next(held, None)


def _env_or(name: str, discover) -> str | None:
    return os.environ.get(name) or discover()


TORCH_WHEELS = _env_or("ENVDOCTOR_TEST_TORCH_WHEELS", _discover_wheels)
TORCH_INDEX = _env_or("ENVDOCTOR_TEST_TORCH_INDEX", _discover_index)
LOCAL_INDEXES = tuple(
    os.environ["ENVDOCTOR_TEST_LOCAL_INDEX"].split()
    if os.environ.get("ENVDOCTOR_TEST_LOCAL_INDEX")
    else [u for u in _pip().index_urls if u != TORCH_INDEX and _local_folder(u) is not None]
)


def require_torch(kind: str) -> None:
    """Skip the calling test, naming the variable to set, when this machine has no local torch of `kind`."""
    if kind == "cpu" and not TORCH_WHEELS:
        pytest.skip(f"no local torch {TORCH_CPU}+cpu wheel: set ENVDOCTOR_TEST_TORCH_WHEELS to a folder holding one")
    if kind == "vision" and not TORCH_INDEX:
        pytest.skip(
            f"no local index with torch {TORCH_VISION[0]} + torchvision {TORCH_VISION[1]}: "
            "set ENVDOCTOR_TEST_TORCH_INDEX to one"
        )


def torch_index_args() -> list[str]:
    """`--torch-index URL ...` for `envdoctor fix`: the local torch index, then the other local ones."""
    require_torch("vision")
    return [arg for url in (TORCH_INDEX, *LOCAL_INDEXES) for arg in ("--torch-index", str(url))]


def run_inside(
    python: str | Path, args: Sequence[str], *, what: str, timeout: float = 600.0, **options: Any
) -> dict[str, Any]:
    """envdoctor.inside.run_json as the tests use it: the JSON object of a run that must exit 0; when
    it does not, the test fails with the helper's sentence and the end of the run's stderr."""
    try:
        return run_json(python, args, what=what, timeout=timeout, require_exit_zero=True, **options).data
    except InsideError as exc:
        pytest.fail(f"{exc}\n--- end of its stderr ---\n{exc.stderr[-3000:]}", pytrace=False)


def _runs(python: str, version: str) -> bool:
    # Python 2.7 syntax too: the tests look for old interpreters to see them refused.
    code = "import json, sys; print(json.dumps({'version': '%d.%d' % sys.version_info[:2]}))"
    try:
        ran = run_json(python, ["-c", code], what="asking its version", timeout=30, require_exit_zero=True)
    except InsideError:
        return False
    return ran.data.get("version") == version


@functools.cache
def find_python(version: str) -> str | None:
    """A CPython `version` ("3.12") interpreter: from $ENVDOCTOR_TEST_PYTHONS (paths separated by
    os.pathsep), else discovered: `uv python find` (never downloading), `python<version>` on PATH,
    pyenv's versions when pyenv is on PATH. None when there is none (skip, naming PYTHONS_HINT)."""
    given = [p for p in os.environ.get("ENVDOCTOR_TEST_PYTHONS", "").split(os.pathsep) if p]
    candidates = list(given)
    if not given:
        found = find_uv().with_env(UV_PYTHON_DOWNLOADS="never").run(["python", "find", version], check=False)
        candidates += [found.stdout.strip(), shutil.which(f"python{version}") or ""]
        pyenv = shutil.which("pyenv")
        if pyenv:
            root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
            if root:
                candidates += sorted(str(p) for p in Path(root).glob(f"versions/{version}.*/bin/python{version}"))
    return next((c for c in candidates if c and _runs(c, version)), None)


def find_pythons(versions: Sequence[str]) -> dict[str, str]:
    """version -> interpreter, for those of `versions` this machine has."""
    return {v: p for v in versions if (p := find_python(v))}


PYTHONS_HINT = "set ENVDOCTOR_TEST_PYTHONS to interpreters separated by ':'"

# The OpenMMLab stack the tests use: mmcv-lite 2.1.0 sits inside every window below.
OPENMMLAB = ["mmcv-lite==2.1.0", "mmengine==0.10.7", "mmdet==3.3.0", "mmpose==1.3.2"]
# MuseTalk v1.5's inference packages besides torch and OpenMMLab (the modern side of its pins), numpy 1
# for the OpenMMLab stack's compiled wheels.
MUSETALK_INFERENCE = [
    "numpy<2",
    "opencv-python<=4.11.0.86",
    "diffusers==0.30.2",
    "transformers==4.39.2",
    "huggingface-hub<1.0",
    "librosa==0.11.0",
    "soundfile",
    "einops==0.8.1",
    "omegaconf",
    "tqdm",
    "scipy",
    "pillow",
]
# The whole set on the lite-stub path: mmengine needs pkg_resources (setuptools <81).
MUSETALK_OPENMMLAB = [*OPENMMLAB, "setuptools<81", *MUSETALK_INFERENCE]
# chumpy's setup.py imports pip (breaker #9) and MuseTalk never imports it.
EXCLUDES = ["chumpy"]


def torch_indexes(kind: str) -> Indexes:
    require_torch(kind)
    if kind == "cpu":
        return Indexes(find_links=(str(TORCH_WHEELS),))
    # The local index first, PyPI only for what it lacks (cuda-bindings): never a torch download.
    return Indexes(
        index_url="https://pypi.org/simple",
        extra_index_urls=(str(TORCH_INDEX), *LOCAL_INDEXES),
        strategy="unsafe-first-match",
    )


def torch_requirements(kind: str) -> list[str]:
    if kind == "cpu":
        return [f"torch=={TORCH_CPU}"]
    return [f"torch=={TORCH_VISION[0]}", f"torchvision=={TORCH_VISION[1]}"]


def _key(name: str, spec: dict) -> str:
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    return f"{name}-{digest}"


def build_env(
    name: str,
    packages: Sequence[str] = (),
    *,
    torch: str | None = None,
    excludes: Sequence[str] = EXCLUDES,
    no_deps: Sequence[str] = (),
    python: str = PYTHON,
) -> Path:
    """A venv with `packages` (plus torch of `torch` kind), built once; returns its directory.

    `no_deps` are installed last with --no-deps, to reach states a resolver would refuse
    (both mmcv and mmcv-lite, setuptools 82 beside mmengine, numpy 2 under an old wheel).
    """
    spec = {
        "packages": list(packages),
        "torch": torch,
        "excludes": list(excludes),
        "no_deps": list(no_deps),
        "python": python,
    }
    root = ENV_ROOT / _key(name, spec)
    ready = root / ".envkit-ready"
    if ready.exists():
        return root
    if torch:
        require_torch(torch)
    ENV_ROOT.mkdir(parents=True, exist_ok=True)
    with open(ENV_ROOT / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return root
        shutil.rmtree(root, ignore_errors=True)
        uv = find_uv()
        uv.venv(root, python=python)
        py = root / "bin" / "python"
        hold: list[Path] = []
        if torch:
            uv.pip_install(py, torch_requirements(torch), indexes=torch_indexes(torch))
            held = root / ".envkit-hold.txt"
            held.write_text("\n".join(torch_requirements(torch)) + "\n")
            hold.append(held)
        extra: list[str] = []
        if excludes:
            excl = root / ".envkit-excludes.txt"
            excl.write_text("\n".join(excludes) + "\n")
            extra += ["--excludes", str(excl)]
        if packages:
            uv.pip_install(py, list(packages), constraints=hold, extra=extra)
        if no_deps:
            uv.pip_install(py, list(no_deps), extra=["--no-deps"])
        ready.write_text(json.dumps(spec))
    return root


def python_of(env: Path) -> Path:
    return env / "bin" / "python"
