"""A CUDA mmcv 2.1.0 for PyPI's torch 2.14.1+cu130, built without a GPU and proven as far as no GPU allows (slow).

`fix --build --cuda-arch "9.0;12.0"` (tests/cudakit.py; kept between runs) then: every kernel object of the
wheel's `_ext` holds SASS for sm_90 and sm_120, read from the binary; the wheel is labelled and records its
archs and toolchain; in the environment fix made, `check` is green, `mmcv._ext` is the compiled one, its CPU
nms and roi_align equal the stub's torch code on the same inputs, and DWPose runs through real mmpose.
The fleet half (a second environment served the wheel over HTTP) is tests/test_wheelhouse_fleet.py.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
from cudakit import HOUSE, LABEL, WHEEL, fix_with_the_cuda_wheel, torch_venv
from envkit import python_of, run_inside

from envdoctor import checkrun, process
from envdoctor import target as target_mod
from envdoctor.build import BUILD_RECORD
from envdoctor.cuda import fatbin
from envdoctor.stub import generate

pytestmark = [pytest.mark.slow, pytest.mark.envs, pytest.mark.network]

# The same inputs to the compiled CPU ops and to the stub's torch code for them (loaded from its file).
PARITY = """
import importlib.util, json, sys, torch, mmcv._ext as ext
spec = importlib.util.spec_from_file_location("stub_ext", sys.argv[1])
stub = importlib.util.module_from_spec(spec); spec.loader.exec_module(stub)
gen = torch.Generator().manual_seed(0)
xy = torch.rand(200, 2, generator=gen) * 90
boxes = torch.cat([xy, xy + 5 + torch.rand(200, 2, generator=gen) * 20], 1)
scores = torch.rand(200, generator=gen)
nms = [impl.nms(boxes, scores, iou_threshold=0.5, offset=0).tolist() for impl in (ext, stub)]
feat = torch.rand(2, 3, 32, 32, generator=gen)
rois = torch.tensor([[0, 1.5, 2.0, 20.0, 25.5], [1, 0.0, 0.0, 31.0, 31.0], [0, 10.2, 4.4, 18.9, 12.1]])
outs = []
for impl in (ext, stub):
    out, argmax_y, argmax_x = torch.zeros(3, 3, 7, 5), torch.zeros(3, 3, 7, 5), torch.zeros(3, 3, 7, 5)
    impl.roi_align_forward(feat, rois, out, argmax_y, argmax_x, aligned_height=7, aligned_width=5,
                           spatial_scale=1.0, sampling_ratio=2, pool_mode=1, aligned=True)
    outs.append(out)
print(json.dumps({"ext": ext.__file__, "nms": nms, "roi_align_max_diff": float((outs[0] - outs[1]).abs().max()),
                  "cuda_version": ext.get_compiling_cuda_version()}))
"""


def test_the_cuda_mmcv_holds_sm90_and_sm120_in_every_kernel_object_and_runs_mmpose(cli, tmp_path: Path) -> None:
    venv = torch_venv(tmp_path / "env")
    run = fix_with_the_cuda_wheel(cli, venv)
    assert run.code == 0, run.out[-4000:]
    wheel = HOUSE / WHEEL
    assert wheel.is_file(), sorted(p.name for p in HOUSE.iterdir())

    with zipfile.ZipFile(wheel) as zf:
        record = json.loads(zf.read(f"mmcv-{LABEL}.dist-info/{BUILD_RECORD}"))
        ext_name = next(n for n in zf.namelist() if n.startswith("mmcv/_ext") and n.endswith(".so"))
        (tmp_path / "ext.so").write_bytes(zf.read(ext_name))
    assert record["sass"] == [90, 120] and record["cuda"] == "13.0" and record["torch"] == "2.14.1+cu130"
    each = fatbin.read_each(tmp_path / "ext.so")
    assert len(each) == record["kernel_objects"] >= 58, "a fat binary per compiled .cu file with kernels (58 here)"
    assert all({90, 120} <= d.sass for d in each), [sorted(d.sass) for d in each]

    python = python_of(venv)
    report = checkrun.run(target_mod.resolve(venv=str(venv)))
    assert report.exit_code == 0, [(r.id, r.found) for r in report.failures]

    mmcv = next(venv.glob("lib/python*/site-packages/mmcv"))
    stub = tmp_path / "stub_ext.py"
    stub.write_text(generate(mmcv).text)
    got = run_inside(python, ["-c", PARITY, str(stub)], what="the compiled ops against the stub's", timeout=300)
    assert "site-packages/mmcv/_ext" in got["ext"] and got["ext"].endswith(".so")
    assert got["cuda_version"].startswith("13.0")
    assert got["nms"][0] == got["nms"][1] and len(got["nms"][0]) > 10
    assert got["roi_align_max_diff"] < 1e-5

    # The GPU check script, every row on the CPU here: its own proof, and DWPose through real mmpose on
    # the compiled mmcv (smoke --deps), the other heavy libraries beside it.
    script = Path(__file__).resolve().parent / "gpu" / "gpu_check.py"
    ran = process.run(
        [sys.executable, script, "--venv", venv, "--device", "cpu", "--out", tmp_path / "gpu"], timeout=1800
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    rows = {r["check"]: r for r in json.loads((tmp_path / "gpu" / "gpu-check.json").read_text())}
    assert rows["op nms: cpu == cpu"]["ok"] and rows["op roi_align: cpu == cpu"]["ok"]
    dwpose = rows["smoke --deps dwpose on cpu"]
    assert dwpose["ok"] and "through mmpose 1.3.2: 133 keypoints" in dwpose["detail"], dwpose
