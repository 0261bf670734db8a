"""CUDA architectures checked against torch's CUDA release before a build, and read back from a binary."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from envdoctor.cuda import archs, fatbin


def test_arch_lists_parse_in_every_form_torch_and_nvcc_write():
    assert [str(a) for a in archs.parse("9.0;12.0+PTX")] == ["9.0", "12.0+PTX"]
    assert [str(a) for a in archs.parse("sm_120, 8.6 8.6 9.0a")] == ["8.6", "9.0a", "12.0"]
    assert archs.parse("12.0")[0].sm == 120


@pytest.mark.parametrize("text", ["", "ampere", "9", "9.0+ptx+ptx", "1.2.3"])
def test_a_list_that_is_not_architectures_is_refused_in_one_sentence(text):
    with pytest.raises(archs.ArchRefused) as err:
        archs.parse(text)
    assert "architecture" in str(err.value) and "\n" not in str(err.value)


def test_cuda_13_refuses_volta_and_names_the_torch_build_that_serves_it():
    with pytest.raises(archs.ArchRefused) as err:
        archs.check_buildable(archs.parse("7.0;9.0"), "13.0")
    message = str(err.value)
    assert "sm_70" in message and "cu126" in message and "7.5" in message
    assert "sm_90" not in message  # only the refused one is named


def test_a_fleet_of_hopper_and_blackwell_builds_with_cuda_13_but_not_with_12_6():
    fleet = archs.parse("9.0;12.0")
    assert archs.check_buildable(fleet, "13.0") == fleet
    with pytest.raises(archs.ArchRefused) as err:
        archs.check_buildable(fleet, "12.6")
    assert "sm_120" in str(err.value) and "cu130" in str(err.value)


def test_a_release_without_a_table_is_left_to_nvcc():
    assert archs.check_buildable(archs.parse("3.0"), "10.2") == archs.parse("3.0")


NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="no nvcc on PATH to compile device code with")


def _compile(tmp_path: Path, name: str, *gencode: str) -> Path:
    src = tmp_path / "k.cu"
    src.write_text(
        "__global__ void add(float* a, float b) { a[threadIdx.x] += b; }\n"
        "void launch(float* a) { add<<<1, 32>>>(a, 1.0f); }\n"
    )
    out = tmp_path / name
    cmd = [str(NVCC), "-shared", "-Xcompiler", "-fPIC", *gencode, str(src), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return out


@needs_nvcc
def test_the_architectures_are_read_from_the_binary_not_from_the_build_command(tmp_path):
    both = _compile(
        tmp_path,
        "both.so",
        "-gencode",
        "arch=compute_90,code=sm_90",
        "-gencode",
        "arch=compute_120,code=[sm_120,compute_120]",
    )
    code = fatbin.read(both)
    assert code.sass == {90, 120} and code.ptx == {120}
    assert code.runs_on(90) and code.runs_on(120) and code.runs_on(121)  # PTX 120 and the cubin's family
    assert not code.runs_on(86) and not code.runs_on(80)

    one = _compile(tmp_path, "one.so", "-gencode", "arch=compute_90,code=sm_90")
    only = fatbin.read(one)
    assert only.sass == {90} and only.ptx == frozenset()
    assert not only.runs_on(120)


@needs_nvcc
def test_a_cut_short_binary_is_said_to_be_unreadable(tmp_path):
    good = _compile(tmp_path, "good.so", "-gencode", "arch=compute_90,code=sm_90").read_bytes()
    cut = tmp_path / "cut.so"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(fatbin.NotReadable):
        fatbin.read(cut)


def test_a_shared_object_without_device_code_holds_none(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a plain shared object with")
    src = tmp_path / "plain.c"
    src.write_text("int plain(void) { return 1; }\n")
    out = tmp_path / "plain.so"
    subprocess.run([cc, "-shared", "-fPIC", str(src), "-o", str(out)], check=True, capture_output=True)
    code = fatbin.read(out)
    assert code.sass == frozenset() and code.ptx == frozenset() and not code.runs_on(90)


def test_a_file_that_is_not_elf_is_refused(tmp_path):
    bogus = tmp_path / "x.so"
    bogus.write_bytes(b"MZ\x90\x00 not an ELF file")
    with pytest.raises(fatbin.NotReadable) as err:
        fatbin.read(bogus)
    assert "ELF" in str(err.value)


def _mmcv_ctx(package_dir: Path, ext_name: str, *capabilities: str):
    from envdoctor.checks.base import CheckContext
    from envdoctor.facts import Facts, Gpu, GpuDevice, Mmcv, MmcvExt
    from envdoctor.manifest import builtin
    from envdoctor.target import current

    gpus = tuple(GpuDevice(f"GPU sm {c}", c, "test") for c in capabilities)
    mmcv = Mmcv(package_dir=str(package_dir), version="2.1.0", ext=MmcvExt(state="compiled", files=(ext_name,)))
    facts = Facts(gpu=Gpu(driver_version="580.1", driver_source="test", gpus=gpus), mmcv=mmcv)
    return CheckContext(target=current(), facts=facts, manifest=builtin())


@needs_nvcc
def test_check_says_which_gpu_the_installed_mmcv_has_no_kernels_for(tmp_path):
    from envdoctor.checks import Status
    from envdoctor.checks.gpu import mmcv_arch

    _compile(tmp_path, "_ext.cpython-311-x86_64-linux-gnu.so", "-gencode", "arch=compute_90,code=sm_90")
    results = list(mmcv_arch(_mmcv_ctx(tmp_path, "_ext.cpython-311-x86_64-linux-gnu.so", "9.0", "12.0")))
    assert [r.status for r in results] == [Status.OK, Status.FAIL]
    assert "sm_120" in results[1].found and "sm_90" in results[1].found
    assert "--cuda-arch 12.0" in results[1].fix


def test_check_warns_when_the_installed_mmcv_ops_are_cpu_only(tmp_path):
    from envdoctor.checks import Status
    from envdoctor.checks.gpu import mmcv_arch

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a plain shared object with")
    src = tmp_path / "plain.c"
    src.write_text("int plain(void) { return 1; }\n")
    subprocess.run([cc, "-shared", "-fPIC", str(src), "-o", str(tmp_path / "_ext.so")], check=True)
    (r,) = list(mmcv_arch(_mmcv_ctx(tmp_path, "_ext.so", "8.6")))
    assert r.status is Status.WARN and "CPU ops only" in r.found
