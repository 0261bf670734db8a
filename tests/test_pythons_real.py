"""Real installs on every Python MuseTalk users have, Linux x86_64.

For Python 3.10-3.13 (each found with uv, PATH or pyenv, never a fixed path): `envdoctor fix --venv DIR
--create --python-version X --yes`, then `envdoctor check` exits 0, then a DWPose forward pass with
random weights: through the OpenMMLab modules the DWPose config builds (lite-stub) or through
envdoctor's port (mmpose-free), whichever `fix` chose.

torch 2.14.1 + torchvision 0.29.1: for 3.11 from the local index the other tests use, elsewhere from
PyPI (the CUDA build, about 3 GB the first time; uv's cache hard-links it after). The 3.13 acceptance
(an existing venv with PyPI's torch: plan, fix, check, forward pass) runs in the default suite; the
--create matrix and the real MuseTalk run on 3.13 are slow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from envkit import run_inside, torch_index_args

from envdoctor import checkrun
from envdoctor import target as target_mod
from envdoctor.pythons import find_python
from envdoctor.resources import data_dir
from envdoctor.uv import Indexes, find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

HERE = Path(__file__).resolve().parent
TORCH = ("2.14.1", "0.29.1")
PYPI = "https://pypi.org/simple"
# The Python whose torch 2.14.1 the local test index holds (tests/envkit.py); the others take PyPI's.
LOCAL_TORCH_PYTHON = "3.11"
MUSETALK_MIRROR_ENV = "ENVDOCTOR_TEST_MUSETALK"


def python_or_skip(series: str) -> Path:
    found = find_python(series)
    if found is None:
        pytest.skip(f"no CPython {series} found via uv, PATH or pyenv: install one (`uv python install {series}`)")
    return found.python


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


@pytest.fixture
def pinned_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uv takes torch 2.14.1 (what its cache holds), not PyPI's newest, in every call fix makes."""
    pins = tmp_path / "torch-pins.txt"
    pins.write_text(f"torch=={TORCH[0]}\ntorchvision=={TORCH[1]}\n")
    monkeypatch.setenv("UV_CONSTRAINT", str(pins))


def torch_args(series: str) -> list[str]:
    if series == LOCAL_TORCH_PYTHON:
        return torch_index_args()
    return ["--torch-index", PYPI]


def numpy_major(python: Path) -> int:
    code = "import json, numpy; print(json.dumps({'numpy': numpy.__version__}))"
    return int(run_inside(python, ["-c", code], what="numpy's version", timeout=120)["numpy"].split(".")[0])


def dwpose_forward(python: Path, strategy: str, work: Path) -> dict[str, object]:
    """One DWPose forward pass with random weights, on the path `strategy` installed."""
    if strategy == "mmpose-free":
        out = work / "dwpose.json"
        config = data_dir() / "dwpose-rtmpose-l-wholebody-384x288.py"
        args = [str(python), str(HERE / "dwpose_free_run.py"), str(config), str(work / "musetalk"), str(out)]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(out.read_text())
    return run_inside(python, [str(HERE / "stub_inside" / "rtmpose.py")], what="stub_inside/rtmpose.py", timeout=900)


def assert_green(venv: Path) -> None:
    report = checkrun.run(target_mod.resolve(venv=str(venv)))
    assert report.exit_code == 0, [(r.id, r.found) for r in report.failures]


def chosen_of(out: str) -> str:
    line = next(ln for ln in out.splitlines() if ln.startswith("OK: "))
    return line[len("OK: ") :].split(":")[0]


@pytest.mark.slow
@pytest.mark.parametrize("series", ["3.10", "3.11", "3.12", "3.13"])
def test_fix_creates_a_green_env_with_a_dwpose_pass(series: str, cli, tmp_path: Path, pinned_torch: None) -> None:
    python_or_skip(series)
    venv = tmp_path / f"py{series}"
    run = cli("fix", "--venv", str(venv), "--create", "--python-version", series, "--yes", *torch_args(series))
    assert run.code == 0, run.out[-4000:] + run.err[-2000:]
    strategy = chosen_of(run.out)
    assert f"OK: {strategy}: applied and verified (envdoctor check exits 0)" in run.out
    assert f"Python {series}: " in run.err and "(found via " in run.err, "the interpreter found is named"
    # 3.10-3.12: the committed lite-stub lockfile; 3.13: no xtcocotools wheel, so the port, from its own
    # committed lockfile (the matrix locks mmpose-free on 3.13).
    if series == "3.13":
        assert strategy == "mmpose-free", run.out[-4000:]
        assert "install the pinned set from mmpose-free-modern-py313-" in run.out, run.out[-4000:]
    else:
        assert strategy == "lite-stub"
        assert f"install the pinned set from lite-stub-modern-py{series.replace('.', '')}-cpu-linux.txt" in run.out
    assert_green(venv)
    out = dwpose_forward(venv_python(venv), strategy, tmp_path)
    assert out["keypoints_shape"] == [1, 133, 2] and out["finite"]
    if series == "3.13":
        assert numpy_major(venv_python(venv)) == 2


@pytest.fixture(scope="module")
def fixed_313(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """A 3.13 venv with torch 2.14.1 + torchvision 0.29.1 from PyPI, then `plan` and `fix --yes` (the acceptance)."""
    from envdoctor.cli import main

    python = python_or_skip("3.13")
    venv = tmp_path_factory.mktemp("accept313") / "venv"
    uv = find_uv()
    uv.venv(venv, python=str(python))
    uv.pip_install(venv_python(venv), [f"torch=={TORCH[0]}", f"torchvision=={TORCH[1]}"], indexes=Indexes(PYPI))

    def cli(*args: str) -> tuple[int, str]:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            code = main(list(args))
        return code, buf.getvalue()

    plan_code, plan_out = cli("plan", "--venv", str(venv))
    assert plan_code == 0, plan_out[-3000:]
    fix_code, fix_out = cli("fix", "--venv", str(venv), "--yes")
    assert fix_code == 0, fix_out[-4000:]
    yield venv, plan_out, fix_out
    shutil.rmtree(venv, ignore_errors=True)


@pytest.mark.network
def test_313_with_pypi_torch_plans_fixes_and_runs_dwpose(fixed_313: tuple[Path, str, str], tmp_path: Path) -> None:
    venv, plan_out, fix_out = fixed_313
    assert "mmpose-free (chosen)" in plan_out
    assert "xtcocotools 1.14.3 has no wheel for cp313-linux_x86_64" in plan_out
    assert "OK: mmpose-free: applied and verified (envdoctor check exits 0)" in fix_out
    freeze = dict(ln.split("==") for ln in find_uv().pip_freeze(venv_python(venv)) if "==" in ln)
    assert freeze["torch"] == TORCH[0] and freeze["torchvision"] == TORCH[1], "torch is held"
    assert freeze["numpy"].startswith("2.") and freeze["transformers"] == "4.45.0"
    # fix's last step is `envdoctor check` (exit 0 asserted above); a second run would only cost a minute.
    out = dwpose_forward(venv_python(venv), "mmpose-free", tmp_path)
    assert out["keypoints_shape"] == [1, 133, 2] and out["face_shape"] == [68, 2] and out["finite"]


@pytest.mark.slow
def test_real_musetalk_on_313_writes_a_video(fixed_313: tuple[Path, str, str], tmp_path: Path) -> None:
    """MuseTalk's own code, unmodified, on synthetic weights, in the environment `fix` made on 3.13."""
    given = os.environ.get(MUSETALK_MIRROR_ENV)
    if not given:
        pytest.skip(f"no MuseTalk checkout: set {MUSETALK_MIRROR_ENV} to one")
    if not (shutil.which("ffmpeg") and shutil.which("espeak-ng")):
        pytest.skip("ffmpeg and espeak-ng are needed (.ci/run installs them)")
    pytest.importorskip("skimage", reason="the verifier needs envdoctor's `verify` extra")
    from envdoctor.cli import main

    venv, _plan, _fix = fixed_313
    out = tmp_path / "out"
    code = main(["smoke", "--app", given, "--synthetic-weights", "--python", str(venv_python(venv)), "--out", str(out)])
    report = json.loads((out / "smoke-report.json").read_text())
    assert code == 0, report["message"] + "\n" + (out / "smoke-app.log").read_text()[-3000:]
    v = report["verification"]
    assert v["structure_ok"] and next(c for c in v["checks"] if c["name"] == "frame count")["ok"]
    assert v["mouth_motion"] > 0.3


@pytest.mark.slow
def test_the_dwpose_config_runs_through_openmmlab_on_numpy_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """lite-stub's modules on numpy 2: mmengine, mmdet, mmpose on mmcv-lite + the stub, xtcocotools compiled
    from its sdist against numpy 2 (its 1.14.3 wheels are numpy 1 builds), then the DWPose config's forward pass."""
    from envkit import OPENMMLAB, build_env, python_of

    from envdoctor.stub import install

    config = tmp_path / "uv.toml"
    config.write_text(
        'no-binary-package = ["xtcocotools"]\n'
        'build-constraint-dependencies = ["setuptools<82"]\n'
        '[extra-build-dependencies]\nxtcocotools = ["numpy>=2", "cython"]\n'
    )
    monkeypatch.setenv("UV_CONFIG_FILE", str(config))
    env = build_env("openmmlab-numpy2-xtcocotools-source", [*OPENMMLAB, "numpy>=2", "setuptools<81"], torch="vision")
    python = python_of(env)
    install(target_mod.resolve(python=str(python)))
    assert numpy_major(python) == 2
    probe = subprocess.run(
        [str(python), "-c", "import xtcocotools._mask, mmdet.models, mmpose.apis; print('ok')"],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    out = dwpose_forward(python, "lite-stub", tmp_path)
    assert out["keypoints_shape"] == [1, 133, 2] and out["finite"] and out["mmdet_imported"]
    assert out["calls"] == {}, "no `_ext` op ran in inference"
