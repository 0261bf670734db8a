"""More breakers from real environments that need no torch: each recognised from the facts and, where an
import shows it, from its real symptom."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from envkit import build_env
from standin import write_checkout

from envdoctor import checkrun
from envdoctor.checks import Status
from envdoctor.datafiles import mmcv_ext_symbols
from envdoctor.target import resolve
from envdoctor.tools.ffmpeg import wheel_ffmpeg
from envdoctor.uv import find_uv


def _fails(report, breaker):
    return [r for r in report.results if r.status is Status.FAIL and r.breaker == breaker]


@pytest.mark.network
def test_mmcv_outside_the_mmdet_window_breaker_4():
    env = build_env("window-mmcv22-mmdet33", ["mmcv-lite==2.2.0", "mmdet==3.3.0"], excludes=())
    report = checkrun.run(resolve(venv=str(env)), only=["packages.mmcv-window"])
    (r,) = _fails(report, 4)
    assert r.found == "mmdet 3.3.0 with mmcv 2.2.0"
    assert r.expected == "mmcv <2.2.0,>=2.0.0rc4"
    assert "MMCV==2.2.0 is used but incompatible" in r.why


@pytest.mark.network
def test_hub_1_beside_transformers_439_breaker_12_from_facts_and_symptom():
    env = build_env(
        "hub1-transformers439",
        # hub 1.0's own requirements, then hub itself over transformers' <1.0 pin, as `pip install -U` does
        ["transformers==4.39.2", "httpx", "typer-slim", "shellingham", "hf-xet"],
        excludes=(),
        no_deps=["huggingface-hub==1.0.0"],
    )
    report = checkrun.run(resolve(venv=str(env)), only=["packages.rules", "imports"])
    static = [r for r in _fails(report, 12) if r.category == "Packages"]
    assert static and static[0].found == "transformers 4.39.2 with huggingface-hub 1.0.0"
    imported = next(r for r in report.results if r.title == "import transformers")
    assert imported.status is Status.FAIL and imported.breaker == 12
    assert "huggingface-hub>=0.19.3,<1.0" in imported.fix  # the window transformers 4.39.2 declares


@pytest.mark.network
def test_partial_handwritten_stub_breaker_2(tmp_path):
    # A venv of its own: the test writes into mmcv's folder.
    private = tmp_path / "env"
    find_uv().venv(private, python=sys.executable)
    find_uv().pip_install(private / "bin" / "python", ["mmcv-lite==2.1.0"])
    ext = next(private.glob("lib/python*/site-packages/mmcv")) / "_ext.py"
    ext.write_text("def nms(*args, **kwargs):\n    pass\n\ndef ball_query_forward(*a):\n    pass\n")
    (r,) = checkrun.run(resolve(venv=str(private)), only=["packages.mmcv-ext"]).results
    # Without mmpose nothing imports mmcv.ops yet: a warning, with the breaker and the count of missing names.
    assert (r.status, r.breaker) == (Status.WARN, 2) and "lacking 110 of 112 names" in r.found
    assert "miss in module _ext" in r.why and "--replace-handwritten" in r.fix
    # The same hand-written file with every name is not breaker 2 (its ops still do nothing: a warning of its own).
    ext.write_text("".join(f"def {name}(*a, **k):\n    pass\n" for name in mmcv_ext_symbols()))
    (r,) = checkrun.run(resolve(venv=str(private)), only=["packages.mmcv-ext"]).results
    assert (r.status, r.breaker) == (Status.WARN, None) and "with every name" in r.found


@pytest.fixture(scope="module")
def shadowing_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv where a real installed distribution provides a top-level `face_detection`."""
    base = tmp_path_factory.mktemp("shadow")
    project = base / "project" / "face_detection"
    project.mkdir(parents=True)
    (project / "__init__.py").write_text("NAME = 'not the vendored S3FD'\n")
    (base / "project" / "setup.py").write_text(
        "from setuptools import setup\n"
        "setup(name='some-face-detection', version='0.2.2', packages=['face_detection'])\n"
    )
    venv = base / "venv"
    find_uv().venv(venv, python=sys.executable)
    find_uv().pip_install(venv / "bin" / "python", [str(base / "project")])
    return venv


@pytest.mark.network
def test_installed_module_shadowing_the_vendored_one_breaker_17(shadowing_env, tmp_path):
    app = write_checkout(tmp_path / "MuseTalk")
    report = checkrun.run(resolve(venv=str(shadowing_env)), app=app, only=["imports.vendored"])
    by_title = {r.title: r for r in report.results}
    shadow = by_title["vendored face_detection"]
    assert shadow.status is Status.FAIL and shadow.breaker == 17
    assert "some-face-detection 0.2.2" in shadow.found and "musetalk/utils/face_detection" in shadow.found
    assert by_title["vendored face_parsing"].status is Status.OK


def test_no_ffmpeg_on_path_breaker_18(monkeypatch, tmp_path):
    # The probe runs with the target's environment: a PATH without ffmpeg is a machine without it,
    # and a fresh venv has none in its bin.
    venv = tmp_path / "venv"
    find_uv().venv(venv, python=sys.executable)
    empty = tmp_path / "empty"
    empty.mkdir()
    saved_path = os.environ.get("PATH", "")
    monkeypatch.setenv("PATH", str(empty))
    report = checkrun.run(resolve(venv=str(venv)), only=["tools.ffmpeg"])
    (r,) = report.results
    assert r.status is Status.FAIL and r.breaker == 18
    assert r.found == "no ffmpeg in the environment's bin or on PATH"
    assert "imageio-ffmpeg" in r.fix
    # The same venv with a real ffmpeg's folder on PATH finds it: the absence above came from PATH.
    real = shutil.which("ffmpeg", path=saved_path or os.defpath)
    if real is None:  # no system ffmpeg: the test extra's static one, under its usual name, in a folder of its own
        wheel = wheel_ffmpeg()
        if wheel is None:
            pytest.skip("no ffmpeg on this machine to show the check finds one on PATH")
        (tmp_path / "tools").mkdir()
        real = str(tmp_path / "tools" / "ffmpeg")
        os.symlink(wheel, real)
    monkeypatch.setenv("PATH", os.pathsep.join([str(empty), str(Path(real).parent)]))
    (r,) = checkrun.run(resolve(venv=str(venv)), only=["tools.ffmpeg"]).results
    assert f"at {real}" in r.found and "(on PATH)" in r.found, r.found
