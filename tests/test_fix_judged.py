"""`fix` is judged on what it owns, decides up front what its plan can predict, and says where torch
comes from when the PyTorch index cannot be reached."""

from __future__ import annotations

import hashlib
import subprocess
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
from envdoctor.apply.results import FixVerification
from envdoctor.apply.verification import baseline, check_verifier, judge
from envdoctor.report import plan_text
from envdoctor.sources import install_sources, pytorch_index_root, unreachable
from envdoctor.steps import InstallTorch, InstallTorchvision, Uninstall, Verify
from envdoctor.strategies import common
from envdoctor.uv import Indexes, find_uv

DEAD = "http://127.0.0.1:9/whl/cpu"


@pytest.mark.network
def test_torch_without_torchvision_plans_the_matching_release_from_torchs_index() -> None:
    plan = plan_mod.make(target_mod.resolve(venv=str(cpu_torch_env())))
    step = plan.first(InstallTorchvision)
    assert step is not None
    assert step.requirement == "torchvision==0.28.*" and step.torch_pin == "torch==2.13.0+cpu"
    assert step.index_url == "https://download.pytorch.org/whl/cpu"
    assert plan.steps.index(step) == 0, "torchvision comes before anything that needs it"


@pytest.mark.network
def test_torchvision_from_an_unreachable_index_is_refused_before_any_change(monkeypatch: pytest.MonkeyPatch) -> None:
    env = cpu_torch_env()
    before = find_uv().pip_freeze(python_of(env))
    monkeypatch.setattr(common, "torch_index", lambda ctx: DEAD)
    plan = plan_mod.make(target_mod.resolve(venv=str(env)))
    # Decided in the plan, and shown there: `plan` and `fix --dry-run` say it before anyone says yes.
    assert plan.refusal is not None and not plan.ok and DEAD in plan_text.render(plan)
    result = apply_mod.apply(plan)
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
    target = target_mod.resolve(venv=str(venv))
    monkeypatch.setattr(plan_mod, "pytorch_index_root", lambda: "http://127.0.0.1:9/whl/")
    plan = plan_mod.make(target)
    step = plan.first(InstallTorch)
    assert step is not None and "torch" in [s.kind for s in plan.steps]
    # The fallback is in the plan the user approves, not decided after the yes.
    assert step.indexes == Indexes(index_url="https://pypi.org/simple")
    notice = step.fallback
    assert notice is not None and plan.fallbacks == (notice,) and f"notice: {notice}" in plan.notes
    assert notice.startswith("the PyTorch wheel index http://127.0.0.1:9/whl/ cannot be reached (")
    assert "torch comes from https://pypi.org/simple" in notice
    ctx = plan.context
    build = "a CUDA build" if (ctx.os, ctx.machine) == ("linux", "x86_64") else "a CPU build"
    assert build in notice
    assert plan.to_dict()["steps"][0]["fallback"] == notice and notice in plan_text.render(plan)
    # A company mirror given with --index-url is the index that can be reached.
    mirror = plan_mod.make(target, sources=install_sources(index_url="https://mirror.example/simple")).first(
        InstallTorch
    )
    assert mirror is not None and mirror.indexes == Indexes(index_url="https://mirror.example/simple")
    # torch's index given by the user is used as given, reachable or not.
    given = plan_mod.make(target, sources=install_sources(torch_index=(DEAD,))).first(InstallTorch)
    assert given is not None and given.fallback is None
    assert given.indexes is not None and given.indexes.extra_index_urls == (DEAD,)


def test_this_machines_pytorch_index_is_judged_for_real() -> None:
    why = unreachable(pytorch_index_root())
    if why is None:
        pytest.skip("download.pytorch.org answers here; the fallback is covered with a dead loopback port above")
    assert why


def test_judged_on_what_it_owns() -> None:
    def v(*ids: str) -> FixVerification:
        return FixVerification(1 if ids else 0, "envdoctor check", tuple(f"{i}: bad" for i in ids), ids)

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

    def real_check(t: target_mod.Target, _plan: plan_mod.Plan) -> FixVerification:
        # The real check, its model-file family (which fix does not manage) and the journal check.
        report = checkrun.run(t, models=models, only=("models.files", "system.unfinished-fix"))
        failures = tuple(f"{r.id}: {r.found}" for r in report.failures)
        failures = tuple(f"{r.id}: {r.found}" for r in report.failures)
        return FixVerification(report.exit_code, "envdoctor check", failures, tuple(r.id for r in report.failures))

    assert set(real_check(target, None).failed_ids) == {"models.files"}  # type: ignore[arg-type]
    plan = plan_mod.make(target)
    steps = (Uninstall(summary="uninstall purepkg", packages=("purepkg",)), Verify(summary="check"))
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


def test_model_files_that_fail_are_named_with_the_fetch_command(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fix --models: the real check after the changes (and before them) holds the folder to the manifest; what
    fails there is left for you, each file named, with the exact `envdoctor models fetch` command last."""
    unet, vae = b"unet stand-in" * 100, b"vae stand-in" * 100
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        '[purposes.inference]\nv15 = ["v15-inference"]\nv1 = ["v1-inference"]\n'
        + "".join(
            f'[[file]]\npath = "{path}"\nsize = {len(data)}\nsha256 = "{hashlib.sha256(data).hexdigest()}"\n'
            f'needed_for = ["v15-inference"]\nwhy = "stand-in"\n'
            for path, data in (("musetalkV15/unet.pth", unet), ("sd-vae/diffusion_pytorch_model.bin", vae))
        )
    )
    monkeypatch.setenv("ENVDOCTOR_MODELS_MANIFEST", str(manifest))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    models = tmp_path / "models"
    (models / "sd-vae").mkdir(parents=True)
    (models / "sd-vae/diffusion_pytorch_model.bin").write_bytes(bytes(len(vae)))  # the right size, other bytes
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    env = make_env(tmp_path, pure_wheel(wheels, "tinyext", "1.0"), [])
    target = target_mod.resolve(venv=str(env))

    failing_before = baseline(target, models=models)
    assert "models.files" in failing_before
    verification = check_verifier(target, None, models=models)  # type: ignore[arg-type]
    left = judge(verification, failing_before).left_for_you
    assert any(x.startswith("models.files: models/musetalkV15/unet.pth: missing") for x in left), left
    assert any(
        x.startswith("models.files: models/sd-vae/diffusion_pytorch_model.bin: ") and "other bytes" in x for x in left
    ), left
    assert left[-1] == (
        f"to place the model files, each verified by sha256: envdoctor models fetch --models {models} --repair"
    )
    # Without the folder, no model file is judged and no command is made up.
    assert check_verifier(target, None).fetch_command is None  # type: ignore[arg-type]
    # The folder is checked before anything changes.
    run = cli("fix", "--venv", str(env), "--yes", "--models", str(tmp_path / "nowhere"))
    assert run.code == 2 and "is not a folder" in run.err, run.err


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


@pytest.mark.envs
def test_fix_models_on_the_cli_names_each_failing_file_and_the_fetch_command(cli, tmp_path: Path) -> None:
    """`fix --venv ENV --yes --models DIR` on a working MuseTalk environment: what fix manages passes and is
    kept (exit 1), and the weights that are missing or wrong are each named, with the command that places them."""
    from envkit import MUSETALK_OPENMMLAB, build_env

    env = tmp_path / "env"
    # A copy made of hard links: uv replaces files, it never writes into one, so the kept env stays as it is.
    subprocess.run(["cp", "-al", str(build_env("musetalk-lite-stub", MUSETALK_OPENMMLAB, torch="vision")), str(env)])
    models = tmp_path / "models"
    (models / "sd-vae").mkdir(parents=True)
    (models / "sd-vae" / "config.json").write_text("{}")
    run = cli("fix", "--venv", str(env), "--yes", "--models", str(models), "--json")
    assert run.code == 1, run.out[-3000:] + run.err[-3000:]
    doc = run.json()
    left = doc["result"]["left_for_you"]
    assert "models.files: models/sd-vae/config.json: 2 bytes, expected 547 (truncated)" in " ".join(left), left
    assert any(x.startswith("models.files: models/musetalkV15/unet.pth: missing") for x in left), left
    assert left[-1].endswith(f"envdoctor models fetch --models {models} --repair"), left[-1]
    assert doc["result"]["rolled_back"] is False
