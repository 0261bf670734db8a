"""`envdoctor dockerfile`: the Dockerfile made for a bundle, without docker.

The bundles are real: wheels written to disk, the lock written by envdoctor's own writer, SHA256SUMS in
sha256sum's format, envdoctor's requirements resolved by uv from the bundle's wheels (no index)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bundlefill import copy_locked, write_sums

from envdoctor.deploy import envlock
from envdoctor.deploy.hashes import WheelSource, sha256_file
from envdoctor.deploy.inventory import Installed
from envdoctor.wheelfile import wheel_text, write_wheel


def _wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    di = f"{name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    return write_wheel(
        folder / f"{name}-{version}-py3-none-any.whl",
        di,
        [(f"{name}/__init__.py", b""), (f"{di}/METADATA", meta.encode()), (f"{di}/WHEEL", wheel_text().encode())],
    )


def _bundle(
    tmp_path: Path, dists: list[tuple[str, str]], accelerator: str, python: str = "3.11.7", tool: str = "wheels"
) -> Path:
    """A bundle locking `dists` (name, version), with an envdoctor wheel and its one dependency in `tool`/."""
    src = tmp_path / "src"
    packages = []
    for name, version in dists:
        w = _wheel(src, name, version)
        dist = Installed(name, version, ("py3-none-any",), "uv", None, "0" * 64)
        packages.append(envlock.Locked(dist, WheelSource(w.name, w.as_uri(), sha256_file(w), str(src))))
    deploy = tmp_path / "deploy"
    lock = envlock.EnvLock(tuple(packages), python=python, platform="linux-x86_64", accelerator=accelerator)
    envlock.write(lock, deploy)
    copy_locked(deploy, [src])
    _wheel(deploy / tool, "envdoctor", "0.1.0", requires=("edtooldep>=1",))
    _wheel(deploy / tool, "edtooldep", "1.2")
    write_sums(deploy)
    return deploy


def test_cpu_lock_gets_the_slim_python_image_and_a_hashed_offline_non_root_gated_image(cli, tmp_path: Path) -> None:
    deploy = _bundle(tmp_path, [("deploydemo", "1.0"), ("torch", "2.13.0+cpu")], "cpu")
    run = cli("dockerfile", str(deploy), "--json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["schema"] == "envdoctor.dockerfile"
    assert (doc["base"]["kind"], doc["base"]["image"]) == ("CpuBase", "python:3.11-slim")
    text = (deploy / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    # Both environments install with no index, from the bundle's wheels, every hash checked.
    installs = [line for line in text.splitlines() if "install" in line and line.startswith("RUN")]
    assert len(installs) == 2, installs
    for line in installs:
        assert "--no-index --find-links /app/deploy/wheels --require-hashes" in line, line
    assert "-r /app/deploy/requirements.txt" in installs[1] and "--python /app/venv/bin/python" in installs[1]
    assert "/app/envdoctor/bin/pip install" in installs[0]  # envdoctor in its own environment
    assert "sha256sum --check --strict --quiet SHA256SUMS" in text
    # The non-root user comes before the gate, and stays to the end.
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users == ["app"], users
    user_at = text.index("\nUSER app")
    assert text.index("\nRUN envdoctor check --venv /app/venv") > user_at
    assert text.index("\nRUN envdoctor lock --check /app/deploy --venv /app/venv") > user_at
    assert re.search(r"^HEALTHCHECK .* CMD envdoctor check --venv /app/venv", text, re.M)
    assert 'VOLUME ["/app/models"]' in text and "envdoctor models verify --models /app/models" in text
    assert "# syntax" not in text  # a frontend image would be pulled: no build offline
    # envdoctor and its dependency, pinned with the hashes of the bundle's own files.
    tool = (deploy / "envdoctor-requirements.txt").read_text()
    for name, version in (("envdoctor", "0.1.0"), ("edtooldep", "1.2")):
        sha = sha256_file(deploy / "wheels" / f"{name}-{version}-py3-none-any.whl")
        assert re.search(rf"^{name}=={version} \\\n\s+--hash=sha256:{sha}$", tool, re.M), tool


def test_cuda_lock_gets_the_runtime_image_of_torch_cuda_release_and_says_it_has_no_python(cli, tmp_path: Path) -> None:
    deploy = _bundle(tmp_path, [("torch", "2.14.1+cu130")], "cu130")
    run = cli("dockerfile", str(deploy))
    assert run.code == 0, run.err
    assert "nvidia/cuda:13.0.1-runtime-ubuntu24.04 (CUDA 13.0 runtime, from torch's build label +cu130" in run.out
    assert "ships no Python" in run.out
    assert re.search(r"^FROM nvidia/cuda:13\.0\.1-runtime-ubuntu24\.04$", (deploy / "Dockerfile").read_text(), re.M)


def test_default_torch_build_takes_the_cuda_release_of_its_runtime_wheel(cli, tmp_path: Path) -> None:
    deploy = _bundle(tmp_path, [("torch", "2.9.0"), ("nvidia-cuda-runtime-cu12", "12.8.90")], "default")
    run = cli("dockerfile", str(deploy), "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["base"]["image"] == "nvidia/cuda:12.8.1-runtime-ubuntu24.04"


def test_given_base_and_output_and_check_only(cli, tmp_path: Path) -> None:
    deploy = _bundle(tmp_path, [("deploydemo", "1.0")], "none (no torch)")
    out = tmp_path / "Containerfile"
    run = cli("dockerfile", str(deploy), "--base", "local/py:3.11", "--output", str(out),
              "--check-only", "packages.rules")  # fmt: skip
    assert run.code == 0, run.err
    assert "given with --base" in run.out
    text = out.read_text()
    assert re.search(r"^FROM local/py:3\.11$", text, re.M) and not (deploy / "Dockerfile").exists()
    assert "\nRUN envdoctor check --venv /app/venv --only packages.rules\n" in text
    assert f"-f {out} " in text


def test_unknown_cuda_release_is_refused_naming_it(cli, tmp_path: Path) -> None:
    deploy = _bundle(tmp_path, [("torch", "2.1.0+cu121")], "cu121")
    run = cli("dockerfile", str(deploy))
    assert run.code == 1 and "CUDA 12.1" in run.err and "--base" in run.err, run
    assert not (deploy / "Dockerfile").exists()


@pytest.mark.parametrize("breaks", ["wheel", "sums", "tool", "tool-dep"])
def test_incomplete_bundle_is_refused_before_anything_is_written(cli, tmp_path: Path, breaks: str) -> None:
    deploy = _bundle(tmp_path, [("deploydemo", "1.0")], "cpu")
    gone = {
        "wheel": deploy / "wheels" / "deploydemo-1.0-py3-none-any.whl",
        "sums": deploy / "SHA256SUMS",
        "tool": deploy / "wheels" / "envdoctor-0.1.0-py3-none-any.whl",
        "tool-dep": deploy / "wheels" / "edtooldep-1.2-py3-none-any.whl",
    }[breaks]
    gone.unlink()
    run = cli("dockerfile", str(deploy), "--json")
    assert run.code == 2, run
    doc = json.loads(run.out)
    assert doc["code"] == "dockerfile-bundle", doc
    named = {"wheel": "deploydemo-1.0", "sums": "SHA256SUMS", "tool": "envdoctor wheel", "tool-dep": "edtooldep"}
    assert named[breaks] in doc["message"], doc["message"]
    assert not (deploy / "Dockerfile").exists()


def test_a_lock_with_imageio_ffmpeg_links_its_binary_into_the_apps_bin(cli, tmp_path: Path) -> None:
    plain = _bundle(tmp_path / "plain", [("deploydemo", "1.0")], "cpu")
    assert cli("dockerfile", str(plain)).code == 0
    assert "/app/venv/bin/ffmpeg" not in (plain / "Dockerfile").read_text()
    deploy = _bundle(tmp_path / "ff", [("deploydemo", "1.0"), ("imageio-ffmpeg", "0.6.0")], "cpu")
    run = cli("dockerfile", str(deploy))
    assert run.code == 0, run.err
    text = (deploy / "Dockerfile").read_text()
    link = next(line for line in text.splitlines() if line.endswith(" /app/venv/bin/ffmpeg"))
    assert link.startswith('RUN ln -s "$(/app/venv/bin/python -c ') and "imageio_ffmpeg.get_ffmpeg_exe()" in link
    # Made after the app's install, before the gate whose tools.ffmpeg looks in the app's bin.
    assert text.index("-r /app/deploy/requirements.txt") < text.index(link) < text.index("\nRUN envdoctor check")
    # The app's environment is the active one, so that its ffmpeg is the one run by name (MuseTalk's, and
    # envdoctor's own media steps: smoke converts its speech with it), and envdoctor comes after it.
    assert "\nENV VIRTUAL_ENV=/app/venv PATH=/app/venv/bin:/app/envdoctor/bin:$PATH\n" in text


def test_envdoctor_is_taken_from_the_tool_folder_bundle_makes(cli, tmp_path: Path) -> None:
    deploy = _bundle(tmp_path, [("deploydemo", "1.0")], "cpu", tool="tool")  # `envdoctor bundle`'s layout
    run = cli("dockerfile", str(deploy), "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["envdoctor_wheel"] == "envdoctor-0.1.0-py3-none-any.whl"
    text = (deploy / "Dockerfile").read_text()
    tool_install = next(line for line in text.splitlines() if "/app/envdoctor/bin/pip install" in line)
    assert "--find-links /app/deploy/tool --no-index --find-links /app/deploy/wheels --require-hashes" in tool_install
    pins = (deploy / "envdoctor-requirements.txt").read_text()
    sha = sha256_file(deploy / "tool" / "edtooldep-1.2-py3-none-any.whl")
    assert re.search(rf"^edtooldep==1\.2 \\\n\s+--hash=sha256:{sha}$", pins, re.M), pins


def test_a_lock_with_opencv_python_needs_its_system_libraries_in_the_base(cli, tmp_path: Path) -> None:
    plain = _bundle(tmp_path / "plain", [("opencv-python-headless", "4.11.0.86")], "cpu")
    assert cli("dockerfile", str(plain)).code == 0
    assert "ldconfig" not in (plain / "Dockerfile").read_text()
    deploy = _bundle(tmp_path / "gl", [("opencv-python", "4.11.0.86")], "cpu")
    run = cli("dockerfile", str(deploy), "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["notes"] == [
        "opencv-python loads libGL.so.1, libgthread-2.0.so.0 from the system: the build stops at once unless "
        "the base has them (Debian/Ubuntu: libgl1 libglib2.0-0)"
    ]
    text = (deploy / "Dockerfile").read_text()
    step = next(line for line in text.splitlines() if "ldconfig" in line)
    assert step.startswith("RUN for lib in libGL.so.1 libgthread-2.0.so.0; do ldconfig -p | grep -q")
    assert "use a base with libgl1 libglib2.0-0" in step
    # Before any install: a base without them stops the build before minutes of unpacking.
    assert text.index(step) < text.index("/app/envdoctor/bin/pip install")
