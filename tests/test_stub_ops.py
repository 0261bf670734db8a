"""The stub at work in a real uv-built venv: mmcv-lite 2.1.0, mmengine, mmdet, mmpose, torch + torchvision.

tests/stub_inside/ops.py runs inside that venv once (imports, every raising op, real-op parity) and the
tests below each judge one part of its report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from envkit import python_of, run_inside
from stubenv import stub_env

from envdoctor.resources import data_dir
from envdoctor.stub import status
from envdoctor.target import resolve
from envdoctor.uv import find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

HERE = Path(__file__).resolve().parent
SYMBOLS = data_dir() / "mmcv-ext-symbols.txt"  # the 112 names, from the package


def _names(tmp: Path) -> Path:
    if SYMBOLS.is_file():
        return SYMBOLS
    from envdoctor.stub import generate

    stub = generate(next(stub_env().glob("lib/python*/site-packages/mmcv")))
    path = tmp / "names.txt"
    path.write_text("\n".join(stub.ops))
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = stub_env()
    names = _names(tmp_path_factory.mktemp("names"))
    return run_inside(python_of(env), [str(HERE / "stub_inside" / "ops.py"), str(names)], what="stub_inside/ops.py")


def _ok(part: dict[str, Any]) -> None:
    assert part.get("ok"), part.get("traceback") or part


@pytest.mark.network
def test_all_112_names_exist_and_the_stack_imports(report: dict[str, Any]) -> None:
    part = report["imports"]
    _ok(part)
    assert part["missing"] == []
    assert part["file"].endswith("site-packages/mmcv/_ext.py")
    # A real module file: pkgutil.find_loader (mmengine's revert_sync_batchnorm) finds it.
    assert part["loader"] == "SourceFileLoader"
    assert part["calls_after_imports"] == {}, "importing mmcv.ops, mmdet.models and mmpose.apis must call no op"


@pytest.mark.network
def test_every_raising_op_raises_the_named_error(report: dict[str, Any]) -> None:
    part = report["raising"]
    _ok(part)
    assert part["tested"] == 104 and part["bad"] == {} and part["counted"]
    assert part["is_not_implemented"]
    assert "mmcv._ext.nms_rotated" in part["example"] and "mmcv 2.1.0" in part["example"]


@pytest.mark.network
def test_nms_matches_a_plain_greedy_nms_for_both_offsets(report: dict[str, Any]) -> None:
    _ok(report["nms"])
    assert report["nms"]["cases"] == 400


@pytest.mark.network
def test_bbox_overlaps_matches_mmcvs_pure_torch_version(report: dict[str, Any]) -> None:
    _ok(report["bbox_overlaps"])


@pytest.mark.network
def test_roi_align_avg_matches_torchvision_in_place(report: dict[str, Any]) -> None:
    part = report["roi_align"]
    _ok(part)
    assert part["inplace"] and part["max_mode"] == "MmcvExtStubError"


@pytest.mark.network
def test_roi_pool_matches_mmcvs_kernel_arithmetic(report: dict[str, Any]) -> None:
    part = report["roi_pool"]
    _ok(part)
    assert part["argmax_equal"] and part["max_abs"] == 0.0


@pytest.mark.network
def test_deform_convs_match_conv2d_and_torchvision(report: dict[str, Any]) -> None:
    _ok(report["deform_conv"])


@pytest.mark.network
def test_compiler_versions_say_the_stub_has_no_compiled_ops(report: dict[str, Any]) -> None:
    # mmcv.ops answers these from _ext (environment reports print them): the stub names itself rather than a
    # compiler it never had, and answers for CUDA what an mmcv built without CUDA answers.
    part = report["compiler"]
    _ok(part)
    assert "envdoctor" in part["compiler"] and "stub" in part["compiler"], part
    assert part["cuda"] == "not available", part


@pytest.mark.network
def test_uv_lists_the_stub_and_status_counts_its_ops() -> None:
    env = stub_env()
    listed = {row["name"]: row["version"] for row in find_uv().pip_list(python_of(env))}
    assert listed.get("mmcv-ext-stub") == "2.1.0"
    state = status(resolve(venv=str(env)))
    assert state.ext_state == "stub" and state.provider == "mmcv-lite"
    assert (state.real, state.raising) == (8, 104)
    assert state.stub_dist_version == "2.1.0"
    # A planner holding Facts gets the same answer without another probe.
    from envdoctor.probe import gather
    from envdoctor.stub import state_from_facts, why_not_install

    from_facts = state_from_facts(gather(resolve(venv=str(env)), []))
    assert (from_facts.ext_state, from_facts.real, from_facts.raising, from_facts.stub_dist_version) == (
        "stub",
        8,
        104,
        "2.1.0",
    )
    assert from_facts.provider == "mmcv-lite" and why_not_install(from_facts) is None


@pytest.mark.network
def test_envdoctor_check_reports_the_stub_and_its_op_counts() -> None:
    env = stub_env()
    proc = subprocess.run(
        [sys.executable, "-m", "envdoctor", "check", "--venv", str(env)], capture_output=True, text=True, timeout=600
    )
    assert "envdoctor stub for mmcv 2.1.0: 8 ops real, 104 raise when called" in proc.stdout, proc.stdout[-3000:]
