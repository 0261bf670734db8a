"""`fix` is judged on what it owns, decides up front what its plan can predict, and says where torch
comes from when the PyTorch index cannot be reached."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from envkit import TORCH_VISION, python_of, suite_python, torch_index_args, torch_indexes, torch_python
from fixenv import cpu_torch_env
from txenv import make_env, pure_wheel

from envdoctor import apply as apply_mod
from envdoctor import checkrun
from envdoctor import plan as plan_mod
from envdoctor import target as target_mod
from envdoctor.apply import preflight
from envdoctor.apply.results import Verification
from envdoctor.apply.verification import judge
from envdoctor.strategies import Step
from envdoctor.uv import Indexes, find_uv

DEAD = "http://127.0.0.1:9/whl/cpu"


@pytest.mark.network
def test_torch_without_torchvision_plans_the_matching_release_from_torchs_index() -> None:
    plan = plan_mod.make(target_mod.resolve(venv=str(cpu_torch_env())))
    step = next(s for s in plan.steps if s.kind == "torchvision")
    assert step.packages == ("torchvision==0.28.*",) and step.constraints == ("torch==2.13.0+cpu",)
    assert step.index_url == "https://download.pytorch.org/whl/cpu"
    assert plan.steps.index(step) == 0, "torchvision comes before anything that needs it"


@pytest.mark.network
def test_torchvision_from_an_unreachable_index_is_refused_before_any_change() -> None:
    env = cpu_torch_env()
    before = find_uv().pip_freeze(python_of(env))
    plan = plan_mod.make(target_mod.resolve(venv=str(env)))
    steps = tuple(replace(s, index_url=DEAD) if s.kind == "torchvision" else s for s in plan.steps)
    result = apply_mod.apply(replace(plan, steps=steps))
    assert not result.ok and not result.rolled_back and result.outcomes == ()
    assert "torchvision is missing beside torch 2.13.0+cpu" in result.message
    assert DEAD in result.message and "Nothing was changed" in result.message and "--torch-index" in result.message
    assert find_uv().pip_freeze(python_of(env)) == before
    assert not (env / ".envdoctor").exists(), "refused before even taking the lock"


def test_unreachable_pytorch_index_takes_torch_from_pypi_and_says_what_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = tmp_path / "empty"
    find_uv().venv(venv, python=suite_python())
    plan = plan_mod.make(target_mod.resolve(venv=str(venv)))
    assert "torch" in [s.kind for s in plan.steps]
    monkeypatch.setattr(preflight, "pytorch_index_root", lambda: "http://127.0.0.1:9/whl/")
    got = preflight.prepare(plan, apply_mod.Sources())
    assert got.refusal is None and got.sources.torch == Indexes(index_url="https://pypi.org/simple")
    (notice,) = got.notices
    assert notice.startswith("the PyTorch wheel index http://127.0.0.1:9/whl/ cannot be reached (")
    assert "torch comes from https://pypi.org/simple" in notice
    ctx = plan.context
    build = "a CUDA build" if (ctx.os, ctx.machine) == ("linux", "x86_64") else "a CPU build"
    assert build in notice
    # A company mirror given with --index-url is the index that can be reached.
    mirror = preflight.prepare(plan, apply_mod.sources(index_url="https://mirror.example/simple"))
    assert mirror.sources.torch == Indexes(index_url="https://mirror.example/simple")
    # torch's index given by the user is used as given, reachable or not.
    given = preflight.prepare(plan, apply_mod.sources(torch_index=(DEAD,)))
    assert given.notices == () and given.sources.torch is not None and given.sources.torch.extra_index_urls == (DEAD,)


def test_this_machines_pytorch_index_is_judged_for_real() -> None:
    why = preflight.unreachable(preflight.pytorch_index_root())
    if why is None:
        pytest.skip("download.pytorch.org answers here; the fallback is covered with a dead loopback port above")
    assert why


def test_judged_on_what_it_owns() -> None:
    def v(*ids: str) -> Verification:
        return Verification(1 if ids else 0, "envdoctor check", tuple(f"{i}: bad" for i in ids), ids)

    kept = judge(v("models.files", "tools.ffmpeg"), frozenset({"models.files", "tools.ffmpeg"}))
    assert not kept.roll_back and kept.left_for_you == ("models.files: bad", "tools.ffmpeg: bad")
    owned = judge(v("models.files", "packages.mmcv-ext"), frozenset({"models.files"}))
    assert owned.roll_back and owned.reasons == ("packages.mmcv-ext: bad",)
    worse = judge(v("tools.ffmpeg"), frozenset())
    assert worse.roll_back, "a check that passed before and fails after is fix's doing"
    assert not judge(v(), frozenset()).roll_back


def test_findings_it_does_not_manage_are_left_for_you_and_the_env_is_kept(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    env = make_env(tmp_path, pure_wheel(wheels, "tinyext", "1.0"), [pure_wheel(wheels, "purepkg", "1.0")])
    models = tmp_path / "models-missing"
    models.mkdir()
    target = target_mod.resolve(venv=str(env))

    def real_check(t: target_mod.Target, _plan: plan_mod.Plan) -> Verification:
        # The real check, its model-file family (which fix does not manage) and the journal check.
        report = checkrun.run(t, models=models, only=("models.files", "system.unfinished-fix"))
        return Verification(report.exit_code, "envdoctor check", tuple(f"{r.id}: {r.found}" for r in report.failures),
                            tuple(r.id for r in report.failures))  # fmt: skip

    assert set(real_check(target, None).failed_ids) == {"models.files"}  # type: ignore[arg-type]
    plan = plan_mod.make(target)
    steps = (Step(kind="uninstall", summary="uninstall purepkg", packages=("purepkg",)), Step("verify", "check"))
    result = apply_mod.apply(
        replace(plan, steps=steps, chosen="test"), verifier=real_check, cache=tmp_path / "c",
        before=lambda t: frozenset(real_check(t, plan).failed_ids),
    )  # fmt: skip
    assert not result.ok and result.exit_code == 1 and not result.rolled_back
    assert result.left_for_you and all(f.startswith("models.files") for f in result.left_for_you)
    assert "Left for you (" in result.message and "the environment is kept" in result.message
    names = {ln.split("==")[0].split(" @ ")[0] for ln in find_uv().pip_freeze(python_of(env))}
    assert "purepkg" not in names and "tinyext" in names, "the change was kept"
    assert not (env / ".envdoctor" / "journal.json").exists()


@pytest.mark.slow
def test_torch_without_torchvision_is_fixed_with_the_matching_torchvision(cli, tmp_path: Path) -> None:
    """After fix, torchvision matches torch and check exits 0 (nothing rolled back)."""
    venv = tmp_path / "torch-only"
    uv = find_uv()
    uv.venv(venv, python=torch_python("vision"))
    uv.pip_install(python_of(venv), [f"torch=={TORCH_VISION[0]}"], indexes=torch_indexes("vision"))
    run = cli("fix", "--venv", str(venv), "--yes", *torch_index_args())
    assert run.code == 0, run.out[-4000:]
    assert f"install torchvision 0.29.x, the release made for torch {TORCH_VISION[0]}" in run.out
    assert "rolling back" not in run.out
    freeze = dict(ln.split("==", 1) for ln in uv.pip_freeze(python_of(venv)) if "==" in ln)
    assert freeze["torch"] == TORCH_VISION[0] and freeze["torchvision"] == TORCH_VISION[1]
    report = checkrun.run(target_mod.resolve(venv=str(venv)))
    assert report.exit_code == 0, [(r.id, r.found) for r in report.failures]
