"""pip's configuration, read the way pip itself reads it: how tests and `make demo` find local indexes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from envdoctor import pipconfig


def test_environment_variables_win_over_files_and_lists_split_on_spaces() -> None:
    listing = "\n".join(
        [
            ":env:.find-links='/wheels/a'",
            "global.extra-index-url='file:///idx/one file:///idx/two'",
            "global.find-links='/wheels/b'",
            "install.index-url='https://mirror.example/simple'",
            "global.index-url='https://other.example/simple'",
            "global.cert='/etc/ssl/certs/ca.crt'",
        ]
    )
    got = pipconfig.parse(listing)
    assert got.find_links == ("/wheels/a",)
    assert got.extra_index_urls == ("file:///idx/one", "file:///idx/two")
    assert got.index_url == "https://mirror.example/simple"
    assert got.index_urls == ("https://mirror.example/simple", "file:///idx/one", "file:///idx/two")


def test_read_asks_pip_about_a_real_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pip", reason="no pip in this interpreter")
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nextra-index-url = file:///somewhere/simple file:///else/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    got = pipconfig.read(sys.executable)
    assert got.extra_index_urls == ("file:///somewhere/simple", "file:///else/simple")
    assert got.find_links == (str(tmp_path / "wheels"),)


def test_the_demo_gets_torch_index_arguments(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setattr(pipconfig, "read", lambda: pipconfig.PipIndexes(extra_index_urls=("file:///a", "file:///b")))
    assert pipconfig.main(["--torch-index-args"]) == 0
    assert capsys.readouterr().out.strip() == "--torch-index file:///a --torch-index file:///b"
    assert pipconfig.main([]) == 2
