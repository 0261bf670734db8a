"""Python 3.13: the requirement sets, constraints and verdicts follow the facts.

The facts are written out as the probe reports them; the sets, constraints and strategies are the
real ones from envdoctor/data/. The PyPI tests resolve the 3.13 set with uv for Linux, macOS and
Windows, as `envdoctor-maint lock` does (network: PyPI).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from strategies.test_verdicts import facts, verdicts

from envdoctor import lock
from envdoctor.pythons import find_python
from envdoctor.steps import BuildWheel, Install, InstallLock
from envdoctor.strategies import CHOSEN, POSSIBLE, REJECTED, Context, Options, by_name
from envdoctor.strategies.sets import active_constraints, get_set, pick_set
from envdoctor.uv import find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs

TORCH_PYPI = "2.14.1"  # PyPI's CUDA build on Linux x86_64: torch.version.cuda 13.0
MISSING_XTCOCOTOOLS = (
    "xtcocotools 1.14.3 has no wheel for cp313-linux_x86_64 (PyPI has wheels for Python <3.12); "
    "`--build` would compile it from its sdist, or --find-links DIR with such a wheel"
)


def _ctx(py: str = "3.13.0", torch: str | None = TORCH_PYPI, **opts: object) -> Context:
    return Context.from_facts(facts(torch, py=py, cuda="13.0" if torch else None), Options(**opts))  # type: ignore[arg-type]


def _install(strategy: str, ctx: Context):
    return next(s for s in by_name(strategy).steps(ctx) if isinstance(s, Install | InstallLock))


def test_313_with_pypi_torch_chooses_mmpose_free_on_numpy_2(tmp_path: Path) -> None:
    v = verdicts(facts(TORCH_PYPI, py="3.13.0", cuda="13.0"), wheelhouse=tmp_path)
    assert v.chosen == "mmpose-free" and v["mmpose-free"].status == CHOSEN
    assert v["lite-stub"].status == REJECTED and v["lite-stub"].reasons == (MISSING_XTCOCOTOOLS,)
    # The committed 3.13 lockfile for this cell (PyPI's CUDA torch on Linux x86_64) is what fix installs.
    install = _install("mmpose-free", _ctx(wheelhouse=tmp_path))
    assert install.kind == "install-lock" and install.lockfile
    assert Path(install.lockfile).name == "mmpose-free-modern-py313-cu130-linux.txt"
    pins = set(lock.pins(Path(install.lockfile)))
    assert "transformers==4.45.0" in pins and not any(p.startswith("numpy==1.") for p in pins), "numpy 2"
    assert any(p.startswith("opencv-python==4.") for p in pins)
    # Without it (--resolve), the set and its constraints say the same.
    resolved = _install("mmpose-free", _ctx(wheelhouse=tmp_path, resolve=True))
    assert resolved.kind == "install"
    assert "transformers==4.45.0" in resolved.packages and "transformers==4.39.2" not in resolved.packages
    assert not any(c.startswith("numpy") for c in resolved.constraints), "numpy 2: nothing here needs numpy 1"
    assert "opencv-python<5" in resolved.constraints


def test_312_keeps_numpy_1_where_xtcocotools_is_a_numpy_1_build() -> None:
    ctx = _ctx("3.12.1")
    rset = pick_set(ctx.torch, ctx.python_version, ctx.os)
    assert rset is not None and "transformers==4.39.2" in rset.requirements, "3.12 keeps MuseTalk's pin"
    with_mmpose = {c.requirement for c in active_constraints(ctx.torch, (*rset.requirements, *rset.openmmlab), "3.12")}
    assert "numpy<2" in with_mmpose and "opencv-python<=4.11.0.86" in with_mmpose
    free = {c.requirement for c in active_constraints(ctx.torch, rset.requirements, "3.12")}
    assert "numpy<2" not in free, "mmpose-free on torch 2.14 takes numpy 2"
    assert "opencv-python<5" in free and "opencv-python<5" not in with_mmpose, "4.x: by <5, or by <=4.11.0.86"


def test_without_torch_the_pythons_oldest_torch_decides_numpy() -> None:
    rset = get_set("modern")
    # 3.12 has torch 2.2 (built against numpy 1): the safe side; 3.13 starts at torch 2.5.
    assert "numpy<2" in {c.requirement for c in active_constraints(None, rset.requirements, "3.12")}
    assert "numpy<2" not in {c.requirement for c in active_constraints(None, rset.requirements, "3.13")}
    # No Python known: every torch row applies.
    assert "numpy<2" in {c.requirement for c in active_constraints(None, rset.requirements)}


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_markers_pick_one_transformers_per_python_on_every_os(os_name: str) -> None:
    rset = get_set("modern")
    assert not any(";" in r for r in rset.for_target("3.13", os_name).requirements), "markers are evaluated away"
    assert "transformers==4.45.0" in rset.for_target("3.13", os_name).requirements
    assert "transformers==4.39.2" in rset.for_target("3.12", os_name).requirements
    assert len(rset.for_target("3.13", os_name).requirements) == len(rset.for_target("3.11", os_name).requirements)


def test_lite_stub_313_takes_a_local_xtcocotools_wheel(tmp_path: Path) -> None:
    links, house = tmp_path / "links", tmp_path / "wheelhouse"
    links.mkdir()
    house.mkdir()
    # Wheels for another Python or OS do not count; only the filename's tags are read here.
    (links / "xtcocotools-1.14.3-cp312-cp312-linux_x86_64.whl").write_bytes(b"")
    (links / "xtcocotools-1.14.3-cp313-cp313-macosx_11_0_arm64.whl").write_bytes(b"")
    assert (
        verdicts(facts(TORCH_PYPI, py="3.13.0", cuda="13.0"), find_links=(links,), wheelhouse=house)["lite-stub"].status
        == REJECTED
    )
    (links / "xtcocotools-1.14.3-cp313-cp313-linux_x86_64.whl").write_bytes(b"")
    v = verdicts(facts(TORCH_PYPI, py="3.13.0", cuda="13.0"), find_links=(links,), wheelhouse=house)
    assert v["lite-stub"].status in (CHOSEN, POSSIBLE) and v.chosen == "lite-stub"
    assert any("xtcocotools==1.14.3 from the local wheel" in r for r in v["lite-stub"].reasons)
    install = _install("lite-stub", _ctx(find_links=(links,), wheelhouse=house))
    assert str(links) in install.find_links
    assert not any(c.startswith("numpy") for c in install.constraints), "a cp313 xtcocotools is a numpy 2 build"


def test_build_on_313_builds_xtcocotools_into_the_wheelhouse_before_the_install(tmp_path: Path) -> None:
    v = verdicts(facts(TORCH_PYPI, py="3.13.0", cuda="13.0"), build=True, wheelhouse=tmp_path)
    assert v["lite-stub"].status in (CHOSEN, POSSIBLE)
    assert any("--build compiles it once from its sdist" in r for r in v["lite-stub"].reasons)
    steps = by_name("lite-stub").steps(_ctx(build=True, wheelhouse=tmp_path))
    kinds = [s.kind for s in steps]
    build = steps[kinds.index("build-wheel")]
    assert isinstance(build, BuildWheel)
    assert build.requirement == "xtcocotools==1.14.3" and build.wheelhouse == str(tmp_path)
    install = _install("lite-stub", _ctx(build=True, wheelhouse=tmp_path))
    assert kinds.index("build-wheel") < kinds.index(install.kind), "the wheel exists before the install needs it"
    assert str(tmp_path) in install.find_links


def test_a_python_no_set_covers_is_named_with_what_the_sets_cover() -> None:
    v = verdicts(facts(TORCH_PYPI, py="3.14.0", cuda="13.0"))
    assert v.chosen is None
    reason = v["mmpose-free"].reasons[0]
    assert reason.startswith("no MuseTalk requirement set fits torch 2.14.1 on Python 3.14")
    assert "torch >=2.1 on Python <3.14,>=3.10 (modern)" in reason


def test_fix_create_finds_the_running_python_and_names_what_to_install_when_none() -> None:
    import sys

    series = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = find_python(series)
    assert found is not None and found.via in ("uv", "PATH", "pyenv")
    assert find_python("3.99") is None


def test_fix_create_with_a_python_nobody_has_is_one_sentence_and_exit_2(cli, tmp_path: Path) -> None:
    run = cli("fix", "--venv", str(tmp_path / "v"), "--create", "--python-version", "3.99", "--yes")
    assert run.code == 2
    assert "none found via uv, PATH or pyenv" in run.err and "uv python install 3.99" in run.err
    assert not (tmp_path / "v" / "pyvenv.cfg").exists()


# Windows is the cell with the tokenizers trap; Linux and macOS run with the slow tests.
@pytest.mark.network
@pytest.mark.parametrize(
    "os_name", [pytest.param("linux", marks=pytest.mark.slow), pytest.param("macos", marks=pytest.mark.slow), "windows"]
)
def test_pypi_serves_the_313_set_as_wheels_on_numpy_2(os_name: str, tmp_path: Path) -> None:
    """What `lock` would resolve for 3.13, with --only-binary :all:: every pin has a wheel for the cell."""
    inputs = lock.inputs_for(lock.LockTarget("mmpose-free", "modern", "3.13", "cpu", os_name))
    assert "numpy<2" not in inputs.constraints
    files = {}
    for key, lines in (("in", inputs.requirements), ("c", inputs.constraints), ("x", inputs.excludes)):
        files[key] = tmp_path / f"{key}.txt"
        files[key].write_text("\n".join(lines) + "\n")
    args = ["pip", "compile", str(files["in"]), "-c", str(files["c"]), "--excludes", str(files["x"]), "--quiet"]
    args += ["--python-version", "3.13", "--python-platform", inputs.python_platform, "--only-binary", ":all:"]
    args += ["--exclude-newer", inputs.exclude_newer, "--no-header", "--no-annotate"]
    run = find_uv().run(args, check=False)
    assert run.returncode == 0, f"the 3.13 set has no all-wheel resolution for {os_name}: {run.stderr[-2000:]}"
    pins = dict(line.split("==") for line in run.stdout.split() if "==" in line)
    assert pins["numpy"].split(".")[0] == "2"
    assert pins["transformers"] == "4.45.0" and pins["tokenizers"].startswith("0.20.")
    assert pins["opencv-python"].split(".")[0] == "4"
    # numba/llvmlite are unpinned: the resolution takes releases with cp313 wheels.
    assert int(pins["numba"].split(".")[1]) >= 61 and int(pins["llvmlite"].split(".")[1]) >= 44


@pytest.mark.network
def test_windows_313_cannot_keep_transformers_4_39(tmp_path: Path) -> None:
    """The fact behind the move: tokenizers 0.15.2 (held by transformers 4.39.2) has no cp313 Windows wheel."""
    req = tmp_path / "in.txt"
    req.write_text("transformers==4.39.2\n")
    args = ["pip", "compile", str(req), "--quiet", "--python-version", "3.13", "--only-binary", ":all:"]
    when = lock.inputs_for(lock.LockTarget("mmpose-free", "modern", "3.13", "cpu", "windows")).exclude_newer
    args += ["--python-platform", "x86_64-pc-windows-msvc", "--exclude-newer", when]
    run = find_uv().run(args, check=False)
    assert run.returncode != 0 and "tokenizers" in run.stderr
