"""`envdoctor check` against real uv-built environments with real PyPI packages: each breaker from its facts
and its real symptom, and a healthy MuseTalk environment that exits 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from envkit import MUSETALK_OPENMMLAB, OPENMMLAB, build_env, python_of

from envdoctor import checkrun
from envdoctor.checkrun import CheckReport
from envdoctor.checks import Status
from envdoctor.target import resolve
from envdoctor.tools.ffmpeg import provide_ffmpeg

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs


def _run(env: Path, **kw) -> CheckReport:
    return checkrun.run(resolve(venv=str(env)), **kw)


def _failing(report: CheckReport, breaker: int) -> list:
    return [r for r in report.results if r.status is Status.FAIL and r.breaker == breaker]


@pytest.fixture(scope="module")
def lite_no_ext() -> CheckReport:
    env = build_env("openmmlab-lite", [*OPENMMLAB, "numpy<2", "setuptools<81"], torch="vision")
    return _run(env)


@pytest.mark.network
def test_missing_ext_is_found_and_attributed_to_mmcv_lite(lite_no_ext):
    ext = next(r for r in lite_no_ext.results if r.id == "packages.mmcv-ext")
    assert ext.status is Status.FAIL and ext.breaker == 1
    assert "mmcv-lite 2.1.0" in ext.found
    assert "envdoctor fix" in ext.fix
    # the real symptom, from a real import in the target, explained by the catalog
    ops = next(r for r in lite_no_ext.results if r.title == "import mmcv.ops")
    assert ops.status is Status.FAIL and ops.breaker == 1
    assert "No module named 'mmcv._ext'" in ops.found
    assert "mmcv-lite 2.1.0" in ops.why
    # what rides on it fails with the same cause, said once as such
    apis = next(r for r in lite_no_ext.results if r.title == "import mmpose.apis")
    assert apis.breaker == 1 and "same cause as `import mmcv.ops`" in apis.why
    # torch itself imported and its facts came back from the same worker
    assert lite_no_ext.facts.torch is not None and (lite_no_ext.facts.torch.version or "").startswith("2.14.1")
    assert lite_no_ext.exit_code == 1


@pytest.fixture(scope="module")
def numpy2_xtcocotools() -> CheckReport:
    env = build_env("xtcocotools-numpy2", ["xtcocotools==1.14.3", "numpy>=2"])
    return _run(env, only=["packages", "imports"])


@pytest.mark.network
def test_numpy2_under_xtcocotools_wheel_names_both(numpy2_xtcocotools):
    numpy = numpy2_xtcocotools.facts.dist("numpy").version
    assert numpy.startswith("2.")
    static = [r for r in _failing(numpy2_xtcocotools, 5) if r.category == "Packages"]
    assert static and "xtcocotools 1.14.3" in static[0].found and f"numpy {numpy}" in static[0].found
    imported = next(r for r in numpy2_xtcocotools.results if r.title == "import xtcocotools.coco")
    assert imported.status is Status.FAIL and imported.breaker == 5
    assert "numpy.dtype size changed" in imported.found
    assert "xtcocotools 1.14.3" in imported.why and f"numpy {numpy}" in imported.why
    assert "numpy<2" in imported.fix


@pytest.fixture(scope="module")
def setuptools82_mmengine() -> CheckReport:
    env = build_env("mmengine-setuptools82", ["mmengine==0.10.7", "setuptools>=82"])
    return _run(env, only=["packages", "imports"])


@pytest.mark.network
def test_setuptools82_beside_mmengine_is_the_pkg_resources_finding(setuptools82_mmengine):
    static = [r for r in _failing(setuptools82_mmengine, 8) if r.category == "Packages"]
    assert static and "setuptools" in static[0].found and "mmengine 0.10.7" in static[0].found
    assert "setuptools<81" in static[0].fix
    imported = next(r for r in setuptools82_mmengine.results if r.title == "import pkg_resources")
    assert imported.status is Status.FAIL and imported.breaker == 8
    assert "No module named 'pkg_resources'" in imported.found


@pytest.fixture(scope="module")
def healthy_env() -> Path:
    from envdoctor.stub import install

    env = build_env("musetalk-lite-stub", MUSETALK_OPENMMLAB, torch="vision")
    ext = next(env.glob("lib/python*/site-packages/mmcv/_ext.py"), None)
    if ext is None:
        install(resolve(python=str(python_of(env))))
    # What fix does on a machine without ffmpeg: the wheel's binary linked into the env's bin.
    provide_ffmpeg(python_of(env))
    return env


@pytest.mark.network
def test_healthy_environment_exits_0(cli, healthy_env):
    run = cli("check", "--venv", str(healthy_env), "--json")
    doc = run.json()
    problems = [(r["title"], r["found"]) for r in doc["results"] if r["status"] == "fail"]
    assert problems == [] and run.code == 0
    assert doc["summary"]["exit_code"] == 0
    ext = next(r for r in doc["results"] if r["id"] == "packages.mmcv-ext")
    assert ext["status"] == "ok" and "envdoctor stub for mmcv 2.1.0" in ext["found"]
    imported = {r["title"] for r in doc["results"] if r["category"] == "Imports" and r["status"] == "ok"}
    assert {"import torch", "import mmcv.ops", "import mmdet.models", "import mmpose.apis"} <= imported
