"""prebuilt's wheel sources in the plan: the opt-in community index, --wheel-index, --cuda-arch.

Facts are written out (as in test_verdicts); the sources, label convention and windows are the real
data files. Each test has its own empty wheelhouse, so a wheel on the developer's machine never counts.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envdoctor.steps import BuildMmcv, Install
from envdoctor.strategies import REJECTED, Context, Options, StrategyVerdict, by_name, matrix
from strategies.test_verdicts import facts, verdicts


def _text(v: StrategyVerdict) -> str:
    return " ".join(v.reasons)


def test_torch_2_13_lists_the_community_source_as_opt_in_with_the_exact_wheel(tmp_path: Path) -> None:
    pre = verdicts(facts("2.13.0+cpu"), wheelhouse=tmp_path)["prebuilt"]
    assert pre.status == REJECTED
    text = _text(pre)
    wheel = "mmcv 2.1.0+pt2.13.0cpu, cp311, linux_x86_64"
    assert f"opt-in, third-party: `--wheel-source miropsota` looks for {wheel}" in text
    assert "https://miropsota.github.io/torch_packages_builder/mmcv/" in text
    assert "mmdet 3.3.0 accepts mmcv <2.2.0" in text, "the window is said, not relaxed"
    assert "attestation" in text and "not OpenMMLab" in text, "who builds it and what vouches for it"
    assert "add --build to compile mmcv 2.1.0+pt2.13.0cpu, cp311, linux_x86_64 here instead (about" in text
    assert "minutes on this machine's" in text


def test_the_community_source_says_when_it_has_nothing_for_the_target(tmp_path: Path) -> None:
    arm = _text(verdicts(facts("2.13.0", machine="aarch64"), wheelhouse=tmp_path)["prebuilt"])
    assert "miropsota" in arm and "builds no cpu wheels for linux aarch64" in arm
    newer = _text(verdicts(facts("2.14.1+cpu"), wheelhouse=tmp_path)["prebuilt"])
    assert "it builds for torch <2.14,>=2.3, not 2.14.1" in newer
    mac_facts = facts("2.13.0", system="Darwin", machine="arm64", py="3.12.4")
    mac = _text(verdicts(mac_facts, wheelhouse=tmp_path)["prebuilt"])
    assert "looks for mmcv 2.1.0+pt2.13.0cpu, cp312, macosx_14_0_arm64" in mac


def test_an_unreachable_index_is_said_with_the_wheel_it_would_be_asked_for(tmp_path: Path) -> None:
    # Port 9 on loopback: nothing listens, the refusal is immediate.
    pre = verdicts(facts("2.13.0+cpu"), wheelhouse=tmp_path, wheel_indexes=("http://127.0.0.1:9/simple/",))["prebuilt"]
    assert pre.status == REJECTED
    assert "could not read http://127.0.0.1:9/simple/mmcv/" in _text(pre)
    assert "it would be asked for mmcv 2.1.0+pt2.13.0cpu for cp311 on linux x86_64" in _text(pre)


def test_a_local_labelled_wheel_is_taken_without_folder_conventions(tmp_path: Path) -> None:
    deep = tmp_path / "any" / "layout"
    deep.mkdir(parents=True)
    (deep / "mmcv-2.1.0+pt2.13.0cpu-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
    (deep / "mmcv-2.1.0+pt2.12.0cpu-cp311-cp311-linux_x86_64.whl").write_bytes(b"")
    f = facts("2.13.0+cpu")
    v = verdicts(f, wheelhouse=tmp_path)
    assert v.chosen == "prebuilt"
    text = _text(v["prebuilt"])
    assert "mmcv 2.1.0+pt2.13.0cpu (mmcv-2.1.0+pt2.13.0cpu-cp311-cp311-linux_x86_64.whl) fits this target" in text
    steps = by_name("prebuilt").steps(Context.from_facts(f, Options(wheelhouse=tmp_path)))
    assert not [s for s in steps if s.kind == "build-mmcv"], "a fitting wheel is never rebuilt"
    install = next(s for s in steps if isinstance(s, Install))
    assert "mmcv==2.1.0+pt2.13.0cpu" in install.packages and install.find_links == (str(deep),)
    assert install.only_binary == ("mmcv",)


CUDA = {"torch": "2.13.0+cu121", "cuda": "12.1", "nvcc": "12.1"}


def test_build_for_cuda_without_a_gpu_needs_an_arch_list(tmp_path: Path) -> None:
    pre = verdicts(facts(**CUDA), build=True, wheelhouse=tmp_path)["prebuilt"]  # type: ignore[arg-type]
    assert pre.status == REJECTED and "--cuda-arch '8.0;8.6' or TORCH_CUDA_ARCH_LIST" in _text(pre)


@pytest.mark.parametrize("source", ["--cuda-arch", "TORCH_CUDA_ARCH_LIST"])
def test_build_for_cuda_without_a_gpu_takes_the_given_arch_list_and_says_from_where(
    tmp_path: Path, source: str
) -> None:
    opts = Options(build=True, wheelhouse=tmp_path, cuda_arch="8.0;8.6;9.0+PTX", cuda_arch_from=source)
    f = facts(**CUDA)  # type: ignore[arg-type]
    v = verdicts(f, build=True, wheelhouse=tmp_path, cuda_arch=opts.cuda_arch, cuda_arch_from=source)
    assert v.chosen == "prebuilt"
    assert f"TORCH_CUDA_ARCH_LIST=8.0;8.6;9.0+PTX from {source}" in _text(v["prebuilt"])
    build = next(s for s in by_name("prebuilt").steps(Context.from_facts(f, opts)) if isinstance(s, BuildMmcv))
    assert dict(build.env)["TORCH_CUDA_ARCH_LIST"] == "8.0;8.6;9.0+PTX"
    assert build.requirement == "mmcv==2.1.0+pt2.13.0cu121"
    # The time said grows with the architectures compiled: from the measured builds (wheels.toml), per core.
    cores = os.cpu_count() or 1
    three = round(matrix.build_estimate(cores, cuda_archs=3) / 60)
    assert (
        f"about {three} minutes on this machine's {cores} cores with CUDA kernels for 3 architectures" in build.summary
    )
    assert matrix.build_estimate(2, cuda_archs=2) == 4547 and matrix.build_estimate(2) == 1655
    assert matrix.build_estimate(4, cuda_archs=1) < matrix.build_estimate(2, cuda_archs=1)


def test_the_given_arch_list_wins_over_the_visible_gpus(tmp_path: Path) -> None:
    f = facts(**CUDA, gpus=(("RTX 3090", "8.6"),))  # type: ignore[arg-type]
    opts = Options(build=True, wheelhouse=tmp_path, cuda_arch="9.0", cuda_arch_from="--cuda-arch")
    build = next(s for s in by_name("prebuilt").steps(Context.from_facts(f, opts)) if isinstance(s, BuildMmcv))
    assert dict(build.env)["TORCH_CUDA_ARCH_LIST"] == "9.0"
    gpus = next(
        s
        for s in by_name("prebuilt").steps(Context.from_facts(f, Options(build=True, wheelhouse=tmp_path)))
        if isinstance(s, BuildMmcv)
    )
    assert dict(gpus.env)["TORCH_CUDA_ARCH_LIST"] == "8.6" and "from the visible GPUs" in gpus.summary


def test_cuda_arch_on_the_command_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.commands._fixargs import _cuda_arch

    assert _cuda_arch("8.0 8.6", "7.5") == ("8.0;8.6", "--cuda-arch")
    assert _cuda_arch(None, "7.5;8.9+PTX") == ("7.5;8.9+PTX", "TORCH_CUDA_ARCH_LIST")
    assert _cuda_arch(None, None) == (None, None)
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "")
    bad = cli("plan", "--cuda-arch", "ampere")
    assert bad.code == 2 and "'ampere' is not a CUDA architecture" in bad.err
    url = cli("plan", "--wheel-index", "not-a-url")
    assert url.code == 2 and "is not a URL" in url.err
