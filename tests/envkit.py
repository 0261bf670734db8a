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
import re
import shutil
import subprocess
import sys
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

TORCH_CPU = "2.13.0"
TORCH_VISION = ("2.14.1", "0.29.1")
PYTHONS_HINT = "set ENVDOCTOR_TEST_PYTHONS to interpreters separated by ':'"


@functools.cache
def _pip() -> pipconfig.PipIndexes:
    # Read when a test first asks for local torch, never at import: a test that needs none reads no
    # configuration of the machine's.
    return pipconfig.read()


def _local_folder(url: str) -> Path | None:
    """The folder behind a file:// index URL or a plain path; None for a remote index."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(url) if not parsed.scheme else None


def _index_files(url: str, project: str) -> str:
    """The file names a local simple index lists for `project` ("" when it has no page for it)."""
    folder = _local_folder(url)
    page = folder / project if folder else None
    if not (page and page.is_dir()):
        return ""
    listed = " ".join(p.name for p in page.iterdir())
    for html in page.glob("*.htm*"):
        listed += html.read_text(errors="replace")
    return listed


def _discover_wheels() -> str | None:
    for link in _pip().find_links:
        folder = _local_folder(link)
        if folder and folder.is_dir() and any(folder.glob(f"torch-{TORCH_CPU}*.whl")):
            return str(folder)
    return None


def _discover_index() -> str | None:
    torch, vision = TORCH_VISION
    held = (
        u
        for u in _pip().index_urls
        if f"torch-{torch}" in _index_files(u, "torch") and f"torchvision-{vision}" in _index_files(u, "torchvision")
    )
    return next(held, None)


@functools.cache
def torch_wheels() -> str | None:
    """The folder of local CPU torch wheels: $ENVDOCTOR_TEST_TORCH_WHEELS, else pip's find-links that holds one."""
    return os.environ.get("ENVDOCTOR_TEST_TORCH_WHEELS") or _discover_wheels()


@functools.cache
def torch_index() -> str | None:
    """The local index with torch + torchvision: $ENVDOCTOR_TEST_TORCH_INDEX, else pip's index that holds both."""
    return os.environ.get("ENVDOCTOR_TEST_TORCH_INDEX") or _discover_index()


@functools.cache
def local_indexes() -> tuple[str, ...]:
    if os.environ.get("ENVDOCTOR_TEST_LOCAL_INDEX"):
        return tuple(os.environ["ENVDOCTOR_TEST_LOCAL_INDEX"].split())
    return tuple(u for u in _pip().index_urls if u != torch_index() and _local_folder(u) is not None)


def require_torch(kind: str) -> None:
    """Skip the calling test, naming the variable to set, when this machine has no local torch of `kind`."""
    if kind == "cpu" and not torch_wheels():
        pytest.skip(f"no local torch {TORCH_CPU}+cpu wheel: set ENVDOCTOR_TEST_TORCH_WHEELS to a folder holding one")
    if kind == "vision" and not torch_index():
        pytest.skip(
            f"no local index with torch {TORCH_VISION[0]} + torchvision {TORCH_VISION[1]}: "
            "set ENVDOCTOR_TEST_TORCH_INDEX to one"
        )


_CP_TAG = re.compile(r"-cp(\d)(\d+)-")


def torch_series(kind: str) -> tuple[str, ...]:
    """The Python series ("3.11") the local torch wheels of `kind` are built for, read from their tags."""
    require_torch(kind)
    if kind == "cpu":
        names = " ".join(p.name for p in Path(str(torch_wheels())).glob(f"torch-{TORCH_CPU}*.whl"))
    else:
        names = _index_files(str(torch_index()), "torch")
        names = " ".join(n for n in re.findall(r"torch-[^\s\"'<>#]+\.whl", names) if TORCH_VISION[0] in n)
    return tuple(sorted({f"{a}.{b}" for a, b in _CP_TAG.findall(names)}))


def torch_python(kind: str) -> str:
    """An interpreter the local torch of `kind` installs into: this one when its series matches, else one
    found for a series the wheels have; the test is skipped, by name, when the machine has none."""
    series = torch_series(kind)
    here = "{}.{}".format(*sys.version_info[:2])
    if here in series:
        return suite_python()
    for s in series:
        if found := find_python(s):
            return found
    pytest.skip(f"the local torch {kind} wheels are for Python {', '.join(series) or '?'}, none found: {PYTHONS_HINT}")


@functools.cache
def suite_python() -> str:
    """The interpreter the tests build venvs on: $ENVDOCTOR_TEST_PYTHON (a path, or a series found on
    this machine), else the one running the tests. A venv's own interpreter is not a base uv takes
    everywhere, so the base it was made from comes first."""
    given = os.environ.get("ENVDOCTOR_TEST_PYTHON")
    if given:
        if re.fullmatch(r"\d+\.\d+", given):
            found = find_python(given)
            if found is None:
                pytest.exit(f"ENVDOCTOR_TEST_PYTHON={given}: no such interpreter on this machine ({PYTHONS_HINT})")
            return found
        return given
    base = getattr(sys, "_base_executable", "") or ""
    return base if base and Path(base).is_file() else sys.executable


def torch_index_args() -> list[str]:
    """`--torch-index URL ...` for `envdoctor fix`: the local torch index, then the other local ones."""
    require_torch("vision")
    return [arg for url in (torch_index(), *local_indexes()) for arg in ("--torch-index", str(url))]


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
        return Indexes(find_links=(str(torch_wheels()),))
    # The local index first, PyPI only for what it lacks (cuda-bindings): never a torch download.
    return Indexes(
        index_url="https://pypi.org/simple",
        extra_index_urls=(str(torch_index()), *local_indexes()),
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
    python: str | None = None,
) -> Path:
    """A venv with `packages` (plus torch of `torch` kind), built once; returns its directory. Its
    interpreter is `python`, else one the local torch installs into, else suite_python().

    `no_deps` are installed last with --no-deps, to reach states a resolver would refuse
    (both mmcv and mmcv-lite, setuptools 82 beside mmengine, numpy 2 under an old wheel).
    """
    if python is None:
        python = torch_python(torch) if torch else suite_python()
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
