"""`envdoctor-maint lock`: the committed lockfiles match their inputs, a changed input or a hand edit of a
body is caught, the wheel gate refuses a pin without a wheel, and a lockfile made here resolves the
way the committed ones did."""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from envdoctor import lock
from envdoctor.datafiles import load
from envdoctor.lock import registry
from envdoctor.resources import lockfiles_dir
from envdoctor.strategies.common import HELD
from envdoctor.uv import find_uv, write_config


def _locked() -> list[lock.LockTarget]:
    cells = lock.read_matrix()
    return [t for t in lock.committed_targets() if cells.get(t.name, {}).get("status") == "locked"]


def test_committed_lockfiles_match_their_inputs(maint_cli) -> None:
    results = lock.check()
    # One result per cell of the matrix: its lockfile, or the reason it was left out.
    assert len(results) == len(lock.committed_targets()) == len(lock.read_matrix())
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    assert sum("left out" not in r.message for r in results) == len(_locked()) >= 10
    run = maint_cli("lock", "--check")
    n = len(results)
    assert run.code == 0 and f"{n}/{n} lockfiles and left-out cells match" in run.out


def test_check_fails_when_an_input_changes() -> None:
    def changed(t: lock.LockTarget) -> lock.LockInputs:
        now = lock.inputs_for(t)
        return replace(now, constraints=(*now.constraints, "scipy<1.15"))

    results = lock.check(inputs_of=changed)
    assert results and not any(r.ok for r in results)
    assert all("stale" in r.message for r in results)
    assert all("constraints" in r.message for r in results if r.path.suffix == ".txt")


def _record_inputs(path: Path, inputs: lock.LockInputs) -> None:
    """Write `inputs` into a lockfile's header as `envdoctor-maint lock` does: the inputs line and the digest of it."""
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("# inputs-sha256: "):
            lines[i] = f"# inputs-sha256: {inputs.digest()}\n"
        elif line.startswith("# inputs: "):
            lines[i] = f"# inputs: {json.dumps(inputs.to_dict(), sort_keys=True)}\n"
            break
    path.write_text("".join(lines))


def test_check_cli_fails_on_a_lockfile_from_other_inputs(maint_cli, tmp_path: Path) -> None:
    # A lockfile whose header records an older requirement set (mmpose 1.3.1), sealed as `lock` seals one:
    # only its inputs differ from today's, so it is stale, not edited.
    t = lock.LockTarget.parse("lite-stub-modern-py311-cpu-linux")
    now = lock.inputs_for(t)
    older = replace(now, requirements=tuple(r.replace("mmpose==1.3.2", "mmpose==1.3.1") for r in now.requirements))
    assert older != now, "the cell's requirements no longer name mmpose==1.3.2"
    lock.copy_cell(t, lockfiles_dir(), tmp_path)
    for path in lock.paths(t, tmp_path):
        _record_inputs(path, older)
    assert lock.read_header(lock.paths(t, tmp_path)[0]).sha256 == older.digest()
    run = maint_cli("lock", "--check", "--output-dir", str(tmp_path))
    assert run.code == 1 and "stale" in run.out and "requirements" in run.out
    assert "edited" not in run.out
    # And a header edited by hand is caught too.
    txt = lock.paths(t, tmp_path)[0]
    txt.write_text(txt.read_text().replace("mmpose==1.3.1", "mmpose==1.3.2", 1))
    again = maint_cli("lock", "--check", "--output-dir", str(tmp_path))
    assert again.code == 1 and "edited" in again.out


def test_lockfiles_hold_no_torch_and_name_their_inputs() -> None:
    for t in _locked():
        txt, pylock = lock.paths(t, lockfiles_dir())
        names = {p.split("==")[0] for p in lock.pins(txt)}
        assert not names & set(HELD) and "chumpy" not in names
        assert {"mmpose", "mmcv-lite"} <= names if t.strategy == "lite-stub" else "mmpose" not in names
        head = lock.read_header(txt)
        assert head.name == t.name and head.sha256 == lock.inputs_for(t).digest()
        where = "download.pytorch.org/whl/cpu" if t.accelerator == "cpu" else "pypi.org/simple"
        assert where in txt.read_text().split("\n", 4)[2]
        assert 'lock-version = "1.0"' in pylock.read_text()
        assert lock.LockTarget.parse(t.name) == t


@pytest.mark.drift
@pytest.mark.network
def test_a_fresh_lock_reproduces_the_committed_pins(tmp_path: Path) -> None:
    """The registry today against the committed pins: a drift report (`make lock-drift`), never CI's gate,
    since a file that reaches the registry late moves a fresh resolve through no fault of a commit."""
    t = lock.LockTarget.parse("lite-stub-modern-py311-cpu-linux")
    [d] = lock.drift([t])
    assert d.same, d
    made = lock.make(t, tmp_path)
    committed = lock.paths(t, lockfiles_dir())[0]
    assert made.requirements_txt.read_text() == committed.read_text(), "exclude-newer makes it byte-identical"
    assert all(r.ok for r in lock.check(tmp_path))


def test_exclude_newer_keeps_its_margin_before_the_lock_date() -> None:
    """A moment close to the lock date lets a file that reached the registry late move a fresh resolve."""
    settings = load("lock.toml")
    locked_on = datetime.date.fromisoformat(settings["locked_on"])
    newest = datetime.datetime.fromisoformat(settings["exclude_newer"].replace("Z", "+00:00")).date()
    assert (locked_on - newest).days >= settings["margin_days"] >= 7, (locked_on, newest)
    for t in lock.committed_targets():
        path = lock.paths(t, lockfiles_dir())[0]
        if path.is_file():
            recorded = lock.read_header(path).inputs
            assert recorded is not None and recorded["exclude_newer"] == settings["exclude_newer"], t.name


def test_drift_names_each_pin_the_registry_moved(tmp_path: Path) -> None:
    """`lock --drift` offline: a fake registry answer (a committed cell with one pin moved) is reported."""
    t = lock.LockTarget.parse(CELL)
    committed = lock.paths(t, lockfiles_dir())[0]
    moved = re.sub(r"^decorator==\S+", "decorator==0.0.1", committed.read_text(), count=1, flags=re.M)

    class FreshResolve:
        def __call__(self, target: lock.LockTarget, directory: Path, **_: object) -> lock.Locked:
            txt, pylock = lock.paths(target, directory)
            txt.write_text(moved)
            pylock.write_text("")
            return lock.Locked(target, txt, pylock, 0)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "make", FreshResolve())
        [d] = lock.drift([t], lockfiles_dir(), uv=object())  # type: ignore[arg-type]
    assert not d.same and d.error is None
    assert [(name, new) for name, _old, new in d.changed] == [("decorator", "0.0.1")]


def _python312() -> str | None:
    from envkit import find_python

    return find_python("3.12")


@pytest.mark.network
def test_python_3_12_lockfile_installs_with_its_source_build(tmp_path: Path) -> None:
    """xtcocotools has no cp312 wheel: the lockfile's extra-build input lets uv build it (breaker 14)."""
    py312 = _python312()
    if py312 is None:
        from envkit import PYTHONS_HINT

        pytest.skip(f"no Python 3.12 interpreter found: {PYTHONS_HINT}")
    t = lock.LockTarget.parse("lite-stub-modern-py312-cpu-linux")
    inputs = lock.inputs_for(t)
    assert inputs.extra_build == (("xtcocotools", ("numpy<2", "cython")),)
    uv = find_uv()
    venv = tmp_path / "v312"
    uv.venv(venv, python=py312)
    txt = lock.paths(t, lockfiles_dir())[0]
    config = write_config(tmp_path, inputs.extra_build)
    # As fix installs it: --no-deps --require-hashes; the xtcocotools sdist is hashed like every wheel.
    uv.pip_install_locked(venv / "bin" / "python", txt, extra=["--config-file", str(config)])
    names = {ln.split("==")[0] for ln in uv.pip_freeze(venv / "bin" / "python")}
    assert {"xtcocotools", "mmpose", "mmcv-lite", "numpy"} <= names


# --- hand edits: `lock --check` verifies the whole body offline --------------------------------------

CELL = "lite-stub-modern-py311-cpu-linux"


def _copy(tmp_path: Path) -> tuple[lock.LockTarget, Path, Path]:
    t = lock.LockTarget.parse(CELL)
    lock.copy_cell(t, lockfiles_dir(), tmp_path)
    txt, pylock = lock.paths(t, tmp_path)
    assert lock.check(tmp_path)[0].ok, "an untouched copy passes"
    return t, txt, pylock


def _edit(path: Path, pattern: str, repl: str) -> None:
    text = path.read_text()
    new, n = re.subn(pattern, repl, text, count=1, flags=re.M)
    assert n == 1, f"{pattern} not found in {path.name}"
    path.write_text(new)


def _fails(maint_cli, tmp_path: Path, *words: str) -> str:
    [result] = lock.check(tmp_path)
    assert not result.ok
    for w in words:
        assert w in result.message, result.message
    run = maint_cli("lock", "--check", "--output-dir", str(tmp_path))
    assert run.code == 1 and "FAIL" in run.out
    return result.message


def test_check_fails_when_a_pin_is_changed(maint_cli, tmp_path: Path) -> None:
    _, txt, _ = _copy(tmp_path)
    name, version = re.search(r"^([a-z0-9_.-]+)==(\S+) \\$", txt.read_text(), re.M).groups()  # type: ignore[union-attr]
    _edit(txt, rf"^{re.escape(name)}=={re.escape(version)} ", f"{name}=={version}.post9 ")
    _fails(maint_cli, tmp_path, "edited by hand", f"{name} is {version}.post9 in the requirements file but {version}")


def test_check_fails_when_a_package_is_added(maint_cli, tmp_path: Path) -> None:
    _, txt, _ = _copy(tmp_path)
    txt.write_text(txt.read_text() + "cowsay==6.1 \\\n    --hash=sha256:" + "1" * 64 + "\n")
    _fails(maint_cli, tmp_path, "edited by hand", "cowsay is only in the requirements file")


def test_check_fails_when_a_pin_is_duplicated(maint_cli, tmp_path: Path) -> None:
    _, txt, _ = _copy(tmp_path)
    first = next(lock.pins(txt))
    txt.write_text(txt.read_text() + f"{first}.post1 \\\n    --hash=sha256:" + "1" * 64 + "\n")
    _fails(maint_cli, tmp_path, "edited by hand", "is pinned more than once")


def test_check_fails_when_a_hash_is_removed(maint_cli, tmp_path: Path) -> None:
    t, txt, pylock = _copy(tmp_path)
    # A hash of an artifact the pylock.toml installs, one that is not the pin's last (whose line ends the pin).
    installed = set(re.findall(r'sha256 = "([0-9a-f]{64})"', lock.split_body(pylock.read_text())))
    digest = next(h for h in re.findall(r"--hash=sha256:([0-9a-f]{64}) \\$", txt.read_text(), re.M) if h in installed)
    _edit(txt, rf"^    --hash=sha256:{digest} \\\n", "")
    _fails(maint_cli, tmp_path, "edited by hand", "lacks the hashes of the artifacts the pylock.toml installs")
    # Covered by a new body digest, the hash check alone still catches it.
    _reseal(t, txt, pylock)
    message = _fails(maint_cli, tmp_path, "lacks the hashes of the artifacts the pylock.toml installs")
    assert "edited by hand" not in message


def test_check_fails_when_a_marker_is_changed(maint_cli, tmp_path: Path) -> None:
    _, _, pylock = _copy(tmp_path)
    # A package the target installs now (its marker holds) gets a marker that excludes it.
    _edit(pylock, r"^marker = \"implementation_name != 'PyPy'\"$", "marker = \"python_full_version < '3.0'\"")
    _fails(maint_cli, tmp_path, "edited by hand", "is only in the requirements file")


def test_check_fails_when_a_marker_is_added_to_a_pin(maint_cli, tmp_path: Path) -> None:
    _, txt, _ = _copy(tmp_path)
    _edit(txt, r"^([a-z0-9_.-]+==\S+) \\$", r"\1 ; sys_platform == 'win32' \\")
    _fails(maint_cli, tmp_path, "edited by hand", "carries a marker")


def _reseal(t: lock.LockTarget, txt: Path, pylock: Path) -> None:
    """Recompute the body digest, as someone covering an edit would: the other checks must still hold."""
    a, b = txt.read_text(), pylock.read_text()
    digest = lock.body_digest(lock.split_body(a), lock.split_body(b))
    for path, text in ((txt, a), (pylock, b)):
        path.write_text(re.sub(r"^# body-sha256: \S+$", f"# body-sha256: {digest}", text, count=1, flags=re.M))


def test_check_fails_when_a_pin_without_a_wheel_is_added(maint_cli, tmp_path: Path) -> None:
    """antlr4-python3-runtime 4.9.3 is published as an sdist only: no wheel for any cell."""
    t, txt, pylock = _copy(tmp_path)
    digest = "41" * 32
    txt.write_text(txt.read_text() + f"antlr4-python3-runtime==4.9.3 \\\n    --hash=sha256:{digest}\n")
    pylock.write_text(
        pylock.read_text()
        + '\n[[packages]]\nname = "antlr4-python3-runtime"\nversion = "4.9.3"\n'
        + 'sdist = { url = "https://files.pythonhosted.org/packages/3e/38/antlr4-python3-runtime-4.9.3.tar.gz", '
        + f'hashes = {{ sha256 = "{digest}" }} }}\n'
    )
    message = _fails(maint_cli, tmp_path, "edited by hand", "wheel gate", "antlr4-python3-runtime==4.9.3")
    assert "no wheel for cp311 on Linux x86_64" in message
    _reseal(t, txt, pylock)
    message = _fails(maint_cli, tmp_path, "wheel gate", "antlr4-python3-runtime==4.9.3")
    assert "edited by hand" not in message, "the gate alone catches it"


def test_check_fails_when_a_named_source_build_is_dropped_from_the_header(tmp_path: Path) -> None:
    t = next((t for t in _locked() if lock.read_matrix()[t.name].get("builds")), None)
    if t is None:
        pytest.skip("no committed lockfile builds a package from source")
    lock.copy_cell(t, lockfiles_dir(), tmp_path)
    txt, pylock = lock.paths(t, tmp_path)
    for p in (txt, pylock):
        _edit(p, r"^# source build: .*\n", "")
    [result] = lock.check(tmp_path)
    assert not result.ok and "header" in result.message  # the header no longer hashes or names the build


def test_left_out_cells_name_the_package_and_are_current() -> None:
    cells = lock.read_matrix()
    left = {k: v for k, v in cells.items() if v["status"] != "locked"}
    for name, entry in left.items():
        assert not lock.paths(lock.LockTarget.parse(name), lockfiles_dir())[0].exists()
        assert re.search(r"[a-z0-9_.-]+==\S+", str(entry["reason"])), entry
    assert all(r.ok for r in lock.check() if "left out" in r.message)


# --- the wheel gate before anything is written -------------------------------------------------------------


@pytest.mark.network
def test_lock_refuses_a_pin_without_a_wheel_for_its_target(tmp_path: Path) -> None:
    """munkres 3.0.0 is compiled and publishes no Linux aarch64 wheel: lock names it and writes nothing."""
    t = lock.LockTarget("mmpose-free", "modern", "3.11", "cpu", "linux-aarch64")
    now = lock.inputs_for(t)
    with pytest.raises(lock.LockRefused) as info:
        lock.make(t, tmp_path, inputs=replace(now, requirements=(*now.requirements, "munkres==3.0.0")))
    assert "munkres==3.0.0" in str(info.value) and "cp311 on Linux aarch64" in str(info.value)
    assert info.value.gate.missing == ("munkres==3.0.0",)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.network
def test_lock_cli_refuses_a_left_out_cell(maint_cli, tmp_path: Path) -> None:
    left = [k for k, v in lock.read_matrix().items() if v["status"] == "refused"]
    if not left:
        pytest.skip("every cell of the matrix passes the gate")
    t = lock.LockTarget.parse(left[0])
    run = maint_cli(
        "lock", "--strategy", t.strategy, "--set", t.set_name, "--python-version", t.python,
        "--accelerator", t.accelerator, "--platform", t.platform, "--output-dir", str(tmp_path),
    )  # fmt: skip
    assert run.code == 1 and "REFUSED" in run.out and "no wheel for" in run.out
    assert not list(tmp_path.glob("*.txt"))


@pytest.mark.slow
@pytest.mark.drift
@pytest.mark.network
def test_every_locked_cell_reproduces_from_pypi(tmp_path: Path) -> None:
    """The whole matrix, resolved again: the same bytes as committed (exclude-newer pins PyPI's state)."""
    targets = _locked()
    results = lock.make_all(targets, tmp_path, jobs=3)
    for outcome in results:
        t = outcome.target
        assert isinstance(outcome, lock.Locked), f"{t.name}: {outcome}"
        for made, committed in zip(lock.paths(t, tmp_path), lock.paths(t, lockfiles_dir()), strict=True):
            assert made.read_text() == committed.read_text(), made.name
