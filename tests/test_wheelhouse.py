"""A wheelhouse served to a fleet: labelled wheels, a static PEP 503 index, a real uv install over HTTP.

The wheel is a tiny real one written here (an `mmcv` distribution of one module, labelled like a
build of envdoctor's own), served by `http.server` on loopback and installed by uv into a fresh venv.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from envkit import python_of, run_inside, suite_python, torch_indexes, torch_python, torch_requirements
from fixenv import cpu_torch_env
from packaging.version import Version
from wheelserve import serve

from envdoctor import plan as plan_mod
from envdoctor import target as target_mod
from envdoctor.build import relabel
from envdoctor.steps import Install
from envdoctor.strategies import Options
from envdoctor.uv import Indexes, UvError, find_uv
from envdoctor.wheelfile import BUILD_RECORD, wheel_text, write_wheel
from envdoctor.wheelhouse import index, project_page, remote_candidates
from envdoctor.wheellabel import parse_label

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs


def tiny_mmcv(folder: Path, version: str = "2.1.0") -> Path:
    """An unlabelled mmcv wheel as a build leaves it: a package whose __version__ is the public version."""
    info = f"mmcv-{version}.dist-info"
    files = [
        ("mmcv/__init__.py", f"__version__ = '{version}'\n".encode()),
        (f"{info}/METADATA", f"Metadata-Version: 2.1\nName: mmcv\nVersion: {version}\n".encode()),
        (f"{info}/WHEEL", wheel_text(tag="py3-none-any").encode()),
    ]
    return write_wheel(folder / f"mmcv-{version}-py3-none-any.whl", info, files)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder): the folder served over loopback HTTP for the test's duration."""
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    with serve(folder) as base:
        yield base, folder


def test_relabel_changes_the_distribution_version_only(tmp_path: Path) -> None:
    raw = tiny_mmcv(tmp_path / "raw")
    out = relabel(raw, Version("2.1.0+pt2.13.0cpu"), tmp_path / "house")
    assert out.name == "mmcv-2.1.0+pt2.13.0cpu-py3-none-any.whl"
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert "mmcv-2.1.0+pt2.13.0cpu.dist-info/METADATA" in names and not any("mmcv-2.1.0.dist" in n for n in names)
        assert "Version: 2.1.0+pt2.13.0cpu" in zf.read("mmcv-2.1.0+pt2.13.0cpu.dist-info/METADATA").decode()
        assert zf.read("mmcv/__init__.py") == b"__version__ = '2.1.0'\n", "mmdet's window reads this: unchanged"
        record = zf.read("mmcv-2.1.0+pt2.13.0cpu.dist-info/RECORD").decode()
        assert "mmcv/__init__.py,sha256=" in record


def test_index_serves_a_labelled_wheel_that_uv_installs_over_http(cli, served, tmp_path: Path) -> None:
    base, folder = served
    relabel(tiny_mmcv(tmp_path / "raw"), Version("2.1.0+pt2.13.0cpu"), folder / "cpu")
    tiny_mmcv(folder)  # an unlabelled one beside it: indexed, but never chosen for a torch
    run = cli("wheelhouse", "index", str(folder))
    assert run.code == 0 and "indexed 2 wheels of 1 projects" in run.out
    page = (folder / "simple" / "mmcv" / "index.html").read_text()
    assert "#sha256=" in page and "mmcv-2.1.0+pt2.13.0cpu-py3-none-any.whl" in page
    assert "mmcv/" in (folder / "simple" / "index.html").read_text()

    listed = remote_candidates(project_page(f"{base}/simple/"))
    labels = {c.filename: parse_label(c.version.local) for c in listed}
    assert str(labels["mmcv-2.1.0+pt2.13.0cpu-py3-none-any.whl"]) == "pt2.13.0cpu"
    assert labels["mmcv-2.1.0-py3-none-any.whl"] is None

    uv = find_uv()
    venv = tmp_path / "fresh"
    uv.venv(venv, python=suite_python())
    py = venv / "bin" / "python"
    links = Indexes(find_links=(project_page(f"{base}/simple/"),), no_index=True)
    uv.pip_install(py, ["mmcv==2.1.0+pt2.13.0cpu"], indexes=links, extra=["--only-binary", "mmcv"])
    assert "mmcv==2.1.0+pt2.13.0cpu" in uv.pip_freeze(py)
    code = "import json, mmcv; print(json.dumps({'version': mmcv.__version__}))"
    assert run_inside(py, ["-c", code], what="mmcv's version", timeout=120)["version"] == "2.1.0"

    # The index's sha256 is checked: a wheel swapped after indexing is refused.
    labelled = folder / "cpu" / "mmcv-2.1.0+pt2.13.0cpu-py3-none-any.whl"
    with zipfile.ZipFile(labelled, "a") as zf:
        zf.writestr("mmcv/extra.py", "x = 1\n")
    other = tmp_path / "other"
    uv.venv(other, python=suite_python())
    with pytest.raises(UvError) as err:
        uv.pip_install(
            other / "bin" / "python",
            ["mmcv==2.1.0+pt2.13.0cpu"],
            indexes=links,
            extra=["--only-binary", "mmcv", "--no-cache"],
        )
    assert "hash" in err.value.stderr.lower()


@pytest.mark.network
def test_plan_takes_the_wheel_from_an_index_given_with_wheel_index(served, tmp_path: Path) -> None:
    base, folder = served

    relabel(tiny_mmcv(tmp_path / "raw"), Version("2.1.0+pt2.13.0cpu"), folder)
    relabel(tiny_mmcv(tmp_path / "raw"), Version("2.1.0+pt2.12.0cpu"), folder)
    index(folder)
    url = f"{base}/simple/"
    target = target_mod.resolve(venv=str(cpu_torch_env()))
    opts = Options(wheel_indexes=(url,), wheelhouse=tmp_path / "empty", strategy="prebuilt")
    p = plan_mod.make(target, opts)
    pre = next(v for v in p.verdicts if v.strategy == "prebuilt")
    text = " ".join(pre.reasons)
    assert pre.viable and "mmcv-2.1.0+pt2.13.0cpu-py3-none-any.whl) fits this target" in text
    assert f"the wheel index {url}" in text
    assert "mmcv-2.1.0+pt2.12.0cpu-py3-none-any.whl: built for torch 2.12.0" not in text, "found: no near misses"
    install = p.installs
    assert (
        isinstance(install, Install)
        and install.find_links == (f"{url}mmcv/",)
        and "mmcv==2.1.0+pt2.13.0cpu" in install.packages
    )
    assert not any(s.kind == "build-mmcv" for s in p.steps)


def test_list_names_each_wheels_torch_and_bad_folders_are_one_sentence(cli, tmp_path: Path) -> None:
    relabel(tiny_mmcv(tmp_path / "raw"), Version("2.1.0+pt2.13.0cu130"), tmp_path / "house")
    tiny_mmcv(tmp_path / "house" / "old")
    run = cli("wheelhouse", "list", str(tmp_path / "house"), "--json")
    assert run.code == 0
    rows = {r["file"]: r for r in run.json()["wheels"]}
    assert rows["mmcv-2.1.0+pt2.13.0cu130-py3-none-any.whl"]["torch"] == "2.13.0"
    assert rows["mmcv-2.1.0+pt2.13.0cu130-py3-none-any.whl"]["platform"] == "cu130"
    assert rows["old/mmcv-2.1.0-py3-none-any.whl"]["torch"] is None
    text = cli("wheelhouse", "list", str(tmp_path / "house"))
    assert "(torch 2.13.0 cu130)" in text.out and "(no torch label)" in text.out
    bad = cli("wheelhouse", "index", str(tmp_path / "missing"))
    assert bad.code == 2 and bad.err.strip() == f"envdoctor: {tmp_path / 'missing'} is not a folder."
    assert not (tmp_path / "missing").exists()


@pytest.mark.network
def test_fix_installs_mmcv_from_the_wheel_index_then_rolls_back_as_check_stays_red(cli, served, tmp_path: Path) -> None:
    """The real fix path with --wheel-index: uv takes the labelled wheel from the HTTP page beside PyPI.

    The tiny mmcv has no compiled ops, so the check stays red, names the labelled distribution, and the
    environment goes back to its snapshot. The target has torch and torchvision (PyPI's torch 2.14.1, a
    CUDA 13.0 build): with torch alone fix would first need torchvision from PyTorch's index.
    """
    base, folder = served
    relabel(tiny_mmcv(tmp_path / "raw"), Version("2.1.0+pt2.14.1cu130"), folder)
    index(folder)
    uv = find_uv()
    env = tmp_path / "env"
    uv.venv(env, python=torch_python("vision"))
    uv.pip_install(python_of(env), torch_requirements("vision"), indexes=torch_indexes("vision"))
    before = uv.pip_freeze(python_of(env))

    run = cli(
        "fix",
        "--venv",
        str(env),
        "--yes",
        "--strategy",
        "prebuilt",
        "--wheel-index",
        f"{base}/simple/",
        "--wheelhouse",
        str(tmp_path / "empty"),
        "--json",
    )
    assert run.code == 1
    result = run.json()["result"]
    install = result["steps"][0]
    assert install["ok"] and install["step"]["find_links"] == [f"{base}/simple/mmcv/"]
    assert "mmcv==2.1.0+pt2.14.1cu130" in install["step"]["packages"]
    failures = " ".join(result["verification"]["failures"])
    assert "mmcv 2.1.0+pt2.14.1cu130 ships no compiled ops" in failures, "the labelled wheel was what got installed"
    assert result["rolled_back"] and result["restored"]
    assert uv.pip_freeze(python_of(env)) == before


@pytest.mark.network
def test_an_enabled_third_party_source_is_named_as_such_with_its_near_misses(
    served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The community source's data, with its URL pointed at a loopback copy of a listing like its own."""
    import dataclasses

    from envdoctor.strategies import matrix

    base, folder = served
    for label in ("2.1.0+pt2.13.0cpu", "2.2.0+pt2.13.0cpu", "2.1.0+pt2.12.0cpu"):
        relabel(tiny_mmcv(tmp_path / "raw"), Version(label), folder)
    index(folder)
    real = matrix.source("miropsota")
    local = dataclasses.replace(real, url=f"{base}/simple")
    monkeypatch.setattr(matrix, "wheel_sources", lambda: (local,))
    target = target_mod.resolve(venv=str(cpu_torch_env()))
    opts = Options(wheel_sources=("miropsota",), wheelhouse=tmp_path / "empty", strategy="prebuilt")
    pre = next(v for v in plan_mod.make(target, opts).verdicts if v.strategy == "prebuilt")
    text = " ".join(pre.reasons)
    assert "mmcv-2.1.0+pt2.13.0cpu-py3-none-any.whl) fits this target, from torch_packages_builder" in text
    assert "third-party: built by one community maintainer's GitHub Actions workflow" in text

    # Without the fitting wheel, the near misses say why the others do not fit.
    (folder / "mmcv-2.1.0+pt2.13.0cpu-py3-none-any.whl").unlink()
    index(folder)
    from envdoctor.strategies import prebuilt

    prebuilt._listing.cache_clear()
    pre = next(v for v in plan_mod.make(target, opts).verdicts if v.strategy == "prebuilt")
    text = " ".join(pre.reasons)
    assert not pre.viable
    assert "mmcv-2.2.0+pt2.13.0cpu-py3-none-any.whl: mmcv 2.2.0 is outside a window: mmdet 3.3.0 accepts" in text
    assert "mmcv-2.1.0+pt2.12.0cpu-py3-none-any.whl: built for torch 2.12.0; this target has torch 2.13.0" in text


def test_list_says_which_gpus_a_cuda_wheel_envdoctor_built_has_kernels_for(cli, tmp_path: Path) -> None:
    record = {BUILD_RECORD: json.dumps({"sass": [90, 120], "ptx": [120], "kernel_objects": 59}).encode()}
    relabel(tiny_mmcv(tmp_path / "raw"), Version("2.1.0+pt2.14.1cu130"), tmp_path / "house", record)
    relabel(tiny_mmcv(tmp_path / "raw"), Version("2.1.0+pt2.13.0cpu"), tmp_path / "house")
    rows = {r["file"]: r for r in cli("wheelhouse", "list", str(tmp_path / "house"), "--json").json()["wheels"]}
    assert rows["mmcv-2.1.0+pt2.14.1cu130-py3-none-any.whl"]["sass"] == [90, 120]
    assert rows["mmcv-2.1.0+pt2.14.1cu130-py3-none-any.whl"]["ptx"] == [120]
    assert rows["mmcv-2.1.0+pt2.13.0cpu-py3-none-any.whl"]["sass"] is None
    text = cli("wheelhouse", "list", str(tmp_path / "house")).out
    assert "(torch 2.14.1 cu130, kernels for sm_90 sm_120 compute_120)" in text, text
