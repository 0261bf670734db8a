"""The kept stubs stand in for a generation when fix installs them together with the pins."""

from __future__ import annotations

import pytest
from stubenv import stub_env

from envdoctor.stub import generate
from envdoctor.stub.kept import kept_stubs, load_kept


@pytest.mark.network
def test_kept_stub_equals_a_generation_from_the_installed_mmcv_lite():
    env = stub_env()
    mmcv_dir = next(env.glob("lib/python*/site-packages/mmcv"))
    fresh = generate(mmcv_dir)
    kept = load_kept(fresh.mmcv_version)
    assert kept is not None
    assert (kept.text, kept.real, kept.raising, kept.sources_sha256) == (
        fresh.text,
        fresh.real,
        fresh.raising,
        fresh.sources_sha256,
    )


def test_every_kept_stub_loads_and_unknown_versions_do_not():
    for k in kept_stubs():
        stub = load_kept(k.version)
        assert stub is not None and len(stub.ops) == 112
    assert load_kept("1.7.2") is None
