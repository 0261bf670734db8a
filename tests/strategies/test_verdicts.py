"""Each strategy's verdict for the targets users have, from facts as the probes report them.

The facts here are written out (no environment needs torch 2.1+cu121 on this machine to be judged);
the strategies, the wheel matrix and the windows under test are the real ones from envdoctor/data/.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from envdoctor.facts import Distribution, Facts, Gpu, GpuDevice, HostPlatform, Nvcc, Python, Torch
from envdoctor.plan import rank
from envdoctor.steps import BuildMmcv, Install, InstallLock, InstallTorchvision, Uninstall
from envdoctor.strategies import CHOSEN, POSSIBLE, REJECTED, Context, Options, StrategyVerdict, by_name


def facts(
    torch: str | None = "2.13.0+cpu",
    py: str = "3.11.7",
    system: str = "Linux",
    machine: str = "x86_64",
    cuda: str | None = None,
    gpus: tuple[tuple[str, str], ...] = (),
    nvcc: str | None = None,
    installed: tuple[tuple[str, str], ...] = (),
    externally_managed: bool = False,
) -> Facts:
    dists = {}
    for name, version in ((("torch", torch),) if torch else ()) + installed:
        d = Distribution(name=name, version=version)
        dists[d.key] = d
    major, minor = py.split(".")[:2]
    return Facts(
        python=Python(version=py, cp_tag=f"cp{major}{minor}", externally_managed=externally_managed),
        platform=HostPlatform(system=system, machine=machine),
        distributions=dists,
        gpu=Gpu(gpus=tuple(GpuDevice(n, c, "nvidia-smi") for n, c in gpus)),
        nvcc=Nvcc(version=nvcc),
        torch=Torch(version=torch, cuda=cuda) if torch else None,
    )


class Judged(dict[str, StrategyVerdict]):
    """Each strategy's verdict by name, and the name of the chosen one."""

    def __init__(self, judged: list[StrategyVerdict], chosen: str | None) -> None:
        super().__init__((v.strategy, v) for v in judged)
        self.chosen = chosen


def verdicts(f: Facts, **opts: Any) -> Judged:
    judged, chosen = rank(Context.from_facts(f, Options(**opts)))
    return Judged(list(judged), chosen)


def test_torch_2_13_cpu_has_no_wheel_and_says_which_is_newest() -> None:
    v = verdicts(facts())
    pre = v["prebuilt"]
    assert pre.status == REJECTED
    text = " ".join(pre.reasons)
    assert "no mmcv wheel for torch 2.13" in text and "newest is for torch 2.4" in text
    assert "mmcv 2.1.0 wheels stop at torch 2.1" in text, "the window, not just the matrix, decides"
    assert "--build" in text and "--find-links" in text, "the reason says what would make it work"
    assert v.chosen == "lite-stub" and v["lite-stub"].status == CHOSEN


def test_torch_2_1_cu121_gets_the_official_wheel_index() -> None:
    v = verdicts(facts("2.1.2+cu121", cuda="12.1"))
    assert v.chosen == "prebuilt"
    assert "cu121/torch2.1.0/index.html" in " ".join(v["prebuilt"].reasons)
    assert any("ranks higher" in r for r in v["lite-stub"].reasons)
    steps = by_name("prebuilt").steps(Context.from_facts(facts("2.1.2+cu121", cuda="12.1")))
    install = next(s for s in steps if isinstance(s, Install))
    assert install.only_binary == ("mmcv",), "never a silent source build"
    assert "mmcv==2.1.0" in install.packages
    assert any("download.openmmlab.com/mmcv/dist/cu121/torch2.1.0" in u for u in install.find_links)


def test_torch_2_3_wheel_exists_but_is_outside_mmdets_window() -> None:
    pre = verdicts(facts("2.3.1+cu121", cuda="12.1"))["prebuilt"]
    assert pre.status == REJECTED
    assert "mmdet 3.3.0 accepts mmcv <2.2.0" in " ".join(pre.reasons)


def test_cuda_12_4_and_aarch64_and_windows() -> None:
    cu124 = verdicts(facts("2.1.2+cu124", cuda="12.4"))["prebuilt"]
    assert "with cu124" in " ".join(cu124.reasons) and "cpu, cu118, cu121" in " ".join(cu124.reasons)
    arm = verdicts(facts("2.1.2", machine="aarch64"))["prebuilt"]
    assert "x86_64 only" in " ".join(arm.reasons)
    win = verdicts(facts("2.1.2+cu118", system="Windows", machine="amd64", cuda="11.8"))
    assert win.chosen == "prebuilt"


def test_python_3_14_has_no_requirement_set() -> None:
    v = verdicts(facts(py="3.14.1"))
    assert v.chosen is None
    for name in ("prebuilt", "lite-stub", "mmpose-free"):
        assert v[name].status == REJECTED and "Python <3.14,>=3.10 (modern)" in v[name].reasons[0]


def test_build_plans_a_correct_source_build(tmp_path: Path) -> None:
    f = facts("2.13.0+cu121", cuda="12.1", gpus=(("RTX 3090", "8.6"), ("A100", "8.0")), nvcc="12.1")
    v = verdicts(f, build=True, wheelhouse=tmp_path)
    assert v.chosen == "prebuilt"
    steps = by_name("prebuilt").steps(Context.from_facts(f, Options(build=True, wheelhouse=tmp_path)))
    build = next(s for s in steps if isinstance(s, BuildMmcv))
    env = dict(build.env)
    jobs = os.environ.get("MAX_JOBS") or str(os.cpu_count() or 1)  # the compile keeps to the cores
    assert env == {"MMCV_WITH_OPS": "1", "FORCE_CUDA": "1", "TORCH_CUDA_ARCH_LIST": "8.0;8.6", "MAX_JOBS": jobs}
    assert build.build_constraints == ("setuptools<82",)
    # One flat wheelhouse: the wheel's label, not a folder, says which torch it needs.
    assert build.wheelhouse == str(tmp_path)
    assert build.requirement == "mmcv==2.1.0+pt2.13.0cu121"
    # The wheel it builds is what the install step then takes, as a wheel only.
    install = next(s for s in steps if isinstance(s, Install))
    assert install.find_links[0] == build.wheelhouse and install.only_binary == ("mmcv",)
    assert "mmcv==2.1.0+pt2.13.0cu121" in install.packages


def test_a_mismatched_nvcc_is_passed_over_for_pypis_toolkit_of_torchs_release() -> None:
    f = facts("2.14.1+cu130", cuda="13.0", gpus=(("H100", "9.0"),), nvcc="12.4")
    pre = verdicts(f, build=True)["prebuilt"]
    said = " ".join(pre.reasons)
    assert pre.status in (POSSIBLE, CHOSEN), said
    assert "CUDA 13.0's toolkit wheels from PyPI" in said and "about 104 MB" in said and "nvcc is 12.4" in said


def test_build_refuses_a_mismatched_nvcc_when_pypi_has_no_toolkit_of_torchs_release() -> None:
    f = facts("2.13.0+cu118", cuda="11.8", gpus=(("RTX 3090", "8.6"),), nvcc="13.0")
    pre = verdicts(f, build=True)["prebuilt"]
    assert pre.status == REJECTED and "nvcc is 13.0 but torch was built with CUDA 11.8" in " ".join(pre.reasons)


def test_build_for_volta_on_cuda_13_torch_is_refused_in_the_plan_naming_cu126() -> None:
    f = facts("2.14.1+cu130", cuda="13.0", gpus=(("H100", "9.0"),), nvcc="13.0")
    pre = verdicts(f, build=True, cuda_arch="7.0;9.0", cuda_arch_from="--cuda-arch")["prebuilt"]
    reasons = " ".join(pre.reasons)
    assert pre.status == REJECTED and "sm_70" in reasons and "cu126" in reasons
    fleet = verdicts(f, build=True, cuda_arch="9.0;12.0", cuda_arch_from="--cuda-arch")["prebuilt"]
    assert fleet.status != REJECTED, fleet.reasons


def test_the_visible_gpus_are_checked_like_a_named_list() -> None:
    f = facts("2.14.1+cu130", cuda="13.0", gpus=(("Tesla V100", "7.0"),), nvcc="13.0")
    pre = verdicts(f, build=True)["prebuilt"]
    assert pre.status == REJECTED and "sm_70" in " ".join(pre.reasons)


def test_both_mmcv_providers_are_removed_and_lite_reinstalled() -> None:
    f = facts(installed=(("torchvision", "0.28.0+cpu"), ("mmcv", "2.1.0"), ("mmcv-lite", "2.1.0"), ("numpy", "2.4.1")))
    steps = by_name("lite-stub").steps(Context.from_facts(f))
    assert isinstance(steps[0], Uninstall) and set(steps[0].packages) == {"mmcv", "mmcv-lite"}
    install = steps[1]
    assert isinstance(install, Install | InstallLock) and install.reinstall == ("mmcv-lite",)
    assert [s.kind for s in steps[2:]] == ["stub", "verify"]


@pytest.mark.parametrize("allow", [False, True])
def test_torch_is_held_unless_allowed(allow: bool) -> None:
    # Resolving now (no lockfile): held, torch and torchvision are kept out of the resolution; allowed, uv
    # may move them. (A committed lockfile is torch-free either way; fix refuses a held torch that moved.)
    ctx = Context.from_facts(facts("2.14.1"), Options(allow_torch_change=allow, resolve=True))
    (step,) = [s for s in by_name("lite-stub").steps(ctx) if isinstance(s, Install | InstallLock)]
    assert isinstance(step, Install)
    assert {"torch", "torchvision"} & set(step.excludes) == (set() if allow else {"torch", "torchvision"})


def test_torch_without_torchvision_gets_the_matching_release_first() -> None:
    steps = by_name("lite-stub").steps(Context.from_facts(facts("2.13.0+cpu")))
    tv = steps[0]
    assert isinstance(tv, InstallTorchvision) and tv.requirement == "torchvision==0.28.*"
    assert tv.torch_pin == "torch==2.13.0+cpu" and tv.index_url == "https://download.pytorch.org/whl/cpu"
    pypi = by_name("lite-stub").steps(Context.from_facts(facts("2.14.1")))[0]
    assert isinstance(pypi, InstallTorchvision)
    assert pypi.index_url == "https://pypi.org/simple" and pypi.requirement == "torchvision==0.29.*"
    held_off = by_name("lite-stub").steps(Context.from_facts(facts("2.13.0+cpu"), Options(allow_torch_change=True)))
    assert "torchvision" not in [s.kind for s in held_off], "with --allow-torch-change uv resolves torchvision"


def _cuda_wheel(house: Path, name: str, sass: list[int]) -> Path:
    """A labelled mmcv wheel for torch 2.14.1+cu130 whose build record says its _ext holds `sass`."""
    import json

    from envdoctor.wheelfile import BUILD_RECORD, wheel_text, write_wheel

    version = "2.1.0+pt2.14.1cu130"
    info = f"mmcv-{version}.dist-info"
    record = {"torch": "2.14.1+cu130", "cuda": "13.0", "sass": sass, "ptx": [], "kernel_objects": 59}
    files = [
        ("mmcv/__init__.py", b"__version__ = '2.1.0'\n"),
        (f"{info}/METADATA", f"Metadata-Version: 2.1\nName: mmcv\nVersion: {version}\n".encode()),
        (f"{info}/WHEEL", wheel_text(tag="cp311-cp311-linux_x86_64").encode()),
        (f"{info}/{BUILD_RECORD}", json.dumps(record).encode()),
    ]
    return write_wheel(house / name / f"mmcv-{version}-cp311-cp311-linux_x86_64.whl", info, files)


def test_a_kept_cuda_wheel_is_taken_only_for_gpus_its_ext_has_kernels_for(tmp_path: Path) -> None:
    h100 = facts("2.14.1+cu130", cuda="13.0", gpus=(("H100", "9.0"),), nvcc="13.0")
    _cuda_wheel(tmp_path, "ampere", [80])
    pre = verdicts(h100, find_links=(tmp_path / "ampere",), wheelhouse=tmp_path / "none")["prebuilt"]
    assert pre.status == REJECTED
    assert "its _ext holds kernels for sm_80, none for sm_90" in " ".join(pre.reasons), pre.reasons

    _cuda_wheel(tmp_path, "fleet", [90, 120])
    pre = verdicts(h100, find_links=(tmp_path / "fleet",), wheelhouse=tmp_path / "none")["prebuilt"]
    assert pre.status in (CHOSEN, POSSIBLE) and "fits this target" in pre.reasons[0], pre.reasons
    # A fleet named with --cuda-arch is asked of the wheel too, not the GPUs of this machine alone.
    pre = verdicts(
        h100,
        find_links=(tmp_path / "ampere",),
        wheelhouse=tmp_path / "none",
        cuda_arch="8.0",
        cuda_arch_from="--cuda-arch",
    )["prebuilt"]
    assert pre.status in (CHOSEN, POSSIBLE), pre.reasons
