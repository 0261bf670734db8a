"""envdoctor's own sdist builds: the source fixes (data) and a real xtcocotools build on Python 3.13.

The slow test builds xtcocotools 1.14.3 from its PyPI sdist against numpy 2 in a Python 3.13
environment, into a wheelhouse, and installs it from there into a second, fresh environment without a
build; its compiled mask functions then run on numpy 2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from envkit import run_inside

from envdoctor.build import BuildError, apply_fixes, build_labelled, source_fixes, unpack
from envdoctor.stub.kept import fetch_sdist, kept_stubs
from envdoctor.uv import Indexes, Uv, find_uv


def test_the_fixes_follow_the_package_and_the_python() -> None:
    assert [f.file for f in source_fixes("xtcocotools", "3.12.4")] == ["xtcocotools/_mask.pyx"]
    assert [f.file for f in source_fixes("xtcocotools", "3.13.0")] == ["setup.py", "setup.py", "xtcocotools/_mask.pyx"]
    assert [f.file for f in source_fixes("mmcv", "3.13.1")] == ["setup.py", "setup.py"]
    assert source_fixes("mmcv", "3.11.7") == ()
    # torch 2.13's headers require C++20: the rows for it follow torch's release, not Python's.
    cxx20 = source_fixes("mmcv", "3.11.7", "2.14.1+cu130")
    assert [f.new.count("c++20") for f in cxx20] == [1, 1] and all(f.torch for f in cxx20)
    assert source_fixes("mmcv", "3.11.7", "2.13.0") == cxx20
    assert source_fixes("mmcv", "3.11.7", "2.4.1") == ()
    assert len(source_fixes("mmcv", "3.13.1", "2.14.1")) == 4


def test_mmcv_2_1_0s_setup_asks_both_compilers_for_cpp20_against_torch_2_14(tmp_path: Path) -> None:
    sha = {k.version: k.sha256 for k in kept_stubs()}["2.1.0"]
    tree = unpack(fetch_sdist("2.1.0", Path(os.environ["ENVDOCTOR_MMCV_SOURCES"]), sha), tmp_path)
    apply_fixes(tree, source_fixes("mmcv", "3.11.7", "2.14.1+cu130"))
    setup = (tree / "setup.py").read_text()
    assert "extra_compile_args['cxx'] = ['-std=c++20']" in setup
    assert "extra_compile_args['nvcc'] += ['-std=c++20']" in setup
    assert "extra_compile_args['cxx'] = ['-std=c++17']" not in setup
    assert "extra_compile_args['nvcc'] += ['-std=c++17']" not in setup


SETUP = """
version_file = 'pkg/version.py'

def get_version():
    with open(version_file, encoding='utf-8') as f:
        exec(compile(f.read(), version_file, 'exec'))
    return locals()['__version__']

print(get_version())
"""


def test_a_fix_is_applied_and_the_fixed_setup_reads_its_version(tmp_path: Path) -> None:
    tree = tmp_path / "mmcv-2.1.0"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "version.py").write_text("__version__ = '2.1.0'\n")
    (tree / "setup.py").write_text(SETUP)
    done = apply_fixes(tree, source_fixes("mmcv", "3.13.0"))
    assert len(done) == 2
    out = subprocess.run(["python3", "setup.py"], cwd=tree, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2.1.0"


def test_a_fix_that_no_longer_matches_stops_the_build(tmp_path: Path) -> None:
    tree = tmp_path / "mmcv-9.9.9"
    tree.mkdir()
    (tree / "setup.py").write_text("setup(version='9.9.9')\n")
    with pytest.raises(BuildError, match=r"setup\.py no longer contains"):
        apply_fixes(tree, source_fixes("mmcv", "3.13.0"))


def _python_313() -> str | None:
    """A CPython 3.13: $ENVDOCTOR_TEST_PYTHON313, uv's discovery, PATH, or pyenv's versions."""
    given = os.environ.get("ENVDOCTOR_TEST_PYTHON313")
    if given:
        return given
    uv = find_uv().binary
    found = subprocess.run([uv, "python", "find", "--no-python-downloads", "3.13"], capture_output=True, text=True)
    if found.returncode == 0 and found.stdout.strip():
        return found.stdout.strip()
    if shutil.which("python3.13"):
        code = "import sys; print(sys.executable)"
        probe = subprocess.run(["python3.13", "-c", code], capture_output=True, text=True)
        if probe.returncode == 0:
            return probe.stdout.strip()
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        for cand in sorted(Path(root, "versions").glob("3.13*/bin/python3.13")):
            return str(cand)
    return None


MASKS = """
import json, numpy as np, xtcocotools.mask as m
from xtcocotools.coco import COCO
a = np.asfortranarray(np.zeros((10, 10), dtype=np.uint8)); a[2:5, 2:5] = 1
r = m.encode(a)
print(json.dumps({"numpy": np.__version__, "area": int(m.area(r)), "bbox": m.toBbox(r).tolist(),
                  "decoded": int(m.decode(r).sum()), "iou": float(m.iou([r], [r], [0])[0][0])}))
"""


@pytest.mark.slow
def test_xtcocotools_built_against_numpy_2_on_python_313_serves_the_next_environment(tmp_path: Path) -> None:
    python = _python_313()
    if python is None:
        pytest.skip("no CPython 3.13 found: set ENVDOCTOR_TEST_PYTHON313 to one")
    uv = find_uv()
    builder, fresh, house = tmp_path / "builder", tmp_path / "fresh", tmp_path / "wheelhouse"
    uv.venv(builder, python=python)
    uv.pip_install(builder / "bin" / "python", ["numpy>=2"])
    wheel = build_labelled(
        uv,
        builder / "bin" / "python",
        "xtcocotools==1.14.3",
        house,
        tmp_path / "work",
        build_constraints=("setuptools<82",),
    ).wheel
    assert wheel.parent == house and wheel.name.startswith("xtcocotools-1.14.3-cp313-cp313-")

    uv.venv(fresh, python=python)
    py = fresh / "bin" / "python"
    uv.pip_install(
        py,
        ["xtcocotools==1.14.3", "numpy>=2"],
        indexes=Indexes(find_links=(str(house),)),
        extra=["--only-binary", "xtcocotools"],
    )
    out = run_inside(py, ["-c", MASKS], what="xtcocotools' masks", timeout=120)
    assert out["numpy"].startswith("2.")
    assert out == {**out, "area": 9, "bbox": [2.0, 2.0, 3.0, 3.0], "decoded": 9, "iou": 1.0}


def _setup_build(tmp_path: Path, setup_py: str) -> tuple[Uv, Path, Path, Path]:
    """(uv, the build env's python, a source folder holding `setup_py`, build constraints) for build_or_report."""
    uv = find_uv()
    env = tmp_path / "env"
    uv.venv(env)
    py = env / "bin" / "python"
    uv.pip_install(py, ["setuptools<82", "wheel"])
    src = tmp_path / "src"
    src.mkdir()
    (src / "setup.py").write_text(setup_py)
    cons = tmp_path / "cons.txt"
    cons.write_text("setuptools<82\n")
    return uv, py, src, cons


BROKEN_SETUP = """
from setuptools import Extension, setup
setup(name="brokenext", version="0.1", ext_modules=[Extension("brokenext._ext", ["ext.c"])])
"""


@pytest.mark.network  # setuptools for the build comes from the registry (uv's cache, usually)
def test_a_failed_compile_shows_the_compilers_first_error_and_keeps_the_whole_log(tmp_path: Path) -> None:
    from envdoctor.build import build_or_report
    from envdoctor.cachedir import cache_root

    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: the failure to show is a compiler's")
    uv, py, src, cons = _setup_build(tmp_path, BROKEN_SETUP)
    (src / "ext.c").write_text("int broken(void) { return undeclared_name; }\n")
    with pytest.raises(BuildError) as err:
        build_or_report(uv, "brokenext", "0.1", src, tmp_path / "raw", py, cons)
    message = str(err.value)
    assert "ext.c:1:" in message and "error" in message and "undeclared_name" in message
    log = next((cache_root() / "build-logs").glob("brokenext-0.1-*.log"))
    assert str(log) in message and "undeclared_name" in log.read_text()


NINJA_SETUP = """
import os, subprocess, sys
from setuptools import setup
# Three compile-like edges run by ninja, as torch's extension builder runs its objects.
edges = "".join(f"build o{i}: cc\\n" for i in range(3))
rule = "rule cc\\n  command = " + sys.executable + " -c \\"import time; time.sleep(0.2)\\" && touch $out\\n"
with open("build.ninja", "w") as f:
    f.write(rule + edges)
subprocess.check_call([os.environ["NINJA"], "-j", "1"])
setup(name="ninjaprogress", version="0.1", py_modules=[])
"""


@pytest.mark.network  # setuptools for the build comes from the registry (uv's cache, usually)
def test_a_builds_progress_is_read_from_ninjas_lines_while_it_streams(tmp_path: Path) -> None:
    from envdoctor.build import CompileProgress, build_or_report

    ninja = shutil.which("ninja")
    if ninja is None:
        pytest.skip("no ninja on PATH: the progress is ninja's")
    uv, py, src, cons = _setup_build(tmp_path, NINJA_SETUP)
    said: list[str] = []
    progress = CompileProgress(said.append)
    build_or_report(uv.with_env(NINJA=ninja), "ninjaprogress", "0.1", src, tmp_path / "raw", py, cons, progress.feed)
    assert said == ["1/3 objects compiled", "2/3 objects compiled", "3/3 objects compiled"]
    assert any((tmp_path / "raw").glob("ninjaprogress-0.1-*.whl"))
