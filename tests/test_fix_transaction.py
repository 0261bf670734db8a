"""`fix` as a transaction on small real venvs (no torch): interrupted, killed, failed or run twice, it
never leaves the environment half-changed.

The env holds tinyext (a C extension compiled here with cc, with a token baked into the binary) and
purepkg; the driver's plan uninstalls both, then installs slowpkg from a loopback index that sends it
slowly, so "in the middle of a uv install" is a moment the test waits for. "The same files" means: the
same .dist-info folders and every file their RECORDs list with the same sha256 as before.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from envkit import python_of, suite_python
from txenv import build_ext_wheel, driver, files_state, make_env, pure_wheel, slow_index, token_of

from envdoctor import apply as apply_mod
from envdoctor import plan as plan_mod
from envdoctor import target as target_mod
from envdoctor.envstate.guard import locked
from envdoctor.envstate.journal import path_of
from envdoctor.sources import Sources
from envdoctor.steps import Install, Uninstall, Verify
from envdoctor.uv import Indexes, find_uv

# Real environments, built with uv and run: the outer ring, left out of `make test-fast`.
pytestmark = pytest.mark.envs


@dataclass(frozen=True)
class Wheels:
    ext: Path
    pure: Path
    slow: Path
    token: str


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    root = tmp_path_factory.mktemp("tx-wheels")
    find_uv().venv(root / "probe", python=suite_python())
    token = f"built-here-{uuid.uuid4().hex[:12]}"
    return Wheels(
        ext=build_ext_wheel(python_of(root / "probe"), root, token),
        pure=pure_wheel(root, "purepkg", "1.0"),
        # ~40 KB at 256 bytes per 0.2 s: half a minute of download, cut by every test long before.
        slow=pure_wheel(root, "slowpkg", "1.0", padding=40_000),
        token=token,
    )


@pytest.fixture
def env(wheels: Wheels, tmp_path: Path) -> Iterator[Path]:
    e = make_env(tmp_path, wheels.ext, [wheels.pure])
    assert token_of(e) == wheels.token
    yield e


def _read_until(proc: subprocess.Popen[str], marker: str, seen: list[str], timeout: float = 120) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("the driver ended before " + repr(marker) + ":\n" + "".join(seen))
        seen.append(line)
        if line.startswith(marker):
            return
    raise AssertionError(f"no {marker!r} within {timeout} s:\n" + "".join(seen))


def _uv_left_running(env: Path) -> list[str]:
    """Processes still working on `env` (Linux: read from /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(env) in text and "pip" in text and "tx_driver" not in text:
            found.append(text)
    return found


def _signal_at(env: Path, wheels: Wheels, sig: int, moment: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start the driver and send `sig` at `moment`: a progress line's start, or "mid-install"."""
    seen: list[str] = []
    with slow_index(wheels.slow) as (url, started):
        proc = driver(env, url)
        if moment == "mid-install":
            _read_until(proc, "[3/3]", seen)
            assert started.wait(60), "uv began downloading slowpkg"
            time.sleep(0.5)
        else:
            _read_until(proc, moment, seen)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=120)
    seen.append(out)
    return proc, seen


MOMENTS = ("snapshot:", "[2/3]", "[3/3]", "mid-install")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals and /proc as on Linux")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("moment", MOMENTS)
def test_interrupted_fix_rolls_back_to_the_same_files(env: Path, wheels: Wheels, sig: int, moment: str) -> None:
    before = files_state(env)
    proc, seen = _signal_at(env, wheels, sig, moment)
    text = "".join(seen)
    assert proc.returncode == 1, text
    assert f"interrupted by {signal.Signals(sig).name}" in text, text
    assert '"restored": true' in text and "restored exactly" in text, text
    assert files_state(env) == before
    assert token_of(env) == wheels.token, "the compiled extension is the one built here"
    assert not path_of(env).exists(), "a finished rollback leaves no journal"
    time.sleep(0.5)
    assert _uv_left_running(env) == [], "uv's process group was stopped"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals and /proc as on Linux")
@pytest.mark.parametrize("moment", ["[2/3]", "mid-install"])
def test_killed_fix_is_named_by_every_command_and_rolled_back(cli, env: Path, wheels: Wheels, moment: str) -> None:
    before = files_state(env)
    proc, _seen = _signal_at(env, wheels, signal.SIGKILL, moment)
    assert proc.returncode == -signal.SIGKILL
    time.sleep(0.5)
    assert _uv_left_running(env) == [], "uv died with envdoctor, it did not go on installing alone"
    assert files_state(env) != before, "the kill left the environment half-changed"

    check = cli("check", "--venv", str(env), "--json")
    unfinished = [r for r in check.json()["results"] if r["id"] == "system.unfinished-fix"]
    assert unfinished and unfinished[0]["status"] == "fail", check.out[-2000:]
    assert "unfinished fix (test" in unfinished[0]["found"] and "fix --rollback" in unfinished[0]["fix"]
    assert check.code == 1
    plan = cli("plan", "--venv", str(env))
    assert "unfinished fix" in plan.err
    stub = cli("stub", "status", "--venv", str(env))
    assert "unfinished fix" in stub.err
    refused = cli("fix", "--venv", str(env), "--yes")
    assert refused.code == 1 and "unfinished fix" in refused.err and "--rollback" in refused.err

    run = cli("fix", "--venv", str(env), "--rollback")
    assert run.code == 0, run.out + run.err
    assert "restored exactly" in run.out and "every RECORD hash verified" in run.out
    assert files_state(env) == before
    assert token_of(env) == wheels.token
    again = cli("check", "--venv", str(env), "--json")
    assert [r["status"] for r in again.json()["results"] if r["id"] == "system.unfinished-fix"] == ["ok"]


def test_failed_fix_keeps_a_compiled_extension_byte_identical(env: Path, wheels: Wheels, tmp_path: Path) -> None:
    """The index is dead, so nothing could rebuild tinyext: only its kept files can bring it back."""
    before = files_state(env)
    so = [p for p in before if "_tinyext" in p]
    assert so and so[0].endswith(".so")
    target = target_mod.resolve(venv=str(env))
    plan = plan_mod.make(target)
    steps = (
        Uninstall(summary="uninstall tinyext and purepkg", packages=("tinyext", "purepkg")),
        Install(summary="install tinyext again", packages=("tinyext==1.0",)),
        Verify(summary="check"),
    )
    dead = Sources(indexes=Indexes(index_url="http://127.0.0.1:9/simple"))
    plan = replace(plan, steps=steps, chosen="test", refusal=None, sources=dead)
    result = apply_mod.apply(plan, cache=tmp_path / "cache")
    assert not result.ok and result.rolled_back and result.restored is True, result.message
    assert "step 2 of 2 (install) failed" in result.message
    assert "put back 2 distribution(s)" in result.message and "every RECORD hash verified" in result.message
    assert files_state(env) == before
    assert token_of(env) == wheels.token
    assert not path_of(env).exists() and not (env / ".envdoctor" / "keep").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals as on Linux")
def test_two_fixes_on_one_env_one_waits_or_refuses(env: Path, wheels: Wheels) -> None:
    before = files_state(env)
    seen: list[str] = []
    with slow_index(wheels.slow) as (url, _started):
        first = driver(env, url)
        _read_until(first, "[3/3]", seen)  # the first holds the lock, mid-way through its plan

        refused = driver(env, url, "--quick", "--no-wait")
        out, _ = refused.communicate(timeout=120)
        assert refused.returncode == 2, out
        assert "is changing" in out and "--no-wait" in out and "pid" in out

        waiting = driver(env, url, "--quick")
        waited: list[str] = []
        _read_until(waiting, "waiting:", waited)
        first.send_signal(signal.SIGTERM)
        first_out, _ = first.communicate(timeout=120)
        assert "restored exactly" in first_out, first_out
        rest, _ = waiting.communicate(timeout=120)
    text = "".join(waited) + rest
    assert waiting.returncode == 0, text
    assert '"ok": true' in text
    # The second ran on the first's restored state: everything as before, less purepkg.
    after = files_state(env)
    assert {p: h for p, h in before.items() if "purepkg" not in p} == after
    assert token_of(env) == wheels.token


def test_fix_and_stub_refuse_with_no_wait_while_the_lock_is_held(cli, env: Path) -> None:
    with locked(env, "fix"):
        run = cli("fix", "--venv", str(env), "--yes", "--no-wait")
        assert run.code == 1 and "envdoctor: envdoctor fix (pid" in run.err and "not waiting" in run.err, run.err
        for action in ("install", "remove"):
            run = cli("stub", action, "--venv", str(env), "--no-wait")
            assert run.code == 1 and "envdoctor fix (pid" in run.err and "is changing" in run.err, run.err
    # Free again: the command gets past the lock to its own one-sentence answer (no mmcv here).
    run = cli("stub", "install", "--venv", str(env), "--no-wait")
    assert "is changing" not in run.err


def test_restore_removes_what_an_install_cut_short_left(env: Path, tmp_path: Path) -> None:
    """uv killed between linking a package and writing its RECORD leaves a .dist-info that `uv pip freeze`
    lists but no RECORD describes, and half a package folder: the restore removes both, and only those."""
    from envdoctor.apply import keep as keep_mod

    before = files_state(env)
    freeze = find_uv().pip_freeze(python_of(env))
    target = target_mod.resolve(venv=str(env))
    kept = keep_mod.keep(target, tmp_path / "keep")
    site = Path(kept.dirs[0])
    (site / "halfpkg-1.0.dist-info").mkdir()
    (site / "halfpkg-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: halfpkg\nVersion: 1.0\n")
    (site / "halfpkg").mkdir()
    (site / "halfpkg" / "__init__.py").write_text("")
    assert "halfpkg==1.0" in find_uv().pip_freeze(python_of(env)), "uv lists the half-installed package"

    done = keep_mod.restore(kept, find_uv(), python_of(env))
    assert done.exact, done.note
    assert "removed halfpkg, halfpkg-1.0.dist-info" in done.note
    assert find_uv().pip_freeze(python_of(env)) == freeze
    assert files_state(env) == before


@pytest.mark.parametrize("record", ["", "partpkg-1.0.dist-info/METADATA,,\n"], ids=["empty", "cut-short"])
def test_restore_removes_a_package_whose_record_was_cut_short(env: Path, tmp_path: Path, record: str) -> None:
    """uv killed while writing a RECORD: the .dist-info has one, but it lists little or nothing. `uv pip
    uninstall` goes by it, so the dist-info and the package stay; freeze still lists the package. Seen in
    the kill sweep (audioread 3.1.0 left behind): the restore removes all that the snapshot did not hold."""
    from envdoctor.apply import keep as keep_mod

    before = files_state(env)
    freeze = find_uv().pip_freeze(python_of(env))
    kept = keep_mod.keep(target_mod.resolve(venv=str(env)), tmp_path / "keep")
    site = Path(kept.dirs[0])
    info = site / "partpkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: partpkg\nVersion: 1.0\n")
    (info / "RECORD").write_text(record)
    (site / "partpkg").mkdir()
    (site / "partpkg" / "__init__.py").write_text("")

    done = keep_mod.restore(kept, find_uv(), python_of(env))
    assert done.exact, done.note
    assert find_uv().pip_freeze(python_of(env)) == freeze, done.note
    assert files_state(env) == before


def test_a_long_steps_ticker_says_what_the_step_reports_of_its_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.apply import transaction
    from envdoctor.apply.handlers import StepStatus

    monkeypatch.setattr(transaction, "TICK_SECONDS", 0.05)
    said: list[str] = []
    status = StepStatus()
    stop = transaction._ticker(said.append, "build-mmcv", status)
    deadline = time.monotonic() + 30
    while not said and time.monotonic() < deadline:
        time.sleep(0.01)
    status.set("37/136 objects compiled")
    while not any("objects" in s for s in said) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop()
    assert said[0].startswith("   ... build-mmcv: ") and said[0].endswith(" s"), said[0]
    assert said[-1].endswith(" s, 37/136 objects compiled"), said[-1]
