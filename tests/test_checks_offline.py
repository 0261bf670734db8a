"""Checks whose inputs are files or facts a test can set: models on disk, GPUs against torch's arch list."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import pytest

from envdoctor import checkrun
from envdoctor.checks import Status
from envdoctor.checks.base import CheckContext
from envdoctor.checks.gpu import arch, torch_cuda
from envdoctor.facts import Facts, Gpu, GpuDevice, Torch
from envdoctor.manifest import builtin
from envdoctor.models import manifest as models_manifest
from envdoctor.models.hashing import HashCache, Stamp
from envdoctor.target import current


def _models_tree(root: Path) -> Path:
    """Every v1.5 inference file of the manifest at its exact size (sparse files: no disk cost), with the
    manifest's hashes remembered for them, as a check of the official files leaves the hash cache: what is
    judged here is the tree's shape, not 4.4 GB of hashing."""
    cache = HashCache()
    for spec in models_manifest.builtin().for_purpose("inference", "v15"):
        if spec.root != "models":
            continue
        path = root / spec.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.truncate(spec.bytes_needed or 10)
        if spec.sha256:
            cache.remember(path, Stamp.of(os.stat(path)), spec.sha256)
    cache.save()
    return root


def _run_models(models: Path, torch_home: Path):
    return checkrun.run(current(), models=models, torch_home=torch_home, only=["models"])


def test_complete_models_tree_passes_and_a_missing_file_fails(tmp_path):
    models = _models_tree(tmp_path / "models")
    unet = models / "musetalkV15/unet.pth"
    unet.unlink()
    report = _run_models(models, tmp_path / "torch")
    by_title = {r.title: r for r in report.results}
    assert by_title["models/musetalkV15/unet.pth"].status is Status.FAIL
    assert by_title["models/musetalkV15/unet.pth"].found == "missing"
    assert by_title["models/sd-vae/diffusion_pytorch_model.bin"].status is Status.OK
    assert by_title["models/dwpose/dw-ll_ucoco_384.pth"].status is Status.OK
    # training-only files are not required for inference
    assert by_title["models/syncnet/latentsync_syncnet.pt"].status is Status.SKIP


def test_truncated_checkpoint_is_named(tmp_path):
    models = _models_tree(tmp_path / "models")
    dw = models / "dwpose/dw-ll_ucoco_384.pth"
    with open(dw, "r+b") as fh:
        fh.truncate(1_000_000)
    report = _run_models(models, tmp_path / "torch")
    r = {r.title: r for r in report.results}["models/dwpose/dw-ll_ucoco_384.pth"]
    assert r.status is Status.FAIL and "truncated" in r.found and "406,878,486" in r.found


def test_torch_zip_without_its_directory_is_truncated(tmp_path):
    path = tmp_path / "torch" / "hub/checkpoints/s3fd-619a316812.pth"
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\0" * 90_000_000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])  # cut off the central directory, as an interrupted download does
    report = checkrun.run(current(), torch_home=tmp_path / "torch", only=["models.s3fd"])
    r = report.results[0]
    assert r.status is Status.FAIL and "zip directory is missing" in r.found and r.breaker == 19


def test_missing_s3fd_warns_with_the_path(tmp_path):
    report = checkrun.run(current(), torch_home=tmp_path, only=["models.s3fd"])
    r = report.results[0]
    assert r.status is Status.WARN and str(tmp_path) in r.found and r.breaker == 19


def _ctx(gpus: tuple[GpuDevice, ...], torch: Torch | None) -> CheckContext:
    facts = Facts(gpu=Gpu(driver_version="550.54", driver_source="test", gpus=gpus), torch=torch)
    return CheckContext(target=current(), facts=facts, manifest=builtin())


RTX5090 = (GpuDevice("NVIDIA GeForce RTX 5090", "12.0", "test"),)
CU118_ARCHS = ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")


def test_gpu_newer_than_torch_arch_list_fails_with_breaker_20():
    ctx = _ctx(RTX5090, Torch(version="2.0.1+cu118", cuda="11.8", cuda_available=True, arch_list=CU118_ARCHS))
    (r,) = list(arch(ctx))
    assert r.status is Status.FAIL and r.breaker == 20 and "sm_120" in r.found


@pytest.mark.parametrize(
    "archs",
    [("sm_80", "sm_86", "sm_90", "sm_120"), ("sm_80", "compute_90")],
    ids=["sass", "ptx-jit"],
)
def test_gpu_in_arch_list_or_reachable_by_ptx_passes(archs):
    ctx = _ctx(RTX5090, Torch(version="2.7.0+cu128", cuda="12.8", cuda_available=True, arch_list=archs))
    assert [r.status for r in arch(ctx)] == [Status.OK]


def test_gpu_beside_cpu_torch_is_not_used():
    ctx = _ctx(RTX5090, Torch(version="2.13.0+cpu", cuda=None, cuda_available=False))
    (r,) = list(torch_cuda(ctx))
    assert r.status is Status.FAIL and r.breaker == 20 and "CPU build" in r.found


def test_gpu_override_reaches_the_facts_probe(monkeypatch):
    monkeypatch.setenv("ENVDOCTOR_GPUS", "NVIDIA GeForce RTX 5090=12.0")
    monkeypatch.setenv("ENVDOCTOR_CUDA_DRIVER_VERSION", "570.86")
    report = checkrun.run(current(), only=["gpu.driver"])
    assert report.facts.gpu.driver_version == "570.86"
    assert report.facts.gpu.gpus[0].compute_capability == "12.0"
    assert "RTX 5090 (sm 12.0)" in report.results[0].found


def test_python_version_finding_comes_from_the_target():
    report = checkrun.run(current(), only=["system.python"])
    assert report.results[0].found.startswith(f"Python {sys.version_info.major}.{sys.version_info.minor}")
