"""envdoctor.process: the one layer that starts children, with real processes."""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from pathlib import Path

import pytest

from envdoctor import process
from envdoctor.inside import run_json

PACKAGE = Path(process.__file__).resolve().parent
LAYER = {PACKAGE / "process.py"}
# What only the process layer may touch: the OS's process-group and descriptor machinery.
FORBIDDEN_NAMES = {"pass_fds", "start_new_session", "killpg", "select", "selectors"}


def _uses(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in FORBIDDEN_NAMES:
            found.add(node.arg)
        elif isinstance(node, ast.Attribute) and node.attr in {"killpg", "pass_fds", "start_new_session"}:
            found.add(node.attr)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "select":
            found.add("select")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found |= {m for m in mods if m in ("select", "selectors")}
            if isinstance(node, ast.ImportFrom) and node.module == "os":
                found |= {a.name for a in node.names if a.name == "killpg"}
    return found


def test_no_module_outside_the_process_layer_touches_groups_descriptors_or_select() -> None:
    offenders = {
        str(path.relative_to(PACKAGE.parent)): sorted(used)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in LAYER and (used := _uses(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert offenders == {}


def test_the_scan_sees_what_it_looks_for() -> None:
    code = "import os, select\nos.killpg(1, 9)\nselect.select([], [], [], 0)\nf(pass_fds=(3,), start_new_session=1)\n"
    assert _uses(ast.parse(code)) == {"killpg", "select", "pass_fds", "start_new_session"}


_SHOW = (
    "import json, os, sys; "
    "print(json.dumps({'path': sys.path, 'env': sorted(k for k in os.environ if k.startswith('PYTHON'))}))"
)


def test_pythonpath_is_not_passed_on_and_its_removal_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "not_in_the_target.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    monkeypatch.setenv("PYTHONSTARTUP", str(tmp_path / "startup.py"))
    ran = run_json(sys.executable, ["-c", _SHOW], what="the sys.path check")
    assert str(shadow) not in ran.data["path"]
    assert "PYTHONPATH" not in ran.data["env"] and "PYTHONSTARTUP" not in ran.data["env"]
    assert {"PYTHONPATH", "PYTHONSTARTUP"} <= set(ran.removed_env)
    assert {"PYTHONPATH", "PYTHONSTARTUP"} <= set(process.removed_from_env())
    # A module only the shell's PYTHONPATH provides does not import in the child.
    done = process.run([sys.executable, "-c", "import not_in_the_target"], timeout=60)
    assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr
    assert "PYTHONPATH" in done.removed_env
    assert any(r.argv == done.argv and "PYTHONPATH" in r.removed_env for r in process.history())


def test_a_variable_the_caller_passes_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/from/the/shell")
    ran = process.run(
        [sys.executable, "-c", "import os; print(os.environ['PYTHONPATH'])"],
        env={"PYTHONPATH": str(tmp_path)},
        timeout=60,
    )
    assert ran.stdout.strip() == str(tmp_path)
    assert ran.removed_env == ()


_TREE = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[1], "w").write(f"{os.getpid()} {child.pid}")
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    if os.name == "nt":
        import subprocess

        out = subprocess.run(["tasklist", "/FI", f"PID eq {pid}"], capture_output=True, text=True).stdout
        return str(pid) in out
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")  # a zombie has stopped; only its parent's wait is missing
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _gone_soon(pid: int, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("grace", [0.0, 2.0], ids=["kill", "term-then-kill"])
def test_a_deadline_stops_the_child_and_its_grandchild(tmp_path: Path, grace: float) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    with pytest.raises(process.TimeoutExpired):
        process.run([sys.executable, "-c", _TREE, str(pids)], timeout=3, grace=grace)
    assert time.monotonic() - started < 30
    parent, grandchild = (int(x) for x in pids.read_text().split())
    assert _gone_soon(parent) and _gone_soon(grandchild)
    last = process.history()[-1]
    assert last.timed_out and last.argv[-1] == str(pids)


def test_the_command_log_records_a_command_and_its_duration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "commands.log"
    monkeypatch.setenv("ENVDOCTOR_LOG", str(log))
    ran = process.run([sys.executable, "-c", "import time; time.sleep(0.3); print('hi')"], timeout=60)
    assert ran.stdout == "hi\n" and ran.seconds >= 0.3
    last = process.history()[-1]
    assert last.argv == ran.argv and last.returncode == 0 and last.seconds >= 0.3
    line = log.read_text(encoding="utf-8").splitlines()[-1]
    assert line.startswith("[envdoctor] ") and " s, exit 0: " in line and "time.sleep(0.3)" in line
    assert float(line.split()[1]) >= 0.3


def test_verbose_logs_to_stderr(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENVDOCTOR_LOG", raising=False)
    process.run([sys.executable, "-c", "pass"], timeout=60)
    assert "[envdoctor]" not in capsys.readouterr().err
    monkeypatch.setenv("ENVDOCTOR_LOG", "1")
    process.run([sys.executable, "-c", "raise SystemExit(3)"], timeout=60)
    assert "exit 3: " in capsys.readouterr().err


def test_the_cli_verbose_flag_logs_the_probes(cli) -> None:
    run = cli("--verbose", "check", "--python", sys.executable, "--only", "system", "--json")
    assert "[envdoctor] " in run.err and sys.executable in run.err
    assert json.loads(run.out)["schema"] == "envdoctor.check"
    assert process.history()[-1].seconds >= 0


def test_capture_keeps_the_start_and_the_end_of_a_flood() -> None:
    code = "import sys; sys.stdout.write('A' * 1000 + 'B' * 100000 + 'C' * 1000)"
    ran = process.run([sys.executable, "-c", code], timeout=60, limit=4000)
    assert ran.stdout.startswith("A" * 1000) and ran.stdout.endswith("C" * 1000)
    assert "bytes left out" in ran.stdout and len(ran.stdout) < 5000


def test_a_line_observer_sees_each_line_as_it_comes_while_everything_is_still_captured() -> None:
    # Lines written in pieces, over both streams, one without its end: the observer gets whole lines
    # only (a line's end may come in a later chunk), each line once, and the capture is unchanged.
    code = (
        "import sys, time\n"
        "sys.stdout.write('[1/2] one'); sys.stdout.flush(); time.sleep(0.2)\n"
        "sys.stdout.write(' half\\n'); sys.stdout.flush()\n"
        "sys.stderr.write('[2/2] two\\r\\ntail without end'); sys.stderr.flush()\n"
    )
    seen: list[str] = []
    child = process.Child([sys.executable, "-c", code], stdout=process.PIPE, stderr=process.PIPE)
    out, err = child.communicate(timeout=60, on_line=seen.append)
    assert sorted(seen) == ["[1/2] one half", "[2/2] two"]
    assert out == b"[1/2] one half\n" and err == b"[2/2] two\r\ntail without end"


def test_an_observer_that_raises_is_dropped_and_the_capture_goes_on() -> None:
    calls: list[str] = []

    def broken(line: str) -> None:
        calls.append(line)
        raise ValueError("an observer's bug")

    code = "print('a'); print('b'); print('c')"
    child = process.Child([sys.executable, "-c", code], stdout=process.PIPE)
    out, _ = child.communicate(timeout=60, on_line=broken)
    assert calls == ["a"] and out.split() == [b"a", b"b", b"c"]


def test_a_reader_waits_with_a_deadline_and_sees_the_end() -> None:
    child = process.Child(
        [sys.executable, "-c", "import sys, time; print('one', flush=True); time.sleep(2)"],
        stdout=process.PIPE,
    )
    assert child.popen.stdout is not None
    reader = process.Reader(child.popen.stdout)
    got = b""
    while b"\n" not in got:
        piece = reader.read(30)
        assert piece is not None
        got += piece
    assert got.strip() == b"one"
    with pytest.raises(TimeoutError):
        reader.read(0.2)
    assert reader.read(30) is None
    assert child.wait() == 0
    reader.close()


def test_check_says_which_variables_it_kept_from_the_target(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/from/the/shell")
    run = cli("check", "--python", sys.executable, "--only", "system")
    assert "not passed on to the target, as they change what it imports: PYTHONPATH" in run.out
    run = cli("check", "--python", sys.executable, "--only", "system", "--json")
    assert any("PYTHONPATH" in n for n in json.loads(run.out)["notes"])
