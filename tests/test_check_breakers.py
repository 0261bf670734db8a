"""More breakers from real environments that need no torch: each recognised from the facts and, where an
import shows it, from its real symptom."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from envkit import build_env
from standin import write_checkout

from envdoctor import check
from envdoctor.checks import Status
from envdoctor.target import resolve
from envdoctor.uv import find_uv


def _fails(report, breaker):
    return [r for r in report.results if r.status is Status.FAIL and r.breaker == breaker]


def test_mmcv_outside_the_mmdet_window_breaker_4():
    env = build_env("window-mmcv22-mmdet33", ["mmcv-lite==2.2.0", "mmdet==3.3.0"], excludes=())
    report = check.run(resolve(venv=str(env)), only=["packages.mmcv-window"])
    (r,) = _fails(report, 4)
    assert r.found == "mmdet 3.3.0 with mmcv 2.2.0"
    assert r.expected == "mmcv <2.2.0,>=2.0.0rc4"
    assert "MMCV==2.2.0 is used but incompatible" in r.why


def test_hub_1_beside_transformers_439_breaker_12_from_facts_and_symptom():
    env = build_env(
        "hub1-transformers439",
        # hub 1.0's own requirements, then hub itself over transformers' <1.0 pin, as `pip install -U` does
        ["transformers==4.39.2", "httpx", "typer-slim", "shellingham", "hf-xet"],
        excludes=(),
        no_deps=["huggingface-hub==1.0.0"],
    )
    report = check.run(resolve(venv=str(env)), only=["packages.rules", "imports"])
    static = [r for r in _fails(report, 12) if r.category == "Packages"]
    assert static and static[0].found == "transformers 4.39.2 with huggingface-hub 1.0.0"
    imported = [r for r in report.results if r.title == "import transformers"][0]
    assert imported.status is Status.FAIL and imported.breaker == 12
    assert "huggingface-hub>=0.19.3,<1.0" in imported.fix  # the window transformers 4.39.2 declares


def test_partial_handwritten_stub_breaker_2(tmp_path):
    env = build_env("mmcv-lite-only", ["mmcv-lite==2.1.0"], excludes=())
    # A private copy: the cached env stays clean for other tests.
    private = tmp_path / "env"
    find_uv().venv(private, python=sys.executable)
    find_uv().pip_install(private / "bin" / "python", ["mmcv-lite==2.1.0"])
    mmcv_dir = next(private.glob("lib/python*/site-packages/mmcv"))
    (mmcv_dir / "_ext.py").write_text("def nms(*args, **kwargs):\n    pass\n\ndef ball_query_forward(*a):\n    pass\n")
    report = check.run(resolve(venv=str(private)), only=["packages.mmcv-ext"])
    (r,) = report.results
    assert r.breaker == 2 and "lacking 110 of 112 names" in r.found
    assert "miss in module _ext" in r.why
    assert env.exists()


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


def test_installed_module_shadowing_the_vendored_one_breaker_17(shadowing_env, tmp_path):
    app = write_checkout(tmp_path / "MuseTalk")
    report = check.run(resolve(venv=str(shadowing_env)), app=app, only=["imports.vendored"])
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
    monkeypatch.setenv("PATH", str(empty))
    report = check.run(resolve(venv=str(venv)), only=["tools.ffmpeg"])
    (r,) = report.results
    assert r.status is Status.FAIL and r.breaker == 18
    assert r.found == "no ffmpeg in the environment's bin or on PATH"
    assert "imageio-ffmpeg" in r.fix
    assert os.environ["PATH"] == str(empty)
