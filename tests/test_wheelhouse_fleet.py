"""One build serves a fleet (slow): `fix --build` writes a labelled mmcv wheel, `wheelhouse index`
indexes it, and a second fresh environment with the same torch installs it over HTTP without building.

Both environments hold PyPI's torch 2.14.1+cu130 and torchvision 0.29.1, a matching pair from the local
index ($ENVDOCTOR_TEST_TORCH_INDEX). The wheel is tests/cudakit.py's CUDA build for sm_90 and sm_120 (its
CPU ops are what runs here), kept between runs: only the first run compiles; later ones find it, and the
first fix then says it fits and builds nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cudakit import HOUSE, LABEL, WHEEL, fix_with_the_cuda_wheel, torch_venv
from envkit import python_of, run_inside, torch_index_args
from wheelserve import serve

from envdoctor import checkrun
from envdoctor import target as target_mod
from envdoctor.uv import find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = [pytest.mark.envs, pytest.mark.network]

# nms on three boxes: the second overlaps the first (IoU 0.68) and goes; the compiled op says which stay.
NMS = """
import json, torch, mmcv, mmcv.ops, mmcv._ext as ext
boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
dets, keep = mmcv.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
print(json.dumps({"keep": keep.tolist(), "ext": ext.__file__, "version": mmcv.__version__}))
"""


@pytest.mark.slow
def test_a_built_wheel_serves_a_second_environment_over_http(cli, tmp_path: Path) -> None:
    first = torch_venv(tmp_path / "first")
    run = fix_with_the_cuda_wheel(cli, first)
    assert run.code == 0, run.out[-4000:]
    assert (HOUSE / WHEEL).is_file(), "the build writes a labelled wheel"

    assert cli("wheelhouse", "index", str(HOUSE)).code == 0
    second = torch_venv(tmp_path / "second")
    with serve(HOUSE) as base:
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
            *torch_index_args(),
        )
        assert run.code == 0, run.out[-4000:]
    assert f"fits this target, from the wheel index {url}" in run.out
    assert "build mmcv" not in run.out, "the second environment never builds"
    assert f"mmcv=={LABEL}" in find_uv().pip_freeze(python_of(second))

    report = checkrun.run(target_mod.resolve(venv=str(second)))
    assert report.exit_code == 0, [(r.id, r.found) for r in report.failures]
    out = run_inside(python_of(second), ["-c", NMS], what="nms through mmcv.ops", timeout=300)
    assert out["keep"] == [0, 2] and out["version"] == "2.1.0"
    assert out["ext"].endswith(".so"), "the compiled op, not a stub"
