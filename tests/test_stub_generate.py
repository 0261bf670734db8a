"""Generation of mmcv/_ext.py: from real mmcv sdists and wheels (PyPI, cached under .cache/mmcv-sources)
and from small stand-in trees built here; the kept stubs under stubs/ must equal a fresh generation."""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from envkit import run_inside

from envdoctor.resources import data_dir, probe_script
from envdoctor.stub import SourceError, generate, real_ops
from envdoctor.stub.kept import check, fetch_sdist, kept_stubs
from envdoctor.stub.wheel import build_wheel

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "mmcv-sources"
SYMBOLS = data_dir() / "mmcv-ext-symbols.txt"  # the 112 names, from the package
REQUIRED_REAL = {
    "nms",
    "roi_align_forward",
    "roi_pool_forward",
    "deform_conv_forward",
    "modulated_deform_conv_forward",
    "bbox_overlaps",
    "get_compiler_version",
    "get_compiling_cuda_version",
}


@pytest.fixture(scope="module")
def sdists() -> dict[str, Path]:
    return {k.version: fetch_sdist(k.version, CACHE, k.sha256) for k in kept_stubs()}


def _lite_wheel(version: str) -> Path:
    """mmcv-lite's wheel from PyPI, fetched once with pip (a wheel: nothing is built or run)."""
    name = f"mmcv_lite-{version}-py2.py3-none-any.whl"
    if not (CACHE / name).is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary",
                ":all:",
                f"mmcv-lite=={version}",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
    return CACHE / name


def test_kept_stubs_equal_a_fresh_generation(sdists: dict[str, Path]) -> None:
    drifts = check(CACHE)
    assert [d.kept.version for d in drifts] == ["2.0.1", "2.1.0", "2.2.0"]
    assert {d.kept.version: d.state for d in drifts} == dict.fromkeys(("2.0.1", "2.1.0", "2.2.0"), "same"), (
        "stubs/ drifted from generation: run `envdoctor-maint stubs` (make stubs)"
    )


@pytest.mark.parametrize("version", ["2.0.1", "2.1.0", "2.2.0"])
def test_every_name_is_there_once_real_or_raising(sdists: dict[str, Path], version: str) -> None:
    stub = generate(sdists[version])
    assert stub.mmcv_version == version
    if SYMBOLS.is_file():
        assert set(stub.ops) == set(SYMBOLS.read_text().split())
    assert len(stub.ops) == 112
    assert set(stub.real) == REQUIRED_REAL
    assert not set(stub.real) & set(stub.raising)
    tree = ast.parse(stub.text, feature_version=(3, 8))  # the file must load on Python 3.8 too
    defined = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    defined |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert set(stub.ops) <= defined
    for name in stub.raising:
        assert f"{name} = _unavailable({name!r})" in stub.text


@pytest.mark.network
def test_sdist_wheel_and_installed_package_give_the_same_stub(sdists: dict[str, Path]) -> None:
    from stubenv import stub_env

    from_sdist = generate(sdists["2.1.0"])
    from_wheel = generate(_lite_wheel("2.1.0"))
    installed = next(stub_env().glob("lib/python*/site-packages/mmcv"))
    from_installed = generate(installed)
    assert from_sdist.text == from_wheel.text == from_installed.text
    assert (REPO / "stubs" / "mmcv-2.1.0" / "_ext.py").read_text() == from_sdist.text


def test_header_follows_the_contract_the_facts_probe_parses(sdists: dict[str, Path]) -> None:
    stub = generate(sdists["2.2.0"])
    spec = importlib.util.spec_from_file_location("envdoctor_facts_probe", probe_script("envdoctor_facts"))
    assert spec and spec.loader
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    path = CACHE / "header-check_ext.py"
    path.write_text(stub.text)
    header = probe._stub_header(str(path))
    assert header == stub.header
    assert header["mmcv"] == "2.2.0"
    assert header["sources"] == "sha256:" + stub.sources_sha256
    assert header["envdoctor"] and header["real"] == "8" and header["raising"] == "104" and header["ops"] == "112"
    assert header["real_ops"].split(",") == list(stub.real)


# --- stand-in trees -------------------------------------------------------------------------------


def _fake_sdist(tmp: Path, files: dict[str, str], version: str = "9.9.9") -> Path:
    path = tmp / f"mmcv-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for rel, text in {"mmcv/version.py": f"__version__ = '{version}'\n", **files}.items():
            data = text.encode()
            info = tarfile.TarInfo(f"mmcv-{version}/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_generation_reads_but_never_runs_the_sources(tmp_path: Path) -> None:
    sentinel = tmp_path / "ran"
    bomb = f"open({str(sentinel)!r}, 'w').write('x')\nraise SystemExit(3)\n"
    src = _fake_sdist(
        tmp_path,
        {
            "mmcv/__init__.py": bomb,
            "mmcv/ops/__init__.py": bomb,
            "mmcv/ops/a.py": bomb + "ext_module = ext_loader.load_ext('_ext', ['nms', 'foo_forward'])\n",
            "mmcv/ops/b.py": "from ..utils import ext_loader\nx = ext_loader.load_ext(\n  '_ext', ('bar',))\n",
            "mmcv/ops/other.py": "y = load_ext('_other', ['not_ours'])\n",
        },
    )
    stub = generate(src)
    assert not sentinel.exists()
    assert stub.mmcv_version == "9.9.9"
    assert stub.ops == ("bar", "foo_forward", "nms")
    assert stub.real == ("nms",) and stub.raising == ("bar", "foo_forward")
    # Real ops this mmcv does not ask for are left out of the file.
    assert "def roi_pool_forward" not in stub.text and "def nms" in stub.text
    compile(stub.text, "_ext.py", "exec")


def test_a_non_literal_name_list_is_an_error_not_a_guess(tmp_path: Path) -> None:
    src = _fake_sdist(tmp_path, {"mmcv/ops/a.py": "NAMES = ['nms']\next = load_ext('_ext', NAMES)\n"})
    with pytest.raises(SourceError, match=r"ops/a.py, line 2.*literal list"):
        generate(src)


def test_unreadable_sources_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        generate(tmp_path / "nope.tar.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no mmcv package"):
        generate(tmp_path / "empty")
    with pytest.raises(SourceError, match="nothing to stub"):
        generate(_fake_sdist(tmp_path, {"mmcv/ops/a.py": "x = 1\n"}))


def test_template_offers_the_required_real_ops() -> None:
    assert set(real_ops()) >= REQUIRED_REAL


def test_wheel_is_valid_and_reproducible(sdists: dict[str, Path], tmp_path: Path) -> None:
    stub = generate(sdists["2.1.0"])
    first = build_wheel(stub, tmp_path / "a")
    second = build_wheel(stub, tmp_path / "b")
    assert first.name == "mmcv_ext_stub-2.1.0-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        assert zf.read("mmcv/_ext.py").decode() == stub.text
        record = zf.read("mmcv_ext_stub-2.1.0.dist-info/RECORD").decode().splitlines()
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            if not digest:
                continue
            data = zf.read(name)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == "sha256=" + want and int(size) == len(data)
        assert "Name: mmcv-ext-stub" in zf.read("mmcv_ext_stub-2.1.0.dist-info/METADATA").decode()


def test_cli_generate(sdists: dict[str, Path], tmp_path: Path) -> None:
    from envdoctor.cli import main
    from envdoctor.maint import main as maint_main

    out = tmp_path / "_ext.py"
    assert main(["stub", "generate", str(sdists["2.0.1"]), "-o", str(out)]) == 0
    assert out.read_text() == (REPO / "stubs" / "mmcv-2.0.1" / "_ext.py").read_text()
    assert main(["stub", "generate", str(tmp_path / "missing.whl")]) == 2
    assert maint_main(["stubs", "--check", "--cache", str(CACHE)]) == 0


def _pythons() -> list[str]:
    """Every CPython 3.8-3.13 found here (envkit.find_python: $ENVDOCTOR_TEST_PYTHONS or discovery), and ours."""
    from envkit import find_pythons

    found = find_pythons([f"3.{minor}" for minor in range(8, 14)])
    found.setdefault(f"3.{sys.version_info.minor}", sys.executable)
    return [found[k] for k in sorted(found, key=lambda v: int(v.split(".")[1]))]


_ON_EACH_PYTHON = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import _ext
out = {"compiler": _ext.get_compiler_version(), "info": _ext.STUB_INFO["mmcv"]}
try:
    _ext.nms_rotated(1, 2, iou_threshold=0.5)
except _ext.MmcvExtStubError as exc:
    out["error"] = type(exc).__name__ + ": " + str(exc)
out["calls"] = _ext.STUB_CALLS
print(json.dumps(out))
"""


@pytest.mark.parametrize("python", _pythons())
def test_the_generated_module_loads_and_raises_on_each_python(
    python: str, sdists: dict[str, Path], tmp_path: Path
) -> None:
    # torch is not installed for these interpreters: an empty stand-in module lets the stub load, which is
    # all this checks (syntax and the raising machinery on 3.8-3.13; the ops themselves run in test_stub_ops).
    (tmp_path / "torch.py").write_text("")
    (tmp_path / "_ext.py").write_text(generate(sdists["2.2.0"]).text)
    out = run_inside(python, ["-c", _ON_EACH_PYTHON, str(tmp_path)], what="the generated module", timeout=60)
    assert out["info"] == "2.2.0" and out["compiler"].startswith("none")
    assert out["error"].startswith("MmcvExtStubError: mmcv._ext.nms_rotated is not available: mmcv 2.2.0")
    assert out["calls"] == {"get_compiler_version": 1, "nms_rotated": 1}
