"""Where `envdoctor models fetch` puts S3FD is where MuseTalk's preprocessing looks for it, offline, and the
fetch leaves the environment it serves as it was."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from envkit import build_env, python_of
from hubserve import Hub, serve

from envdoctor.models.manifest import TORCH_HOME, UrlSource, builtin

pytestmark = pytest.mark.envs

REV = "0123456789abcdef0123456789abcdef01234567"


def _tree(prefix: Path) -> dict[str, int]:
    return {str(p.relative_to(prefix)): p.stat().st_mtime_ns for p in prefix.rglob("*") if p.is_file()}


def test_preprocessing_finds_s3fd_where_envdoctor_put_it(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = build_env("smoke-torch-only", ["numpy<2"], torch="cpu")
    python = str(python_of(env))
    standin = tmp_path / "s3fd-standin.pth"
    # A real torch checkpoint, so the loader's own unpickling is what proves the file was found.
    subprocess.run([python, "-c", f"import torch; torch.save({{'w': torch.ones(3)}}, {str(standin)!r})"], check=True)
    data = standin.read_bytes()
    s3fd = next(f for f in builtin().files if f.root == TORCH_HOME)
    official_url = next(s.url for s in s3fd.sources if isinstance(s, UrlSource))
    before = _tree(env)
    with serve(Hub()) as hub:
        hub.add("test/s3fd", REV, s3fd.name, data)
        manifest = tmp_path / "manifest.toml"
        manifest.write_text(
            '[purposes.inference]\nv15 = ["v15-inference"]\nv1 = ["v1-inference"]\n'
            f'[[file]]\npath = "{s3fd.path}"\nroot = "torch_home"\nsize = {len(data)}\n'
            f'sha256 = "{hashlib.sha256(data).hexdigest()}"\nneeded_for = ["v15-inference"]\nwhy = "stand-in"\n'
            f'[[file.source]]\nurl = "{hub.url}/test/s3fd/resolve/{REV}/{s3fd.name}"\n'
        )
        monkeypatch.setenv("ENVDOCTOR_MODELS_MANIFEST", str(manifest))
        torch_home = tmp_path / "torch"
        (tmp_path / "models").mkdir()
        run = cli("models", "fetch", "--models", str(tmp_path / "models"), "--torch-home", str(torch_home))
        assert run.code == 0, run.out
    # The call MuseTalk's vendored face_detection makes at import of musetalk.utils.preprocessing, by the
    # official URL; this machine cannot reach it, so only the cached file can answer.
    load = f"from torch.utils.model_zoo import load_url; print(float(load_url({official_url!r})['w'].sum()))"
    found = subprocess.run(
        [python, "-c", load],
        env={**os.environ, "TORCH_HOME": str(torch_home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (found.returncode, found.stdout.strip()) == (0, "3.0"), found.stderr
    assert _tree(env) == before, "the fetch changed the environment"
