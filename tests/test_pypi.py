"""The one sdist download (envdoctor.pypi): hash-checked, and nothing written when the hash is wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from envdoctor.pypi import SdistError, download_sdist


@pytest.mark.network
def test_an_sdist_comes_checked_and_a_wrong_hash_leaves_nothing(tmp_path: Path) -> None:
    # chumpy 0.70: a small sdist (no wheel exists for it), PyPI's own sha256 checks it.
    got = download_sdist("chumpy", "0.70", tmp_path / "ok")
    assert got == tmp_path / "ok" / "chumpy-0.70.tar.gz" and got.stat().st_size > 1000
    with pytest.raises(SdistError, match=r"expected 0{64}: not used"):
        download_sdist("chumpy", "0.70", tmp_path / "bad", expected_sha256="0" * 64)
    assert not (tmp_path / "bad").exists(), "a file that failed its hash is never written"
    same = download_sdist("chumpy", "0.70", tmp_path / "again", hashlib.sha256(got.read_bytes()).hexdigest())
    assert same.read_bytes() == got.read_bytes()
    with pytest.raises(SdistError, match=r"^PyPI has no chumpy-0\.0\.0\.tar\.gz\.$"):
        download_sdist("chumpy", "0.0.0", tmp_path / "none")
