"""The generated Dockerfile, built and run: `docker build --network none` on a local base image, then
`envdoctor check --json` inside the container with no network.

Needs root and a running dockerd with the base image envdoctor-base:bookworm-gl (Debian's python3 3.11
and the libraries opencv-python loads, made with debootstrap and `docker import`): `.ci/docker-base` sets
all three up. Two environments are locked: a small real one (PyYAML, a cp311 wheel, and six) for the gate
and the user, and MuseTalk's whole stack as `fix --create --strategy lite-stub` makes it, whose image
passes the full `check` and `smoke --deps` with no network. Both are built with Python 3.11 so their
wheels fit the image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bundlefill import fill
from deploykit import fixed_lite_stub

from envdoctor.uv import find_uv

REPO = Path(__file__).resolve().parent.parent
BASE = "envdoctor-base:bookworm-gl"
# The checks a three-package environment passes; the import and model checks need MuseTalk's stack.
GATE = ("system.python", "packages.readable", "packages.rules", "packages.consistent")

pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.envs]


def _docker(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "envdoctor", *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def docker() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (dockerd): run as root after .ci/docker-base")
    if shutil.which("docker") is None or _docker("info", timeout=60).returncode != 0:
        pytest.skip("no running dockerd: run .ci/docker-base as root (installs docker.io, starts dockerd)")
    if _docker("image", "inspect", BASE, timeout=60).returncode != 0:
        pytest.skip(f"no base image {BASE}: run .ci/docker-base as root (debootstrap + docker import)")


@pytest.fixture(scope="module")
def bundle(docker: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("container")
    src = tmp / "src"
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:", "--dest", str(src)]
    subprocess.run([*pip, "--python-version", "3.11", "pyyaml", "six"], check=True)
    venv = tmp / "venv"
    uv = find_uv()
    uv.venv(venv, python="3.11")
    uv.run(["pip", "install", "--python", str(venv / "bin" / "python"), "--no-index", "--find-links", str(src),
            "pyyaml", "six"])  # fmt: skip
    deploy = tmp / "deploy"
    # The full check needs MuseTalk's stack; this environment is locked as it is, and gated on GATE.
    run = _cli("lock", "--venv", str(venv), "--output", str(deploy), "--allow-failing", "--offline",
               "--find-links", str(src))  # fmt: skip
    assert run.returncode == 0, run.stderr
    fill(deploy, [src])
    return deploy


def _generate(deploy: Path, output: Path, *gate: str) -> dict:
    only = [a for g in gate for a in ("--check-only", g)]
    run = _cli("dockerfile", str(deploy), "--base", BASE, "--output", str(output), *only, "--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_image_builds_offline_and_passes_check_in_the_container(bundle: Path) -> None:
    doc = _generate(bundle, bundle / "Dockerfile", *GATE)
    assert doc["base"]["kind"] == "GivenBase"
    tag = f"envdoctor-test-app:{os.getpid()}"
    started = time.monotonic()
    built = _docker("build", "--network", "none", "-t", tag, str(bundle))
    seconds = time.monotonic() - started
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    try:
        print(f"docker build --network none: {seconds:.0f} s")
        # The build ran the gate and the lock comparison as the non-root user.
        assert "The environment matches the lock in /app/deploy." in built.stdout
        who = _docker("run", "--rm", "--network", "none", "-e", "ENVDOCTOR_VERIFY_MODELS=0", tag, "id", "-u")
        assert (who.returncode, who.stdout.strip()) == (0, "10001"), who
        only = [a for g in GATE for a in ("--only", g)]
        check = _docker("run", "--rm", "--network", "none", "-e", "ENVDOCTOR_VERIFY_MODELS=0", tag,
                        "envdoctor", "check", "--json", "--venv", "/app/venv", *only)  # fmt: skip
        assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]
        report = json.loads(check.stdout)
        assert report["schema"] == "envdoctor.check" and report["target"]["prefix"] == "/app/venv"
        assert (report["summary"]["passed"], report["summary"]["problems"]) == (len(GATE), 0), report["summary"]
        # The app's environment is PyYAML's compiled module, importable in the image's own Python 3.11.
        imp = _docker("run", "--rm", "--network", "none", "-e", "ENVDOCTOR_VERIFY_MODELS=0", tag,
                      "/app/venv/bin/python", "-c", "import yaml, six; print(yaml.__with_libyaml__)")  # fmt: skip
        assert imp.returncode == 0, imp.stderr
        # At start the weights' volume is verified: empty, the container does not run its command.
        bare = _docker("run", "--rm", "--network", "none", tag, "echo", "started")
        assert bare.returncode == 1 and "started" not in bare.stdout, bare
        assert "missing" in bare.stdout + bare.stderr and "models/" in bare.stdout + bare.stderr
    finally:
        _docker("rmi", "-f", tag)


def test_an_image_whose_environment_fails_check_does_not_build(bundle: Path) -> None:
    # No ffmpeg in the environment's bin or on the image's PATH: tools.ffmpeg fails, so the build stops.
    _generate(bundle, bundle / "Dockerfile.broken", "tools.ffmpeg")
    tag = f"envdoctor-test-broken:{os.getpid()}"
    built = _docker("build", "--network", "none", "-f", str(bundle / "Dockerfile.broken"), "-t", tag, str(bundle))
    _docker("rmi", "-f", tag)
    assert built.returncode != 0, built.stdout[-3000:]
    assert "RUN envdoctor check --venv /app/venv --only tools.ffmpeg" in built.stdout
    assert "ffmpeg" in (built.stdout + built.stderr)[-3000:]


@pytest.fixture(scope="module")
def stack(docker: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MuseTalk's stack made by fix (lite-stub), locked (check passes), and bundled with envdoctor itself."""
    tmp = tmp_path_factory.mktemp("stack")
    venv = fixed_lite_stub(tmp)
    deploy = tmp / "deploy"
    locked = _cli("lock", "--venv", str(venv), "--output", str(deploy), "--strategy", "lite-stub")
    assert locked.returncode == 0, locked.stdout + locked.stderr
    bundled = _cli("bundle", str(deploy))
    assert bundled.returncode == 0, bundled.stdout + bundled.stderr
    return deploy


def test_the_musetalk_stack_image_passes_check_and_smoke_deps_with_no_network(stack: Path) -> None:
    doc = _generate(stack, stack / "Dockerfile")  # the full check is the gate: no --check-only
    assert doc["base"]["kind"] == "GivenBase"
    tag = f"envdoctor-test-stack:{os.getpid()}"
    started = time.monotonic()
    built = _docker("build", "--network", "none", "-t", tag, str(stack), timeout=3600)
    seconds = time.monotonic() - started
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    try:
        size = int(_docker("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())
        assert "The environment matches the lock in /app/deploy." in built.stdout
        run = ["run", "--rm", "--network", "none", "-e", "ENVDOCTOR_VERIFY_MODELS=0", tag]
        check = _docker(*run, "envdoctor", "check", "--json", "--venv", "/app/venv")
        assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]
        report = json.loads(check.stdout)
        failed = [(r["id"], r["found"]) for r in report["results"] if r["status"] == "fail"]
        assert failed == [] and report["summary"]["exit_code"] == 0, failed
        imported = {r["title"] for r in report["results"] if r["category"] == "Imports" and r["status"] == "ok"}
        assert {"import torch", "import mmcv.ops", "import mmdet.models", "import mmpose.apis"} <= imported
        smoke = _docker(*run, "envdoctor", "smoke", "--deps", "--json", "--venv", "/app/venv", "--device", "cpu",
                        "--out", "/tmp/smoke", timeout=1800)  # fmt: skip
        assert smoke.returncode == 0, smoke.stdout[-4000:] + smoke.stderr[-2000:]
        deps = json.loads(smoke.stdout)
        assert deps["success"], deps["message"]
        ran = {p["name"]: p["status"] for p in deps["passes"]}
        assert ran == {"dwpose": "ok", "unet": "ok", "vae": "ok", "whisper": "ok", "ffmpeg": "ok"}, ran
        print(
            f"\nstack image: docker build --network none {seconds:.0f} s, {size / 1e9:.2f} GB; check in the "
            f"container: {report['summary']['text']}; smoke --deps: {deps['message']}"
        )
    finally:
        _docker("rmi", "-f", tag)
