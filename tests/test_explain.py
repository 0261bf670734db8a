"""`envdoctor explain`: linear-time matching on huge inputs, the command line, the target's facts, and the
same explanation from `check` as from `explain`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from envkit import build_env

from envdoctor import checkrun
from envdoctor.catalog import breakers
from envdoctor.checks import Status
from envdoctor.cli import main
from envdoctor.explain import _LINE_PREFIX, ROOT, SECONDARY, SHOWN, WARNING, explain_text, normalise
from envdoctor.target import resolve

if sys.version_info >= (3, 11):
    from re import _constants as sre_constants
    from re import _parser as sre_parse
else:  # pragma: no cover - Python 3.10
    import sre_constants
    import sre_parse

UNBOUNDED = sre_constants.MAXREPEAT
REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}


def _children(op, av):
    if op in REPEATS:
        return [av[2]]
    if op is sre_constants.SUBPATTERN:
        return [av[-1]]
    if op is sre_constants.BRANCH:
        return list(av[1])
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [av[1]]
    return []


def unbounded(pattern: str) -> bool:
    """Whether a quantifier has no upper bound: with every one bounded, a search is linear in the text."""

    def walk(sub) -> bool:
        for op, av in sub:
            if op in REPEATS and av[1] == UNBOUNDED:
                return True
            if any(walk(c) for c in _children(op, av)):
                return True
        return False

    return walk(sre_parse.parse(pattern))


def test_the_check_catches_the_old_quadratic_symptom() -> None:
    # the catalog's old `(\w+) miss in module _ext` took 45 s on a 100 KB line of word characters
    assert unbounded(r"(\w+) miss in module _ext")
    assert unbounded(r"(?s)chumpy.*No module named 'pip'")
    assert unbounded(r"(a+)+b")
    assert not unbounded(r"\b\w{1,80} miss in module _ext")


@pytest.mark.parametrize("b", breakers(), ids=lambda b: b.key)
def test_every_symptom_runs_in_linear_time(b) -> None:
    for p in (*b.symptoms, *b.near):
        assert not unbounded(p.pattern), p.pattern


def test_a_1mb_line() -> None:
    noise = "abc_def " * (1_000_000 // 8)
    text = noise + "AssertionError: ball_query_forward miss in module _ext " + noise + "\n"
    result = explain_text(text)
    assert [f.key for f in result.findings] == ["partial-ext-stub"]
    root = result.root
    assert root is not None
    assert "ball_query_forward miss in module _ext" in root.line and len(root.line) <= SHOWN + 6
    assert "ball_query_forward" in root.cause
    # the same line with nothing known in it: the line itself is shown, cut to size
    plain = explain_text(noise + "RuntimeError: boom\n")
    assert not plain.recognised and plain.root_line is not None and len(plain.root_line.text) <= SHOWN + 6


def test_a_50mb_ci_log() -> None:
    chunk = "".join(
        f"  Downloading https://files.example/pkg{i}-1.0-py3-none-any.whl (18.2 MB)\n"
        f"Requirement already satisfied: torch in ./lib/python3.11/site-packages (2.1.0)\n"
        f"      copying mmcv/ops/csrc/pytorch/roi_align.cpp -> build/lib/mmcv/ops  error: none\n"
        for i in range(200)
    )
    repeat = 50_000_000 // len(chunk) // 2 + 1
    head, tail = chunk * repeat, chunk * repeat
    failure = (
        "Traceback (most recent call last):\n"
        '  File "/venv/lib/python3.11/site-packages/mmcv/utils/ext_loader.py", line 13, in load_ext\n'
        "ModuleNotFoundError: No module named 'mmcv._ext'\n"
    )
    oom = "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 58.00 MiB\n"
    text = head + failure + tail + oom
    assert len(text) > 50_000_000
    result = explain_text(text)
    assert [f.key for f in result.findings] == ["ext-missing", "gpu-oom"]
    assert result.root is not None and result.root.line_number == head.count("\n") + 3
    assert not result.findings[1].environment


def test_cascade_is_dropped_and_independent_failures_kept() -> None:
    text = (
        "A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.1 as it may crash.\n"
        "    import torch\nRuntimeError: Numpy is not available\n"
        "ImportError: cannot import name 'cached_download' from 'huggingface_hub'\n"
    )
    # no traceback: the last line that names an exception ended the run and comes first
    assert [f.key for f in explain_text(text).findings] == ["hub-cached-download", "numpy-torch"]


def test_cli_explains_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "build log.txt"
    log.write_text(
        "  Getting requirements to build wheel ... error\n      chumpy\n"
        "      ModuleNotFoundError: No module named 'pip'\n"
    )
    assert main(["explain", str(log)]) == 0
    out = capsys.readouterr().out
    assert "chumpy does not build" in out and "--no-build-isolation" in out and "line 3" in out


def test_cli_json_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "t.txt"
    log.write_text(
        "cv2.error: OpenCV(4.9.0) resize.cpp:4152: error: (-215:Assertion failed) !ssize.empty() in function 'resize'\n"
    )
    assert main(["explain", str(log), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "envdoctor.explain" and doc["schema_version"] == 1
    assert doc["recognised"] is True and doc["exit_code"] == 0 and doc["target"] is None
    (f,) = doc["findings"]
    assert f["key"] == "empty-face-crop" and f["kind"] == "not-environment" and f["line_number"] == 1
    assert doc["root"] == f


def test_cli_nothing_recognised_shows_the_root_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "t.txt"
    log.write_text(
        'starting\nTraceback (most recent call last):\n  File "x.py", line 3, in <module>\n'
        "    main()\nZeroDivisionError: division by zero\nDuring handling...\nValueError: later\n"
    )
    assert main(["explain", str(log)]) == 1
    out = capsys.readouterr().out
    assert "nothing in" in out and "(line 5)" in out and "ZeroDivisionError: division by zero" in out


@pytest.mark.parametrize("arg", ["missing.log", "."])
def test_cli_bad_input_is_exit_2(
    arg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["explain", arg]) == 2
    err = capsys.readouterr().err
    assert err.startswith("envdoctor: ") and err.count("\n") == 1


@pytest.fixture(scope="module")
def numpy2_xtcocotools() -> Path:
    return build_env("xtcocotools-numpy2", ["xtcocotools==1.14.3", "numpy>=2"])


@pytest.mark.network
def test_venv_fills_in_the_targets_versions(
    numpy2_xtcocotools: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "t.txt"
    log.write_text(
        '  File "/somewhere/lib/python3.10/site-packages/xtcocotools/coco.py", line 58, in <module>\n'
        '  File "xtcocotools/_mask.pyx", line 1, in init xtcocotools._mask\n'
        "ValueError: numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, "
        "got 88 from PyObject\n"
    )
    assert main(["explain", str(log), "--venv", str(numpy2_xtcocotools), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    here = doc["root"]["here"]
    assert doc["root"]["key"] == "numpy-abi" and doc["target"]["python"]
    assert here.startswith("xtcocotools 1.14.3 here is a compiled wheel") and " numpy 2." in here
    # without a target there are no facts to state
    assert main(["explain", str(log), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["root"]["here"] is None


@pytest.mark.network
def test_check_carries_the_explanation_explain_gives(numpy2_xtcocotools: Path) -> None:
    report = checkrun.run(resolve(venv=str(numpy2_xtcocotools)), only=["imports"])
    r = next(r for r in report.results if r.title == "import xtcocotools.coco")
    imported = report.facts.import_result("xtcocotools.coco")
    assert imported is not None
    symptom = imported.symptom
    root = explain_text(symptom).root
    assert r.status is Status.FAIL and root is not None
    assert (r.breaker, r.fix) == (root.breaker, root.fix) and r.why.startswith(root.cause)


# --- the root failure first, warnings never the cause, pasted forms read alike ---------------------------------

FFMPEG_NOTICE = (
    "please download ffmpeg-static and export to FFMPEG_PATH.\n"
    "For example: export FFMPEG_PATH=/musetalk/ffmpeg-4.4-amd64-static\n"
)


def _traceback(exception: str, frame: str = "/venv/lib/python3.10/site-packages/mmpose/apis/inference.py") -> str:
    return f'Traceback (most recent call last):\n  File "{frame}", line 110, in init_model\n    x = f()\n{exception}\n'


def test_a_warning_is_reported_as_one_and_the_traceback_names_the_root() -> None:
    text = FFMPEG_NOTICE + _traceback("ModuleNotFoundError: No module named 'mmcv._ext'")
    result = explain_text(text)
    assert result.root is not None and result.root.key == "ext-missing" and result.root.role == ROOT
    assert [(f.key, f.role) for f in result.findings] == [("ext-missing", ROOT), ("ffmpeg-path-unset", WARNING)]
    assert [f.key for f in result.warnings] == ["ffmpeg-path-unset"] and result.root_line is None


def test_a_warning_alone_is_no_answer() -> None:
    result = explain_text("loading\n" + FFMPEG_NOTICE + "cuda start\n")
    assert result.root is None and not result.recognised
    assert [f.key for f in result.warnings] == ["ffmpeg-path-unset"] and result.root_line is not None


def test_an_exception_no_entry_knows_makes_the_root_unknown_and_is_quoted() -> None:
    # the notice and an earlier, unrelated failure do not stand in for the exception that ended the run
    text = (
        FFMPEG_NOTICE
        + "ImportError: cannot import name 'cached_download' from 'huggingface_hub'\n"
        + "starting\n"
        + _traceback("KeyError: 'avatar_id'")
    )
    result = explain_text(text)
    assert result.root is None and not result.recognised
    assert result.root_line is not None
    assert result.root_line.text == "KeyError: 'avatar_id'" and result.root_line.line_number == 8
    assert [(f.key, f.role) for f in result.findings] == [
        ("ffmpeg-path-unset", WARNING),
        ("hub-cached-download", SECONDARY),
    ]


def test_the_failure_that_ended_the_run_comes_before_earlier_ones() -> None:
    text = (
        "ImportError: cannot import name 'cached_download' from 'huggingface_hub'\n"
        + "carrying on without it\n"
        + _traceback("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 58.00 MiB")
    )
    result = explain_text(text)
    assert [(f.key, f.role, f.line_number) for f in result.findings] == [
        ("gpu-oom", ROOT, 6),
        ("hub-cached-download", SECONDARY, 1),
    ]


def test_a_chained_traceback_is_explained_by_its_original_exception() -> None:
    text = (
        _traceback(
            "FileNotFoundError: [Errno 2] No such file or directory: 'ffmpeg'", "/usr/lib/python3.10/subprocess.py"
        )
        + "\nDuring handling of the above exception, another exception occurred:\n\n"
        + _traceback(
            "gradio.exceptions.Error: 'the video could not be written'", "/venv/site-packages/gradio/routes.py"
        )
    )
    root = explain_text(text).root
    assert root is not None and root.key == "ffmpeg-missing"


def test_a_build_summary_after_the_traceback_still_counts() -> None:
    # pip goes on after the backend's traceback: the failed build it reports is the answer
    text = (
        "  Building wheel for mmcv (setup.py) ... error\n"
        + _traceback("SomeBackendError: compiler said no", "setup.py")
        + "      [end of output]\n\n"
        + "  note: This error originates from a subprocess, and is likely not a problem with pip.\n"
        + "  ERROR: Failed building wheel for mmcv\n"
    )
    result = explain_text(text)
    assert result.root is not None and result.root.key == "mmcv-build" and result.root.line_number == 9, result


def test_pasted_forms_are_read_alike() -> None:
    plain = (
        FFMPEG_NOTICE
        + "ImportError: cannot import name 'cached_download' from 'huggingface_hub'\n"
        + _traceback("ModuleNotFoundError: No module named 'mmcv._ext'", "C:\\venv\\Lib\\site-packages\\mmcv\\utils.py")
    )
    lines = plain.splitlines()
    ci = "".join(f"2024-05-01T12:00:00.1234567Z {line}\r\n" for line in lines)
    quoted = "".join(f"> {line}\n" for line in lines)
    for text in (plain, ci, quoted):
        result = explain_text(text)
        assert [(f.key, f.role, f.line_number) for f in result.findings] == [
            ("ext-missing", ROOT, 7),
            ("ffmpeg-path-unset", WARNING, 1),
            ("hub-cached-download", SECONDARY, 3),
        ], text
    assert normalise(ci) == normalise(quoted) == normalise(plain).replace("C:/venv/Lib", "C:/venv/Lib")
    assert normalise("a\r\nC:\\\\Users\\\\me\\\\x.pth\r\n") == "a\nC:/Users/me/x.pth\n"


def test_the_line_prefix_pattern_is_linear() -> None:
    assert not unbounded(_LINE_PREFIX.pattern)


def test_cli_says_the_root_is_unknown_and_lists_the_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "t.txt"
    log.write_text(FFMPEG_NOTICE + _traceback("KeyError: 'avatar_id'"))
    assert main(["explain", str(log)]) == 1
    out = capsys.readouterr().out
    assert "is unknown" in out and "KeyError: 'avatar_id'" in out and "(line 6)" in out
    assert "warning, not the cause" in out and "ffmpeg is not installed" not in out
    assert main(["explain", str(log), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["root"] is None and doc["recognised"] is False and doc["root_line"]["line_number"] == 6
    assert [f["role"] for f in doc["findings"]] == ["warning"]


def test_an_exception_repeated_above_its_traceback_is_still_the_root():
    """The import check's report puts the exception line first, then the traceback that ends with it: the
    entry's first hit is the summary line, and the root is still that entry, found at the exception."""
    text = (
        "RuntimeError: operator torchvision::nms does not exist\n"
        "Traceback (most recent call last):\n"
        '  File "/x/site-packages/torchvision/_meta_registrations.py", line 164, in <module>\n'
        '    @torch.library.register_fake("torchvision::nms")\n'
        "RuntimeError: operator torchvision::nms does not exist\n"
    )
    result = explain_text(text, {})
    assert result.root is not None and result.root.key == "torchvision-mismatch"
    assert result.root.line_number == 5
    assert [f.key for f in result.findings].count("torchvision-mismatch") == 1
