"""One build serves a fleet (slow): `fix --build` writes a labelled mmcv wheel, `wheelhouse index`
indexes it, and a second fresh environment with the same torch installs it over HTTP without building.

The wheelhouse is kept between runs in $ENVDOCTOR_TEST_WHEELHOUSE (default: <test envs>/wheelhouse):
compiling mmcv 2.1.0's ops takes about half an hour on 2 cores, so only the first run builds; later
runs find the labelled wheel there, and the plan says so. Both environments hold torch 2.13.0+cpu and
its CPU torchvision (a green `check` needs torchvision), from $ENVDOCTOR_TEST_TORCH_WHEELS.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from envkit import ENV_ROOT, python_of, run_inside, torch_indexes, torch_python, torch_requirements, torch_wheels
from wheelserve import serve

from envdoctor import checkrun
from envdoctor import target as target_mod
from envdoctor.uv import find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

WHEELHOUSE = Path(os.environ.get("ENVDOCTOR_TEST_WHEELHOUSE", ENV_ROOT / "wheelhouse"))
WHEEL = "mmcv-2.1.0+pt2.13.0cpu-cp311-cp311-linux_x86_64.whl"

# nms on three boxes: the second overlaps the first (IoU 0.68) and goes; the compiled op says which stay.
NMS = """
import json, torch, mmcv, mmcv.ops, mmcv._ext as ext
boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
dets, keep = mmcv.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
print(json.dumps({"keep": keep.tolist(), "ext": ext.__file__, "version": mmcv.__version__}))
"""


def _cpu_torchvision() -> str | None:
    """The CPU torchvision for the CPU torch in $ENVDOCTOR_TEST_TORCH_WHEELS, if that folder has one.

    `check` is green only with torchvision, and PyPI's Linux torchvision is built for the CUDA torch:
    its operators do not load beside a CPU torch. A CPU build of mmcv needs the CPU pair.
    """
    folder = torch_wheels()
    if folder is None:
        return None
    wheels = sorted(Path(folder).glob("torchvision-*+cpu-*.whl"))
    return str(wheels[-1]) if wheels else None


def _torch_venv(path: Path, torchvision: str) -> Path:
    uv = find_uv()
    uv.venv(path, python=torch_python("cpu"))
    uv.pip_install(python_of(path), [*torch_requirements("cpu"), torchvision], indexes=torch_indexes("cpu"))
    return path


@pytest.mark.slow
def test_a_built_wheel_serves_a_second_environment_over_http(cli, tmp_path: Path) -> None:
    torchvision = _cpu_torchvision()
    if torchvision is None:
        pytest.skip(
            "needs the CPU torchvision (0.28.0+cpu for torch 2.13.0) beside the CPU torch wheel in "
            "ENVDOCTOR_TEST_TORCH_WHEELS"
        )
    first = _torch_venv(tmp_path / "first", torchvision)
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    build = ["--strategy", "prebuilt", "--build", "--wheelhouse", str(WHEELHOUSE)]
    run = cli("fix", "--venv", str(first), "--yes", *build)
    assert run.code == 0, run.out[-4000:]
    assert (WHEELHOUSE / WHEEL).is_file() or any(WHEELHOUSE.rglob(WHEEL)), "the build writes a labelled wheel"

    assert cli("wheelhouse", "index", str(WHEELHOUSE)).code == 0
    second = _torch_venv(tmp_path / "second", torchvision)
    with serve(WHEELHOUSE) as base:
        url = f"{base}/simple/"
        # An empty --wheelhouse: the wheel can only come from the index.
        run = cli(
            "fix",
            "--venv",
            str(second),
            "--yes",
            "--strategy",
            "prebuilt",
            "--wheel-index",
            url,
            "--wheelhouse",
            str(tmp_path / "empty"),
        )
        assert run.code == 0, run.out[-4000:]
    assert f"fits this target, from the wheel index {url}" in run.out
    assert "build mmcv" not in run.out, "the second environment never builds"
    assert "mmcv==2.1.0+pt2.13.0cpu" in find_uv().pip_freeze(python_of(second))

    report = checkrun.run(target_mod.resolve(venv=str(second)))
    assert report.exit_code == 0, [(r.id, r.found) for r in report.failures]
    out = run_inside(python_of(second), ["-c", NMS], what="nms through mmcv.ops", timeout=300)
    assert out["keep"] == [0, 2] and out["version"] == "2.1.0"
    assert out["ext"].endswith(".so"), "the compiled op, not a stub"
