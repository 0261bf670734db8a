"""Facts the manifest lists as not gathered: a file without a full sha256 is reported as checked by size
(and by its hash prefix where one is known), never as verified; a fact missing without saying so is refused."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

NO_HASH = "checked by size only, not verified by hash"
PREFIX = "checked by size and its sha256 prefix"

UNET = b"\x80\x02v1 unet stand-in" * 1000
S3FD = b"\x80\x02s3fd stand-in" * 1000
SYNC = b"\x80\x02syncnet stand-in" * 1000


def _manifest(path: Path, body: str | None = None) -> Path:
    prefix = hashlib.sha256(S3FD).hexdigest()[:10]
    path.write_text(
        '[purposes.inference]\nv15 = ["v15-inference"]\nv1 = ["v1-inference"]\n'
        + (
            body
            or (
                '[[file]]\npath = "musetalk/pytorch_model.bin"\nmin_size = 1000\nunknown = ["size", "sha256"]\n'
                'needed_for = ["v15-inference"]\nwhy = "v1.0 UNet stand-in"\n'
                '[[file.source]]\nurl = "https://example.invalid/unet"\n'
                f'[[file]]\npath = "hub/checkpoints/s3fd-{prefix}.pth"\nroot = "torch_home"\nmin_size = 1000\n'
                f'sha256_prefix = "{prefix}"\nunknown = ["size", "sha256"]\n'
                'needed_for = ["v15-inference"]\nwhy = "S3FD stand-in"\n'
                '[[file.source]]\nurl = "https://example.invalid/s3fd"\n'
                '[[file]]\npath = "syncnet/latentsync_syncnet.pt"\nmin_size = 1000\nunknown = ["size"]\n'
                f'sha256 = "{hashlib.sha256(SYNC).hexdigest()}"\n'
                'needed_for = ["v15-inference"]\nwhy = "SyncNet stand-in"\n'
                '[[file.source]]\nurl = "https://example.invalid/syncnet"\n'
            )
        )
    )
    return path


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("ENVDOCTOR_MODELS_MANIFEST", str(_manifest(tmp_path / "manifest.toml")))
    models, torch = tmp_path / "models", tmp_path / "torch"
    prefix = hashlib.sha256(S3FD).hexdigest()[:10]
    for path, data in [
        (models / "musetalk/pytorch_model.bin", UNET),
        (torch / f"hub/checkpoints/s3fd-{prefix}.pth", S3FD),
        (models / "syncnet/latentsync_syncnet.pt", SYNC),
    ]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return ["--models", str(models), "--torch-home", str(torch)]


def _states(run: Any) -> dict[str, tuple[str, str]]:
    return {f["path"].split("/")[0]: (f["state"], f.get("reason", "")) for f in run.json()["files"]}


def test_a_file_without_a_full_sha256_is_never_reported_verified(cli, tree: list[str]) -> None:
    for _ in range(2):  # the first run hashes; the second finds the hashes remembered: the same words
        run = cli("models", "verify", *tree)
        assert run.code == 0, run.out
        lines = {
            key: next(line for line in run.out.splitlines() if f" {key}" in line)
            for key in ("models/musetalk", "$TORCH_HOME", "models/syncnet")
        }
        assert lines["models/musetalk"].startswith("size ok") and NO_HASH in lines["models/musetalk"], run.out
        assert lines["$TORCH_HOME"].startswith("size ok") and PREFIX in lines["$TORCH_HOME"], run.out
        assert "not verified by hash" in lines["$TORCH_HOME"], run.out
        assert lines["models/syncnet"].startswith("ok "), "a known sha256 verifies without a known size"
        states = _states(cli("models", "verify", "--json", *tree))
        assert states["musetalk"][0] == states["hub"][0] == "sizeonly", states
        assert states["syncnet"][0] == "verified", states
    check = cli("check", "--models", tree[1], "--only", "models.files", "--json")
    found = {r["title"]: r["found"] for r in check.json()["results"]}
    assert NO_HASH in found["models/musetalk/pytorch_model.bin"], found


def test_a_prefix_that_does_not_match_is_wrong(cli, tree: list[str]) -> None:
    s3fd = next((Path(tree[3]) / "hub/checkpoints").iterdir())
    s3fd.write_bytes(b"\x80\x02" + bytes(len(S3FD) - 2))
    run = cli("models", "verify", "--json", *tree)
    assert run.code == 1
    assert _states(run)["hub"][0] == "wrong"


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ('path = "a.bin"\nsize = 10\n', "a.bin has no sha256"),
        ('path = "a.bin"\nsha256 = "00"\n', "a.bin has no size"),
        ('path = "a.bin"\nsize = 10\nsha256 = "00"\nunknown = ["size"]\n', "a.bin gives its size and also lists"),
    ],
)
def test_a_fact_missing_without_saying_so_is_refused(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str, said: str
) -> None:
    body = f'[[file]]\n{entry}needed_for = ["v15-inference"]\nwhy = "x"\n[[file.source]]\nurl = "https://example.invalid/a"\n'
    monkeypatch.setenv("ENVDOCTOR_MODELS_MANIFEST", str(_manifest(tmp_path / "m.toml", body)))
    (tmp_path / "models").mkdir()
    run = cli("models", "verify", "--models", str(tmp_path / "models"), "--json")
    assert run.code == 2
    assert said in run.json()["message"]
