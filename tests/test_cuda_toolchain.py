"""The CUDA toolchain of a build: nvcc of torch's own CUDA release (the machine's, or PyPI's toolkit wheels
fetched into envdoctor's cache), CUDA_HOME where nvcc really lives, and torch's CUDA headers on CPATH.

The machine's-nvcc tests need an nvcc and PyPI's CUDA torch 2.14.1 (+cu130) in the local index
(ENVDOCTOR_TEST_TORCH_INDEX); the fetch test installs the CUDA 13.0 toolkit wheels from PyPI.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from envkit import build_env, python_of
from packaging.version import Version

from envdoctor import process
from envdoctor.build import BUILD_RECORD, BuildError, device_record, label_into
from envdoctor.cuda import toolchain
from envdoctor.uv import find_uv
from envdoctor.wheelfile import wheel_text, write_wheel

NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="no nvcc on PATH")


def _cuda_torch() -> Path:
    return python_of(build_env("cuda-build", ["numpy<2"], torch="vision"))


def _path_without_nvcc() -> str:
    """PATH without the folders that hold an nvcc: what a GPU machine without a CUDA toolkit has."""
    return os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not (Path(p) / "nvcc").exists()
    )


@needs_nvcc
def test_cuda_home_is_where_nvcc_lives_not_the_folder_above_a_wrapper_on_path() -> None:
    nvcc = Path(str(NVCC))
    home = toolchain.nvcc_home(nvcc)
    assert (home / "include" / "cuda_runtime.h").is_file(), home
    assert (home / "bin" / "nvcc").is_file()
    assert toolchain.nvcc_release(nvcc) == toolchain.nvcc_release(home / "bin" / "nvcc")


def test_a_release_with_no_nvcc_is_none_and_none_is_found_on_an_empty_path(tmp_path: Path) -> None:
    assert toolchain.nvcc_release(tmp_path / "nvcc") is None
    assert toolchain.machine_nvcc({"PATH": str(tmp_path)}) is None


FAKE_NVCC = "#!/bin/sh\necho 'Cuda compilation tools, release 12.8, V12.8.93'\n"
PROBE = Path(toolchain.__file__).resolve().parents[2] / "probes" / "envdoctor_facts.py"


@pytest.mark.skipif(os.name == "nt", reason="the stand-in nvcc is a shell script")
@pytest.mark.parametrize("where", ["CUDA_HOME", "PATH", "nowhere"])
def test_the_facts_probe_and_the_build_take_the_same_nvcc(tmp_path: Path, where: str) -> None:
    # The plan reads the probe's nvcc; the build runs toolchain.machine_nvcc: they must be one nvcc, or
    # the plan promises the machine's toolkit and the build fetches PyPI's (or the other way round).
    home = tmp_path / "toolkit"
    (home / "bin").mkdir(parents=True)
    nvcc = home / "bin" / "nvcc"
    nvcc.write_text(FAKE_NVCC)
    nvcc.chmod(0o755)
    env = {"PATH": _path_without_nvcc(), "CUDA_HOME": "", "CUDA_PATH": ""}
    if where == "CUDA_HOME":
        env["CUDA_HOME"] = str(home)
    elif where == "PATH":
        env["PATH"] = f"{home / 'bin'}{os.pathsep}{env['PATH']}"
    ran = process.run([sys.executable, PROBE, "nvcc"], timeout=60, env=env)
    probed = json.loads(ran.stdout)["nvcc"]
    built = toolchain.machine_nvcc(env)
    assert probed["path"] == (str(built) if built else None)
    assert probed["version"] == ("12.8" if where != "nowhere" else None)


def test_the_toolkit_wheels_are_pinned_to_torchs_release() -> None:
    wheels = toolchain.toolkit_wheels("13.0")
    assert wheels is not None
    assert "nvidia-cuda-nvcc==13.0.*" in wheels.requirements("13.0")
    assert {"nvidia-cuda-crt", "nvidia-nvvm", "nvidia-cuda-cccl", "nvidia-cuda-runtime"} <= set(wheels.packages)
    assert toolchain.toolkit_wheels("12.8") is not None
    assert toolchain.toolkit_wheels("10.2") is None


@pytest.mark.envs
@needs_nvcc
def test_the_machines_nvcc_of_torchs_release_is_used_with_torchs_cuda_headers() -> None:
    python = _cuda_torch()
    chain = toolchain.resolve(python, find_uv())
    assert isinstance(chain.source, toolchain.MachineToolkit)
    assert chain.cuda == "13.0"
    env = chain.env({"PATH": "/usr/bin"})
    assert env["CUDA_HOME"] == str(chain.home) and env["PATH"].startswith(str(chain.home / "bin"))
    # cusparse.h: in torch's own CUDA wheels, not in a toolkit assembled from the compiler wheels.
    assert any((Path(p) / "cusparse.h").is_file() for p in env["CPATH"].split(os.pathsep)), env["CPATH"]


@pytest.mark.slow  # about 105 MB from PyPI
@pytest.mark.envs
@pytest.mark.network
def test_without_nvcc_on_path_the_toolkit_of_torchs_release_is_fetched_from_pypi_into_the_cache(
    own_cache: Path,
) -> None:
    python = _cuda_torch()
    env = {"PATH": _path_without_nvcc()}
    assert toolchain.machine_nvcc(env) is None
    chain = toolchain.resolve(python, find_uv(), env)
    assert isinstance(chain.source, toolchain.FetchedToolkit) and chain.source.fetched_now
    assert chain.source.folder.is_relative_to(own_cache), "into envdoctor's cache, nowhere else"
    assert "no nvcc" in chain.passed_over, "the machine's toolkit being passed over is said"
    ran = process.run([chain.home / "bin" / "nvcc", "--version"], env=chain.env(env))
    assert ran.returncode == 0 and "release 13.0" in ran.stdout
    assert (chain.home / "lib" / "libcudart.so").exists(), "torch's builder links -lcudart"
    assert chain.source.size > 50_000_000
    print(f"toolkit wheels for CUDA 13.0: {chain.source.size / 1e6:.0f} MB on disk; {chain.describe()}")
    again = toolchain.resolve(python, find_uv(), env)
    assert isinstance(again.source, toolchain.FetchedToolkit) and not again.source.fetched_now


def _wheel_with_ext(tmp_path: Path, *gencode: str) -> Path:
    """An unlabelled mmcv wheel whose `_ext` holds two kernel objects compiled by the real nvcc."""
    objs = []
    for i in (1, 2):
        src = tmp_path / f"k{i}.cu"
        src.write_text(f"__global__ void k{i}(float* a) {{ a[threadIdx.x] += {i}.0f; }}\n")
        obj = tmp_path / f"k{i}.o"
        ran = process.run([str(NVCC), "-c", "-Xcompiler", "-fPIC", *gencode, str(src), "-o", str(obj)], timeout=600)
        assert ran.returncode == 0, ran.stderr
        objs.append(str(obj))
    so = tmp_path / "_ext.cpython-311-x86_64-linux-gnu.so"
    # Linked by the host compiler, as torch's extension builder links: `nvcc -shared` would add a device-link
    # fat binary of its own default architecture.
    ran = process.run(["c++", "-shared", *objs, "-o", str(so)], timeout=600)
    assert ran.returncode == 0, ran.stderr
    info = "mmcv-2.1.0.dist-info"
    files = [
        ("mmcv/__init__.py", b"__version__ = '2.1.0'\n"),
        (f"mmcv/{so.name}", so.read_bytes()),
        (f"{info}/METADATA", b"Metadata-Version: 2.1\nName: mmcv\nVersion: 2.1.0\n"),
        (f"{info}/WHEEL", wheel_text(tag="cp311-cp311-linux_x86_64").encode()),
    ]
    return write_wheel(tmp_path / "raw" / "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl", info, files)


MACHINE = toolchain.Toolchain("13.0", Path("/cuda"), (), toolchain.MachineToolkit(Path("/cuda/bin/nvcc")))


@needs_nvcc
def test_the_wheel_records_the_archs_read_from_each_kernel_object_of_its_ext(tmp_path: Path) -> None:
    raw = _wheel_with_ext(tmp_path, "-gencode=arch=compute_90,code=sm_90", "-gencode=arch=compute_120,code=sm_120")
    record = device_record(raw, tmp_path / "work", "9.0;12.0", "2.14.1+cu130", MACHINE)
    assert record["sass"] == [90, 120] and record["ptx"] == [] and record["kernel_objects"] == 2
    wheel = label_into(raw, Version("2.1.0+pt2.14.1cu130"), tmp_path / "house", record)
    assert wheel.name == "mmcv-2.1.0+pt2.14.1cu130-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel) as zf:
        said = json.loads(zf.read(f"mmcv-2.1.0+pt2.14.1cu130.dist-info/{BUILD_RECORD}"))
    assert said["sass"] == [90, 120] and said["cuda"] == "13.0" and said["torch"] == "2.14.1+cu130"


@needs_nvcc
def test_a_requested_arch_missing_from_the_binary_stops_the_build(tmp_path: Path) -> None:
    raw = _wheel_with_ext(tmp_path, "-gencode=arch=compute_90,code=sm_90")
    with pytest.raises(BuildError, match=r"2 of the 2 kernel objects .* no machine code for sm_120"):
        device_record(raw, tmp_path / "work", "9.0;12.0", "2.14.1+cu130", MACHINE)
