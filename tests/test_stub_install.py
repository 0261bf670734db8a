"""install() / remove() on real uv-built venvs: tracked by uv, refused when unfit, and leaving site-packages
exactly as it was after removal (bytecode caches included)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from envkit import build_env, python_of, run_inside

from envdoctor.cli import main
from envdoctor.stub import StubRefused, install, remove, status, why_not_install
from envdoctor.target import resolve
from envdoctor.uv import find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

# Each test that changes an environment has one of its own (uv's cache makes them cheap).
LITE = ["mmcv-lite==2.1.0", "numpy<2"]


def _site(env: Path) -> Path:
    return next(env.glob("lib/python*/site-packages"))


def _snapshot(env: Path) -> dict[str, str]:
    site = _site(env)
    out: dict[str, str] = {}
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site).as_posix()
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_dir():
            out[rel + "/"] = "dir"
        else:
            st = path.stat()
            out[rel] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {st.st_mode:o} {st.st_mtime_ns}"
    return out


def _run(env: Path, code: str, *, bytecode: bool) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ)
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if not bytecode:
        environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([str(python_of(env)), "-c", code], capture_output=True, text=True, env=environ, timeout=300)


@pytest.mark.network
def test_install_then_remove_leaves_site_packages_exactly_as_before() -> None:
    env = build_env("stub-roundtrip", LITE, torch="cpu")
    target = resolve(venv=str(env))
    if status(target).stub_dist_version:  # a run that stopped half-way
        remove(target)
    # Bytecode caches of mmcv itself exist before: uv deletes mmcv/__pycache__ with the stub, remove() puts them back.
    # torch too, so that the bytecode written after install can only be the stub's own.
    assert _run(env, "import mmcv, torch", bytecode=True).returncode == 0
    assert (_site(env) / "mmcv" / "__pycache__").is_dir()
    before = _snapshot(env)

    result = install(target)
    assert result.action == "installed" and result.after.ext_state == "stub"
    listed = {row["name"]: row["version"] for row in find_uv().pip_list(python_of(env))}
    assert listed["mmcv-ext-stub"] == "2.1.0"
    # The stub works in this torch-only venv (no torchvision): mmcv.ops imports, nms is real, roi_align says why not.
    probe = _run(
        env,
        "import warnings; warnings.simplefilter('error', RuntimeWarning)\n"
        "import mmcv.ops, torch, mmcv._ext as e\n"
        "try:\n"
        "    e.nms(torch.zeros(1, 4), torch.ones(1), iou_threshold=.5, offset=0)\n"
        "except RuntimeWarning as w:\n"
        "    print('plain torch loop' in str(w))\n"
        "warnings.simplefilter('ignore', RuntimeWarning)\n"
        "b = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])\n"
        "print(mmcv.ops.nms(b, torch.tensor([.9, .8, .7]), .5)[1].tolist())\n"
        "try:\n"
        "    mmcv.ops.roi_align(torch.zeros(1, 1, 4, 4), torch.tensor([[0., 0., 0., 3., 3.]]), 2)\n"
        "except e.MmcvExtStubError as exc:\n"
        "    print('torchvision' in str(exc))\n",
        bytecode=False,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout.split() == ["True", "[0,", "2]", "True"]
    assert _run(env, "import mmcv._ext", bytecode=True).returncode == 0
    assert (_site(env) / "mmcv" / "__pycache__" / f"_ext.{_cache_tag(env)}.pyc").is_file()

    assert install(target).action == "unchanged"
    removed = remove(target)
    assert removed.removed_version == "2.1.0" and removed.after.ext_state == "missing"
    assert removed.restored_caches, "uv deleted mmcv/__pycache__ and remove() put the caches back"
    assert _snapshot(env) == before


def _cache_tag(env: Path) -> str:
    code = "import json, sys; print(json.dumps({'tag': sys.implementation.cache_tag}))"
    return run_inside(python_of(env), ["-c", code], what="its cache tag", timeout=60)["tag"]


@pytest.mark.network
def test_refuses_a_target_without_mmcv(capsys: pytest.CaptureFixture[str]) -> None:
    env = build_env("stub-nommcv", ["packaging"])
    assert "has no mmcv package" in (why_not_install(status(resolve(venv=str(env)))) or "")
    with pytest.raises(StubRefused, match="has no mmcv package"):
        install(resolve(venv=str(env)))
    assert main(["stub", "install", "--venv", str(env)]) == 2
    assert "has no mmcv package" in capsys.readouterr().err
    with pytest.raises(StubRefused, match="nothing to remove"):
        remove(resolve(venv=str(env)))


@pytest.mark.network
def test_refuses_when_compiled_ops_are_there() -> None:
    env = build_env("stub-compiled", LITE)
    target = resolve(venv=str(env))
    suffix = _run(env, "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))", bytecode=False).stdout.strip()
    fake = _site(env) / "mmcv" / f"_ext{suffix}"
    fake.write_bytes(b"\x7fELF stand-in for a compiled extension")
    try:
        before = _snapshot(env)
        with pytest.raises(StubRefused, match="already has its compiled ops"):
            install(target)
        assert _snapshot(env) == before
    finally:
        fake.unlink()


@pytest.mark.network
def test_a_handwritten_ext_is_refused_or_moved_aside_on_request(
    own_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = build_env("stub-handwritten", LITE)
    target = resolve(venv=str(env))
    if status(target).stub_dist_version:
        remove(target)
    hand = _site(env) / "mmcv" / "_ext.py"
    text = "def nms(*a, **k):\n    pass\n"
    hand.write_text(text)
    try:
        assert status(target).ext_state == "handwritten"
        assert main(["stub", "status", "--venv", str(env)]) == 1
        with pytest.raises(StubRefused, match=r"hand-written.*--replace-handwritten"):
            install(target)
        assert hand.read_text() == text
        with pytest.raises(StubRefused, match="not installed by the mmcv-ext-stub"):
            remove(target)
        result = install(target, replace_handwritten=True)
        assert result.action == "replaced" and result.after.ext_state == "stub"
        assert result.backup and Path(result.backup).read_text() == text
        assert Path(result.backup).is_relative_to(own_cache), "the backup goes to envdoctor's cache folder"
        remove(target)
        assert not hand.exists()
    finally:
        hand.unlink(missing_ok=True)


@pytest.mark.network
def test_cli_install_status_remove(capsys: pytest.CaptureFixture[str]) -> None:
    env = build_env("stub-cli", LITE)
    if status(resolve(venv=str(env))).stub_dist_version:
        remove(resolve(venv=str(env)))
    assert main(["stub", "install", "--venv", str(env)]) == 0
    assert "8 real" in capsys.readouterr().out
    assert main(["stub", "status", "--venv", str(env)]) == 0
    assert "8 ops real, 104 raise" in capsys.readouterr().out
    assert main(["stub", "remove", "--venv", str(env)]) == 0
    assert "removed mmcv-ext-stub 2.1.0" in capsys.readouterr().out
    assert status(resolve(venv=str(env))).ext_state == "missing"
