"""The built-in manifest (envdoctor/data/models.toml) holds together: every file has a source pinned to a
commit, a hash or a reason for none, and an entry point the purposes know; the check and the fetch read it."""

from __future__ import annotations

import re

from envdoctor.models.manifest import MODELS, TORCH_HOME, HubSource, UrlSource, builtin
from envdoctor.smoke import models as smoke_models

COMMIT = re.compile(r"[0-9a-f]{40}")
SHA256 = re.compile(r"[0-9a-f]{64}")


def test_every_file_is_pinned_and_hashed_or_says_why_not() -> None:
    manifest = builtin()
    known = {ep for versions in manifest.purposes.values() for eps in versions.values() for ep in eps}
    for f in manifest.files:
        assert f.sources, f.path
        for s in f.sources:
            assert (isinstance(s, UrlSource) and s.url.startswith("https://")) or (
                isinstance(s, HubSource) and COMMIT.fullmatch(s.revision)
            ), (f.path, s)
        assert (f.sha256 and SHA256.fullmatch(f.sha256)) or f.sha256_prefix or f.min_size, f.path
        assert f.size or f.min_size, f.path
        assert ("sha256" in f.unknown) == (f.sha256 is None), f.path
        assert ("size" in f.unknown) == (f.size is None), f.path
        assert set(f.needed_for) <= known, f.path
        assert f.root in (MODELS, TORCH_HOME)
        for alt in f.alternatives:
            assert alt.sha256 and alt.size and alt.source is not None, alt


def test_the_facts_not_gathered_are_the_ones_the_manifest_says() -> None:
    unknown = {f.path: set(f.unknown) for f in builtin().files if f.unknown}
    assert unknown == {
        "musetalk/pytorch_model.bin": {"size", "sha256"},
        "syncnet/latentsync_syncnet.pt": {"size"},
        "hub/checkpoints/s3fd-619a316812.pth": {"size", "sha256"},
    }


def test_v15_inference_is_the_44_gb_the_reference_counts() -> None:
    files = builtin().for_purpose("inference", "v15")
    under_models = sum(f.bytes_needed for f in files if f.root == MODELS)
    assert 4.3e9 < under_models < 4.5e9
    assert [f.name for f in files if f.root == TORCH_HOME] == ["s3fd-619a316812.pth"]
    assert "musetalk/pytorch_model.bin" not in {f.path for f in files}
    assert "musetalk/pytorch_model.bin" in {f.path for f in builtin().for_purpose("inference", "v1")}
    assert "syncnet/latentsync_syncnet.pt" in {f.path for f in builtin().for_purpose("training")}


def test_smoke_asks_for_the_same_files() -> None:
    expected = [f.path for f in builtin().for_purpose("inference", "v15") if f.root == MODELS]
    assert smoke_models.required_files() == expected
    assert smoke_models.s3fd_name() == "s3fd-619a316812.pth"
