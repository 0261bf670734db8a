"""The one sha256 reader against hashlib over the whole bytes, across block boundaries."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from envdoctor.apply.keep import record_hash
from envdoctor.digest import sha256_digest, sha256_file


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (3 << 20) + 7])
def test_sha256_file_is_the_sha256_of_every_byte(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_digest(path) == hashlib.sha256(data).digest()
    assert (
        record_hash(path) == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    )
