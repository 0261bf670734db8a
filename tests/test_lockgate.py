"""The wheel gate's tags per target, its hook in `plan`, hash-checked lockfile installs, the README's
lockfile table and the platform workflow."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from packaging.version import Version

from envdoctor import lock, lockgate, plan
from envdoctor.datafiles import load
from envdoctor.report import lock_table as locktable
from envdoctor.resources import lockfiles_dir
from envdoctor.strategies.base import REJECTED, Context, Options
from envdoctor.uv import UvError, find_uv
from envdoctor.wheelfile import wheel_text, write_wheel

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("wheel", "python", "platform", "fits"),
    [
        ("numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "3.12", "linux", True),
        ("numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "3.13", "linux", False),
        ("numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "3.12", "linux-aarch64", False),
        ("x-1.0-cp312-cp312-manylinux_2_34_x86_64.whl", "3.12", "linux", False),  # newer glibc than 2.28
        ("x-1.0-cp312-cp312-musllinux_1_2_x86_64.whl", "3.12", "linux", False),
        ("x-1.0-cp312-cp312-linux_x86_64.whl", "3.12", "linux", False),  # not portable
        ("x-1.0-cp310-cp310-manylinux1_x86_64.whl", "3.10", "linux", True),
        ("x-1.0-cp39-abi3-manylinux_2_28_aarch64.whl", "3.13", "linux-aarch64", True),
        ("x-1.0-cp313-cp313t-manylinux_2_28_x86_64.whl", "3.13", "linux", False),  # free-threaded ABI
        ("torch-2.14.1-cp313-cp313-macosx_14_0_arm64.whl", "3.13", "macos", True),
        ("x-1.0-cp313-cp313-macosx_15_0_arm64.whl", "3.13", "macos", False),  # newer macOS than promised
        ("x-1.0-cp313-cp313-macosx_10_13_universal2.whl", "3.13", "macos", True),
        ("x-1.0-cp313-cp313-macosx_11_0_x86_64.whl", "3.13", "macos", False),
        ("x-1.0-cp313-cp313-win_amd64.whl", "3.13", "windows", True),
        ("x-1.0-cp313-cp313-win_arm64.whl", "3.13", "windows", False),
        ("x-1.0-py3-none-any.whl", "3.14", "windows", True),
        ("x-1.0-py2-none-any.whl", "3.12", "linux", False),
        ("not-a-wheel.tar.gz", "3.12", "linux", False),
    ],
)
def test_wheel_tags_fit_the_target(wheel: str, python: str, platform: str, fits: bool) -> None:
    assert lockgate.wheel_fits(wheel, lockgate.supported_tags(python, platform)) is fits


def test_gate_names_each_pin_without_a_wheel_and_allows_named_builds() -> None:
    items = [
        lockgate.Artifact("numpy", "1.26.4", ("numpy-1.26.4-cp312-cp312-win_amd64.whl",), True, None),
        lockgate.Artifact("xtcocotools", "1.14.3", (), True, None),
        lockgate.Artifact("tomli", "2.0.1", (), True, "python_full_version < '3.11'"),  # not installed on 3.13
        lockgate.Artifact("six", "1.16.0", ("six-1.16.0-py2.py3-none-any.whl",), True, None),
    ]
    refused = lockgate.gate(items, "3.13", "windows")
    assert not refused.ok and refused.missing == ("numpy==1.26.4", "xtcocotools==1.14.3")
    assert "no wheel for cp313 on Windows amd64" in refused.message() and "numpy==1.26.4" in refused.message()
    allowed = lockgate.gate(items, "3.12", "windows", builds=["xtcocotools"])
    assert allowed.ok and allowed.builds == ("xtcocotools==1.14.3",) and "install-lock step" in allowed.message()


def test_every_platform_maps_its_machines_and_names_lockfiles() -> None:
    assert lockgate.platform_for("linux", "x86_64").key == "linux"  # type: ignore[union-attr]
    assert lockgate.platform_for("linux", "aarch64").key == "linux-aarch64"  # type: ignore[union-attr]
    assert lockgate.platform_for("macos", "arm64").key == "macos"  # type: ignore[union-attr]
    assert lockgate.platform_for("windows", "AMD64").key == "windows"  # type: ignore[union-attr]
    assert lockgate.platform_for("macos", "x86_64") is None  # Intel macs: torch publishes no wheel any more
    for t in lock.committed_targets():
        assert lock.LockTarget.parse(t.name) == t


# --- plan: the same gate before anything changes ----------------------------------------------------------


def _ctx(python: str, os_name: str, machine: str, options: Options | None = None) -> Context:
    return Context(
        python_version=python, python_tag="cp" + "".join(python.split(".")[:2]), os=os_name, machine=machine,
        torch=Version("2.13.0+cpu"), torchvision=Version("0.28.0+cpu"), accelerator="cpu", gpus=(), nvcc=None,
        installed={}, ext_state=None, externally_managed=False, options=options or Options(),
    )  # fmt: skip


def test_plan_rejects_a_lockfile_that_fails_the_gate_for_this_target(tmp_path: Path) -> None:
    """A Linux x86_64 lockfile given to a Windows interpreter: plan names a pin without a Windows wheel."""
    t = lock.LockTarget.parse("lite-stub-modern-py311-cpu-linux")
    lock.copy_cell(t, lockfiles_dir(), tmp_path)
    txt = lock.paths(t, tmp_path)[0]
    verdicts, chosen = plan.rank(_ctx("3.11.9", "windows", "AMD64", Options(lockfile=txt)))
    lite = next(v for v in verdicts if v.strategy == "lite-stub")
    assert lite.status == REJECTED and chosen != "lite-stub"
    assert "fails the wheel gate" in lite.reasons[0] and "cp311 on Windows amd64" in lite.reasons[0]
    assert re.search(r"[a-z0-9_.-]+==\S+", lite.reasons[0].split("named for:")[1])
    # On its own target the same lockfile passes and lite-stub stays chosen.
    verdicts, chosen = plan.rank(_ctx("3.11.9", "linux", "x86_64", Options(lockfile=txt)))
    assert chosen == "lite-stub"


def test_plan_says_why_a_cell_has_no_lockfile() -> None:
    left = [lock.LockTarget.parse(k) for k, v in lock.read_matrix().items() if v["status"] == "refused"]
    t = next((t for t in left if t.python in ("3.10", "3.11", "3.12") and t.accelerator == "cpu"), None)
    if t is None:
        pytest.skip("no refused cell on a Python every requirement set covers")
    plat = lockgate.platforms()[t.platform]
    verdicts, _ = plan.rank(_ctx(f"{t.python}.4", plat.os, plat.machines[0]))
    v = next(v for v in verdicts if v.strategy == t.strategy)
    assert any(f"{t.name} was left out" in r for r in v.reasons), v.reasons


# --- hashes always ----------------------------------------------------------------------------------------


def _venv(tmp_path: Path) -> Path:
    uv = find_uv()
    uv.venv(tmp_path / "v", python=sys.executable)
    return tmp_path / "v" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


@pytest.mark.network
def test_a_lockfile_install_requires_hashes(tmp_path: Path) -> None:
    uv = find_uv()
    py = _venv(tmp_path)
    (tmp_path / "in.txt").write_text("six==1.16.0\n")
    hashed = tmp_path / "hashed.txt"
    uv.pip_compile(Path("in.txt"), hashed, python_version="3.11", python_platform="x86_64-manylinux_2_28",
                   cwd=tmp_path)  # fmt: skip
    unhashed = tmp_path / "unhashed.txt"
    unhashed.write_text("six==1.16.0\n")
    with pytest.raises(UvError) as info:
        uv.pip_install_locked(py, unhashed)
    assert "hash" in str(info.value).lower()
    assert not any(line.startswith("six==") for line in uv.pip_freeze(py)), "nothing was installed"

    # The hashed lockfile installs, and a local wheel rides along with the hash taken here.
    wheel = write_wheel(
        tmp_path / "w" / "envdoctor_probe_wheel-1.0-py3-none-any.whl",
        "envdoctor_probe_wheel-1.0.dist-info",
        [
            ("envdoctor_probe_wheel.py", b"X = 1\n"),
            ("envdoctor_probe_wheel-1.0.dist-info/METADATA",
             b"Metadata-Version: 2.1\nName: envdoctor-probe-wheel\nVersion: 1.0\n"),
            ("envdoctor_probe_wheel-1.0.dist-info/WHEEL", wheel_text().encode()),
        ],
    )  # fmt: skip
    uv.pip_install_locked(py, hashed, wheels=[wheel])
    frozen = uv.pip_freeze(py)
    assert "six==1.16.0" in frozen and any(line.startswith("envdoctor-probe-wheel") for line in frozen)


@pytest.mark.network
def test_a_tampered_hash_stops_a_lockfile_install(tmp_path: Path) -> None:
    uv = find_uv()
    py = _venv(tmp_path)
    (tmp_path / "in.txt").write_text("six==1.16.0\n")
    lockfile = tmp_path / "lock.txt"
    uv.pip_compile(Path("in.txt"), lockfile, python_version="3.11", python_platform="x86_64-manylinux_2_28",
                   cwd=tmp_path)  # fmt: skip
    lockfile.write_text(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, lockfile.read_text()))
    with pytest.raises(UvError) as info:
        uv.pip_install_locked(py, lockfile)
    assert "hash" in str(info.value).lower()


# --- the README table and the workflow --------------------------------------------------------------------


def test_readme_lockfile_table_is_current(maint_cli) -> None:
    readme = REPO / "README.md"
    assert locktable.current_in(readme) == locktable.render(), (
        "run `make lockfiles` (envdoctor-maint lock --table README.md)"
    )
    run = maint_cli("lock", "--table")
    assert run.code == 0 and run.out == locktable.render()
    text = locktable.render()
    for t in lock.committed_targets():
        label = lockgate.platforms()[t.platform].label
        row = rf"\| {re.escape(label)} \| {re.escape(t.python)} \|.*\| {t.strategy} \| {t.set_name} \|"
        assert re.search(row, text), t.name
    assert "wheels only" in text and "installed by `tests/" in text
    assert "installed by the CI workflow only" not in text


def _workflow_cells() -> list[lock.LockTarget]:
    """The locked cells only the workflow would install, as the table judges them with no run recorded."""
    verified = load("lock.toml")["verified"]
    bare = {**verified, "workflow": {**verified["workflow"], "recorded": []}}
    cells = lock.read_matrix()
    return [
        t
        for t in lock.committed_targets()
        if cells.get(t.name, {}).get("status") == "locked"
        and locktable.verified_by(t, bare) == "not yet run (workflow)"
    ]


def test_a_workflow_cell_is_not_yet_run_until_a_run_of_it_is_recorded() -> None:
    cells = _workflow_cells()
    assert cells, "the workflow covers no locked cell"
    t = cells[0]
    verified = load("lock.toml")["verified"]
    run = {"cell": t.name, "date": date(2026, 12, 7), "run": "https://github.com/o/r/actions/runs/42"}
    older = {**run, "date": date(2026, 11, 30), "run": "https://github.com/o/r/actions/runs/41"}
    other = {**run, "cell": cells[1].name}
    bare = {**verified, "workflow": {**verified["workflow"], "recorded": [other]}}
    assert locktable.verified_by(t, bare) == "not yet run (workflow)", "another cell's run is not this one's"
    ran = {**verified, "workflow": {**verified["workflow"], "recorded": [older, run, other]}}
    assert locktable.verified_by(t, ran) == (
        "installed by the workflow ([run of 2026-12-07](https://github.com/o/r/actions/runs/42))"
    )
    # A cell a test installs keeps that test's name, a recorded workflow run or not.
    tested = next(iter(verified["tests"]))
    ran["workflow"]["recorded"].append({**run, "cell": tested})
    assert (
        locktable.verified_by(lock.LockTarget.parse(tested), ran)
        == f"installed by `{verified['tests'][tested]}` (Linux x86_64)"
    )


def test_recorded_workflow_runs_name_a_workflow_cell_a_date_and_the_run() -> None:
    names = {t.name for t in _workflow_cells()}
    for entry in load("lock.toml")["verified"]["workflow"]["recorded"]:
        assert set(entry) == {"cell", "date", "run"}, entry
        assert entry["cell"] in names, f"{entry['cell']}: not a locked cell that only the workflow installs"
        assert isinstance(entry["date"], date) and not isinstance(entry["date"], datetime), entry
        assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+/actions/runs/\d+(/job/\d+)?", entry["run"]), entry


def test_table_write_into_replaces_only_the_table(tmp_path: Path) -> None:
    doc = tmp_path / "README.md"
    doc.write_text("# Title\n\nbefore\n")
    assert locktable.write_into(doc, locktable.render())
    doc.write_text(doc.read_text() + "\nafter\n")
    assert not locktable.write_into(doc, locktable.render())
    text = doc.read_text()
    assert text.startswith("# Title\n\nbefore\n") and text.endswith("\nafter\n") and text.count("lock-table:start") == 1


def test_platform_workflow_runs_fix_check_and_smoke_on_the_verified_cells() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML parses the workflow (pip install pyyaml)")
    wf_data = load("lock.toml")["verified"]["workflow"]
    path = REPO / wf_data["file"]
    doc = yaml.safe_load(path.read_text())
    jobs = doc["jobs"]
    job = next(iter(jobs.values()))
    matrix = job["strategy"]["matrix"]
    runners = {row["platform"]: row["runner"] for row in matrix["include"]}
    assert sorted(runners) == sorted(wf_data["platforms"])
    assert [str(p) for p in matrix["python"]] == wf_data["python"]
    assert set(matrix["strategy"]) == {"lite-stub", "mmpose-free"}
    run = "\n".join(str(s.get("run", "")) for s in job["steps"])
    for command in ("envdoctor fix", "envdoctor check", "envdoctor smoke --deps"):
        assert command in run, command
    uses = [str(s.get("uses", "")) for s in job["steps"]]
    setup_uv = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("astral-sh/setup-uv"))
    assert setup_uv["with"]["enable-cache"] is True and any(u.startswith("actions/checkout") for u in uses)


def test_regenerating_the_matrix_is_one_make_target() -> None:
    makefile = (REPO / "Makefile").read_text()
    block = makefile.split("\nlockfiles:", 1)[1].split("\n\n", 1)[0]
    assert "envdoctor.maint lock --jobs" in block and "envdoctor.maint lock --table README.md" in block


def test_lock_help_teaches_the_gate() -> None:
    out = subprocess.run([sys.executable, "-m", "envdoctor.maint", "lock", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "wheel gate" in out.stdout and "--platform" in out.stdout
