"""`envdoctor fix` end to end on real environments (its acceptance tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from envkit import PYTHONS_HINT, find_python, python_of, run_inside, torch_index_args, torch_series
from fixenv import broken_env
from packaging.version import Version
from planfix import plan_then_fix
from test_wheelhouse import tiny_mmcv

from envdoctor import checkrun
from envdoctor import target as target_mod
from envdoctor.build import relabel
from envdoctor.checks import Status
from envdoctor.uv import find_uv
from envdoctor.wheellabel import label_for

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

HERE = Path(__file__).resolve().parent
# Runs the DWPose (RTMPose-l wholebody) config shipped in the mmpose wheel: init_model + inference_topdown.
RTMPOSE = HERE / "stub_inside" / "rtmpose.py"


def _held(env: Path) -> list[str]:
    return [ln for ln in find_uv().pip_freeze(python_of(env)) if ln.split("==")[0] in ("torch", "torchvision")]


def _still_sent_to_fix(report: checkrun.CheckReport) -> list[tuple[str, str, str]]:
    """Findings that after `fix` still say `envdoctor fix`: each one would be a fix that does not do what it says."""
    return [
        (r.id, r.found, r.fix)
        for r in report.results
        if r.status in (Status.FAIL, Status.WARN) and "envdoctor fix" in (r.fix or "")
    ]


def _dwpose_forward(env: Path) -> dict[str, object]:
    return run_inside(python_of(env), [str(RTMPOSE)], what="stub_inside/rtmpose.py")


@pytest.mark.slow
def test_fix_turns_the_broken_environment_green(cli) -> None:
    with broken_env("accept") as env:
        freeze = find_uv().pip_freeze(python_of(env))
        names = {ln.split("==")[0]: ln.split("==")[-1] for ln in freeze}
        assert {"mmcv", "mmcv-lite"} <= set(names) and names["numpy"].startswith("2.")
        assert int(names["setuptools"].split(".")[0]) >= 82 and names["xtcocotools"] == "1.14.3"
        torch_before = _held(env)

        run = cli("fix", "--venv", str(env), "--yes")
        assert run.code == 0, run.out[-4000:]
        assert "OK: lite-stub: applied and verified (envdoctor check exits 0)" in run.out

        assert _held(env) == torch_before, "torch and torchvision are held"
        report = checkrun.run(target_mod.resolve(venv=str(env)))
        assert report.exit_code == 0, [(r.id, r.found) for r in report.failures]
        assert _still_sent_to_fix(report) == []
        out = _dwpose_forward(env)
        assert out["keypoints_shape"] == [1, 133, 2] and out["finite"] and out["mmdet_imported"]


@pytest.mark.network
def test_committed_lockfile_into_an_empty_venv_is_green(cli, tmp_path: Path) -> None:
    venv = tmp_path / "new"
    # The series the local torch installs into: fix --create finds that Python itself (uv, PATH, pyenv).
    series = torch_series("vision")[0]
    if find_python(series) is None:
        pytest.skip(f"no Python {series} for the local torch: {PYTHONS_HINT}")
    made = cli("fix", "--venv", str(venv), "--create", "--python-version", series, "--dry-run", "--json")
    assert made.code == 0 and (venv / "pyvenv.cfg").is_file(), made.err[-2000:]
    # torch from the local index only (never a multi-GB download here); the rest from the lockfile.
    plan, run = plan_then_fix(cli, venv, *torch_index_args())
    assert run.code == 0, run.out[-4000:]
    assert plan["steps"][0]["kind"] == "torch" and plan["sources"]["torch"] is not None
    summaries = [s["summary"] for s in plan["steps"]]
    lockfile = f"lite-stub-modern-py{series.replace('.', '')}-cpu-linux.txt"
    assert any(s.startswith(f"install the pinned set from {lockfile}") for s in summaries), summaries
    assert run.json()["result"]["message"].startswith("lite-stub: applied and verified")
    report = checkrun.run(target_mod.resolve(venv=str(venv)))
    assert report.exit_code == 0, [(r.id, r.found) for r in report.failures]
    assert _still_sent_to_fix(report) == []  # a newcomer's environment: check and fix agree


@pytest.mark.network
def test_mmpose_free_resolved_now_removes_openmmlab_and_is_green(cli) -> None:
    with broken_env("free") as env:
        torch_before = _held(env)
        plan, run = plan_then_fix(cli, env, "--strategy", "mmpose-free", "--resolve")
        assert run.code == 0, run.out[-4000:]
        install = next(s for s in plan["steps"] if s["kind"] == "install")
        assert install["summary"].startswith("resolve and install MuseTalk's 'modern' set with uv (--resolve")
        assert run.json()["result"]["message"].startswith("mmpose-free: applied and verified")
        names = {ln.split("==")[0].split(" @ ")[0] for ln in find_uv().pip_freeze(python_of(env))}
        assert not names & {"mmcv", "mmcv-lite", "mmdet", "mmengine", "mmpose", "xtcocotools"}
        assert "envdoctor-mmpose-free" in names
        assert _held(env) == torch_before


@pytest.mark.slow
@pytest.mark.network
def test_prebuilt_fix_runs_the_printed_plan_and_puts_back_a_wheel_without_ops(cli, tmp_path: Path) -> None:
    """prebuilt from a local wheelhouse: fix runs exactly the steps `plan --json` printed. The wheel is
    labelled for this torch but holds no ops, so the check after the install fails and the environment
    is put back exactly."""
    with broken_env("prebuilt") as env:
        facts = cli("plan", "--venv", str(env), "--json").json()["facts"]
        label = label_for(Version(facts["torch"]), facts["accelerator"])
        house = tmp_path / "house"
        relabel(tiny_mmcv(tmp_path / "raw"), Version(f"2.1.0+{label}"), house)
        before = find_uv().pip_freeze(python_of(env))
        plan, run = plan_then_fix(cli, env, "--strategy", "prebuilt", "--find-links", str(house))
        assert any(s["kind"] == "install" and str(house) in s.get("find_links", []) for s in plan["steps"])
        result = run.json()["result"]
        assert run.code == 1 and result["rolled_back"] and result["restored"], result["message"]
        assert find_uv().pip_freeze(python_of(env)) == before
