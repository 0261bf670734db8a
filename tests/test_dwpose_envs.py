"""The mmpose-free port in real environments.

- Parity: in the shared OpenMMLab venv (tests/stubenv.py: real mmpose 1.3.2 on mmcv-lite + the `_ext`
  stub), real mmpose and the port run on the same random-weight checkpoint and the same images. The
  port is loaded from its source folder under another package name in that same process
  (tests/dwpose_parity_run.py): one torch, one numpy, one cv2, so a difference can only come from the
  port. Installing it as a wheel there is exactly what must never happen (two `mmpose` packages in one
  site-packages), so the installed wheel is tested in a venv of its own instead.
- Installed: the wheel in a torch-only venv (no OpenMMLab at all), driven the way MuseTalk drives it.
- Resolution: uv resolves the port with numpy and a cv2 for Python 3.10 to 3.13.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
from envkit import MUSETALK_INFERENCE, build_env, python_of
from stubenv import stub_env

from envdoctor import dwpose
from envdoctor.tools.ffmpeg import provide_ffmpeg
from envdoctor.uv import find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

TESTS = Path(__file__).resolve().parent
CONFIG_IN_WHEEL = (
    "mmpose/.mim/configs/wholebody_2d_keypoint/rtmpose/ubody/rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288.py"
)
KPT_TOL_PX = 1e-3
SCORE_TOL = 1e-4


@pytest.fixture(scope="module")
def ref_env() -> Path:
    return stub_env()


@pytest.fixture(scope="module")
def dwpose_config(ref_env: Path) -> Path:
    """MuseTalk's DWPose config is the one the mmpose wheel ships; take it from there."""
    found = sorted(ref_env.glob(f"lib/python*/site-packages/{CONFIG_IN_WHEEL}"))
    assert found, "the mmpose wheel in the reference venv has no RTMPose-l wholebody config"
    return found[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dwpose.build_wheel(tmp_path_factory.mktemp("dwpose-wheel"))


@pytest.fixture(scope="module")
def free_env(wheel: Path) -> Path:
    env = build_env("dwpose-free", ["numpy", "opencv-python-headless"], torch="cpu")
    # The port itself is reinstalled every session (its source is what is under test); torch is
    # held where envkit put it.
    find_uv().pip_install(
        python_of(env),
        [str(wheel)],
        constraints=[env / ".envkit-hold.txt"],
        extra=["--reinstall-package", dwpose.DIST_NAME],
    )
    return env


@pytest.fixture(scope="module")
def parity(ref_env: Path, dwpose_config: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("dwpose-parity")
    try:  # the face photo: scikit-image's astronaut, handed over as an array file
        import numpy as np
        from skimage import data

        np.save(work / "astronaut.npy", data.astronaut())
    except ImportError:
        pass
    out = work / "parity.json"
    run = subprocess.run(
        [
            str(python_of(ref_env)),
            str(TESTS / "dwpose_parity_run.py"),
            str(dwpose_config),
            str(dwpose.PAYLOAD),
            str(work),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.mark.network
def test_port_matches_real_mmpose_on_faces_random_images_and_aspect_ratios(parity: dict) -> None:
    images = parity["images"]
    assert len(images) >= 7
    if importlib.util.find_spec("skimage") is not None:  # the face photo is there whenever it can be
        assert {"astronaut_512x512", "astronaut_448x512"} <= set(images)
    for name, r in images.items():
        assert r["keypoints_shape"][0] == r["keypoints_shape"][1] == [1, 133, 2], name
        assert r["dtypes"] == ["float32"] * 4, name
        assert r["max_kpt_diff"] <= KPT_TOL_PX, (name, r["max_kpt_diff"])
        assert r["max_score_diff"] <= SCORE_TOL, (name, r["max_score_diff"])
    assert parity["flip_indices_equal"]


@pytest.mark.network
def test_port_matches_real_mmpose_with_caller_boxes(parity: dict) -> None:
    for fmt in ("xyxy", "xywh"):
        r = parity[f"boxes_{fmt}"]
        assert r["shapes"][0] == r["shapes"][1] == [3, 133, 2], fmt
        assert r["max_kpt_diff"] <= KPT_TOL_PX, (fmt, r)
        assert r["max_score_diff"] <= SCORE_TOL, (fmt, r)
        assert r["bboxes_equal"], fmt


@pytest.mark.network
def test_parity_is_meaningful_the_keypoints_depend_on_the_image(parity: dict) -> None:
    # With an input-independent network every image of one size would give the same keypoints and
    # parity would prove nothing about the backbone.
    a, b = parity["images"]["random_640x480"], parity["images"]["random_640x480_b"]
    assert a["first_kpts"][0] != b["first_kpts"][0]
    assert all(r["kpt_spread"] > 1.0 for r in parity["images"].values())


@pytest.mark.network
def test_musetalks_crop_box_is_the_same(parity: dict) -> None:
    for name, r in parity["images"].items():
        assert r["crop_ref"] == r["crop_ours"], name


@pytest.fixture(scope="module")
def free_run(free_env: Path, dwpose_config: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("dwpose-free")
    out = work / "result.json"
    run = subprocess.run(
        [
            str(python_of(free_env)),
            str(TESTS / "dwpose_free_run.py"),
            str(dwpose_config),
            str(work / "musetalk"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.mark.network
def test_installed_port_runs_musetalks_calls_without_openmmlab(free_run: dict) -> None:
    assert free_run["openmmlab_installed"] == []
    assert free_run["marker"] == {"dist": "envdoctor-mmpose-free", "strategy": "mmpose-free"}
    assert free_run["mmpose_dist"] == dwpose.VERSION
    assert free_run["keypoints_shape"] == [1, 133, 2]
    assert free_run["scores_shape"] == [1, 133]
    assert free_run["face_shape"] == [68, 2]
    assert free_run["finite"]


@pytest.mark.network
def test_anything_else_fails_naming_the_strategy(free_run: dict) -> None:
    errors = free_run["errors"]
    for what in ("other_api", "other_module", "other_submodule", "attribute"):
        assert errors[what] is not None, what
        assert "--strategy mmpose-free" in errors[what]["message"], what
        assert "ImportError" in errors[what]["bases"], what
    assert "mmpose.apis.inference_bottomup" in errors["other_api"]["message"]
    assert "mmpose.models" in errors["other_module"]["message"]


@pytest.mark.network
def test_checkpoints_load_strictly_by_key(free_run: dict) -> None:
    mismatch = free_run["errors"]["mismatch"]
    assert mismatch["type"] == "CheckpointError"
    assert "1 missing key(s): head.cls_x.weight" in mismatch["message"]
    assert "1 unexpected key(s): head.extra.weight" in mismatch["message"]
    assert free_run["bare_loads"]


@pytest.mark.network
def test_a_checkpoint_that_needs_pickle_loads_only_when_trusted(free_run: dict) -> None:
    needs = free_run["errors"]["needs_trust"]
    assert needs["type"] == "CheckpointNeedsTrustError"
    assert "ENVDOCTOR_DWPOSE_TRUST_CHECKPOINT=1" in needs["message"]
    assert "numpy" in needs["message"]  # names what the file asks for
    assert free_run["trusted_loads"]
    assert free_run["converted_loads"]  # python -m mmpose._convert SRC DST --trust, then no trust needed
    assert free_run["check_codes"] == {"before": 1, "after": 0}  # python -m mmpose._convert SRC --check


@pytest.mark.network
def test_fast_mode_folds_batch_norms_and_still_answers(free_run: dict) -> None:
    assert free_run["fast_fused"]
    assert free_run["fast_shape"] == [1, 133, 2]


@pytest.mark.network
def test_the_port_refuses_to_import_over_real_mmpose(wheel: Path) -> None:
    # Real mmpose first, then the port over it: one `mmpose/` folder holding files of both.
    env = build_env("dwpose-clash", [], torch=None, no_deps=["mmpose==1.3.2"])
    find_uv().pip_install(python_of(env), [str(wheel)], extra=["--no-deps", "--reinstall-package", dwpose.DIST_NAME])
    run = subprocess.run([str(python_of(env)), "-c", "import mmpose"], capture_output=True, text=True)
    assert run.returncode != 0
    assert "InstalledBesideMmposeError" in run.stderr
    assert "--strategy mmpose-free" in run.stderr


@pytest.mark.network
def test_check_sees_the_port_providing_mmpose(free_env: Path, cli) -> None:
    res = cli("check", "--python", str(python_of(free_env)), "--only", "imports", "--json")
    assert res.code in (0, 1), res.err
    report = res.json()
    text = json.dumps(report)
    for module in ("mmpose", "mmpose.apis", "mmpose.structures"):
        assert f'"{module}"' in text
    imports = _import_results(report)
    for module in ("mmpose", "mmpose.apis", "mmpose.structures"):
        assert imports.get(module) == "ok", (module, imports.get(module))


def _import_results(report: dict) -> dict[str, str]:
    found: dict[str, str] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "module" in node and "status" in node:
                found[str(node["module"])] = str(node["status"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(report)
    return found


@pytest.mark.network
@pytest.mark.parametrize("python_version", ["3.10", "3.11", "3.12", "3.13"])
def test_the_port_resolves_for_python(python_version: str, wheel: Path, tmp_path: Path) -> None:
    req = tmp_path / "requirements.in"
    req.write_text("\n".join([*dwpose.requirements(wheel), "numpy", "opencv-python-headless"]) + "\n")
    out = tmp_path / "requirements.txt"
    find_uv().pip_compile(
        req,
        out,
        python_version=python_version,
        python_platform="x86_64-manylinux_2_28",
        generate_hashes=False,
        timeout=300,
    )
    pins = {
        line.split("==")[0].split(" @ ")[0].strip().lower()
        for line in out.read_text().splitlines()
        if line and not line.startswith(("#", " "))
    }
    assert dwpose.DIST_NAME in pins
    assert "torch" in pins
    assert not pins & set(dwpose.REMOVES)


@pytest.mark.network
def test_every_config_the_port_accepts_builds_mmposes_exact_network(ref_env: Path, tmp_path: Path) -> None:
    out = tmp_path / "configs.json"
    run = subprocess.run(
        [str(python_of(ref_env)), "-W", "ignore", str(TESTS / "dwpose_configs_run.py"), str(dwpose.PAYLOAD), str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(out.read_text())
    accepted = report["accepted"]
    assert "wholebody_2d_keypoint/rtmpose/ubody/rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288.py" in accepted
    assert len(accepted) >= 5
    assert {name for name, r in accepted.items() if not r["same_keys_and_shapes"]} == set()
    # Every refusal says why.
    assert all(reason for reason in report["refused"].values())


@pytest.fixture(scope="module")
def musetalk_free_env(wheel: Path) -> Path:
    env = build_env("musetalk-mmpose-free", MUSETALK_INFERENCE, torch="vision")
    find_uv().pip_install(
        python_of(env),
        [str(wheel)],
        constraints=[env / ".envkit-hold.txt"],
        extra=["--reinstall-package", dwpose.DIST_NAME],
    )
    # What fix does on a machine without ffmpeg: the wheel's binary linked into the env's bin.
    provide_ffmpeg(python_of(env))
    return env


@pytest.mark.network
def test_a_musetalk_environment_with_the_port_passes_check(cli, musetalk_free_env: Path) -> None:
    run = cli("check", "--venv", str(musetalk_free_env), "--json")
    doc = run.json()
    problems = [(r["title"], r["found"]) for r in doc["results"] if r["status"] == "fail"]
    assert problems == [] and run.code == 0, problems
    names = {d.lower() for d in find_uv().pip_freeze(python_of(musetalk_free_env))}
    assert not {n.split("==")[0].split(" @ ")[0] for n in names} & set(dwpose.REMOVES)
    imported = {r["title"] for r in doc["results"] if r["category"] == "Imports" and r["status"] == "ok"}
    assert {"import torch", "import mmpose", "import mmpose.apis", "import mmpose.structures"} <= imported
    # ... and check says whose `mmpose` it is.
    found = {r["title"]: r["found"] for r in doc["results"] if r["category"] == "Imports"}
    assert found["import mmpose.apis"].startswith(f"{dwpose.DIST_NAME} {dwpose.VERSION}")
