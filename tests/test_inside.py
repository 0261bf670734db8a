"""envdoctor.inside.run_json: the one way to run code in a target and read its JSON, and its four errors."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from envdoctor.inside import Crashed, InsideError, NoResult, NotPython, TimedOut, last_json_object, run_json

PY = sys.executable


def test_the_object_on_the_last_line_is_the_result_and_earlier_chatter_is_ignored(tmp_path: Path) -> None:
    code = "import json, os, sys; print('loading...'); print(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd()}))"
    ran = run_json(PY, ["-c", code, "a b", "c"], what="the test", cwd=tmp_path)
    assert ran.data == {"argv": ["a b", "c"], "cwd": os.path.realpath(tmp_path)}
    assert ran.returncode == 0 and ran.stdout.startswith("loading...") and ran.python == PY


def test_env_is_added_to_ours_and_stdin_reaches_the_child() -> None:
    code = (
        "import json, os, sys; print(json.dumps({'x': os.environ['X_INSIDE'], 'path': 'PATH' in os.environ, "
        "'stdin': sys.stdin.read()}))"
    )
    ran = run_json(PY, ["-c", code], what="the test", env={"X_INSIDE": "1"}, stdin="hello")
    assert ran.data == {"x": "1", "path": True, "stdin": "hello"}


def test_a_missing_interpreter_is_not_python() -> None:
    with pytest.raises(NotPython) as err:
        run_json("/nonexistent/python3", ["-c", "pass"], what="the facts probe")
    assert str(err.value) == "/nonexistent/python3 does not exist, so the facts probe cannot start"
    assert err.value.kind == "not-python"


def test_a_file_that_is_no_program_is_not_python(tmp_path: Path) -> None:
    text = tmp_path / "python"
    text.write_text("just text\n")
    text.chmod(text.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(NotPython) as err:
        run_json(text, ["-c", "pass"], what="the facts probe")
    assert f"{text} is not a program this system can run" in str(err.value)


def test_a_crash_names_the_signal_and_the_last_words() -> None:
    code = "import os, sys; sys.stderr.write('Fatal Python error: about to abort\\n'); sys.stderr.flush(); os.abort()"
    with pytest.raises(Crashed) as err:
        run_json(PY, ["-c", code], what="the unet pass")
    assert str(err.value) == f"the unet pass was killed by SIGABRT in {PY}: Fatal Python error: about to abort"
    assert err.value.returncode is not None and err.value.returncode < 0


def test_a_failing_exit_gives_the_code_and_the_error_line() -> None:
    code = "import json; raise ModuleNotFoundError(\"No module named 'torch'\")"
    with pytest.raises(Crashed) as err:
        run_json(PY, ["-c", code], what="the weights writer")
    assert str(err.value) == (
        f"the weights writer failed in {PY} (exit 1): ModuleNotFoundError: No module named 'torch'"
    )
    assert "Traceback" in err.value.stderr


def test_a_report_before_a_crash_at_exit_is_kept_unless_exit_zero_is_required() -> None:
    code = "import json, os, sys; print(json.dumps({'ok': True})); sys.stdout.flush(); os._exit(3)"
    assert run_json(PY, ["-c", code], what="the test").data == {"ok": True}
    with pytest.raises(Crashed, match=r"\(exit 3\)"):
        run_json(PY, ["-c", code], what="the test", require_exit_zero=True)


@pytest.mark.parametrize(
    ("printed", "said"),
    [
        ("print('hello')", "its last line was 'hello'"),
        ("pass", "it printed nothing"),
        ("print('[1, 2]')", "its last line is a JSON array, not an object"),
        ("print('{\"cut\": ')", "its last line was '{\"cut\":'"),
    ],
)
def test_no_json_object_says_what_came_instead(printed: str, said: str) -> None:
    with pytest.raises(NoResult) as err:
        run_json(PY, ["-c", printed], what="the facts probe")
    assert str(err.value) == f"the facts probe printed no JSON object in {PY}: {said}"
    assert isinstance(err.value, InsideError) and err.value.kind == "no-json"


def test_a_timeout_kills_the_run_and_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    started = time.monotonic()
    with pytest.raises(TimedOut) as err:
        run_json(PY, ["-c", code], what="the facts probe", timeout=3)
    assert str(err.value) == f"the facts probe did not finish within 3 s in {PY}"
    assert time.monotonic() - started < 30, "the grandchild's open pipes kept the call waiting"
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # killed with the group; the init process reaps it
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(grandchild, 9)
        pytest.fail("the grandchild outlived the timeout")


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="address-space limits are POSIX")
def test_address_space_caps_the_child() -> None:
    code = "import json; b = bytearray(1 << 31); print(json.dumps({'allocated': len(b)}))"
    with pytest.raises(Crashed, match="MemoryError"):
        run_json(PY, ["-c", code], what="the test", address_space=1 << 30)


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        ('noise\n{"a": 1}\n\n', {"a": 1}),
        ('{"a": 1}\nnoise', None),
        ("", None),
        ("[" * 100000 + "]" * 100000, None),
        ('"text"', None),
    ],
)
def test_last_json_object(stdout: str, expected: dict[str, int] | None) -> None:
    assert last_json_object(stdout) == expected
