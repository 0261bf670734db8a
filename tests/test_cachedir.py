"""envdoctor's cache folder follows the platform's convention, and XDG_CACHE_HOME wherever it is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.cachedir import cache_root
from envdoctor.facts import Facts, HostPlatform, Python
from envdoctor.strategies import Context, Options
from envdoctor.strategies.common import wheelhouse
from envdoctor.stub.kept import default_cache
from envdoctor.stub.state import backup_dir

HOME = {"HOME": "/h", "USERPROFILE": "C:/Users/u"}


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", HOME, Path("/h/.cache/envdoctor")),
        ("linux", {**HOME, "XDG_CACHE_HOME": "/x"}, Path("/x/envdoctor")),
        ("linux", {**HOME, "XDG_CACHE_HOME": "/x", "ENVDOCTOR_CACHE_DIR": "/e"}, Path("/e")),
        ("win32", {**HOME, "LOCALAPPDATA": "D:/Local", "ENVDOCTOR_CACHE_DIR": "E:/c"}, Path("E:/c")),
        ("linux", {**HOME, "XDG_CACHE_HOME": ""}, Path("/h/.cache/envdoctor")),  # empty: unset, per the spec
        ("freebsd14", HOME, Path("/h/.cache/envdoctor")),
        ("darwin", HOME, Path("/h/Library/Caches/envdoctor")),
        ("darwin", {**HOME, "XDG_CACHE_HOME": "/x"}, Path("/x/envdoctor")),
        ("win32", {**HOME, "LOCALAPPDATA": "D:/Local"}, Path("D:/Local/envdoctor/Cache")),
        ("win32", {"USERPROFILE": "C:/Users/u"}, Path("C:/Users/u/AppData/Local/envdoctor/Cache")),
    ],
)
def test_cache_root_by_platform(platform: str, environ: dict[str, str], expected: Path) -> None:
    assert cache_root(platform, environ) == expected


def test_every_cache_user_takes_the_one_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ENVDOCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("ENVDOCTOR_MMCV_SOURCES", raising=False)
    root = tmp_path / "envdoctor"
    assert backup_dir() == root / "replaced-ext"
    assert default_cache() == root / "mmcv-sources"
    facts = Facts(
        python=Python(version="3.11.7", cp_tag="cp311"), platform=HostPlatform(system="Linux", machine="x86_64")
    )
    assert wheelhouse(Context.from_facts(facts, Options())) == root / "wheelhouse"


def test_each_test_has_a_cache_of_its_own(own_cache: Path) -> None:
    """The suite's autouse fixture: envdoctor's cache is this test's folder, read at call time, so a
    snapshot or wheel written by fix in a test lands there and never in the user's cache."""
    from envdoctor.apply import transaction

    assert cache_root() == own_cache
    assert not hasattr(transaction, "DEFAULT_CACHE"), "a cache folder fixed at import escapes the fixture"
