"""`explain` keyed on the facts of a traceback rather than on a report's words: the exception, its message and
the frame that raised it; the error that ended a run told from the notices above it; pasted forms read alike.

Each text here is built from its parts (the shapes of tracebacks users paste), so that one fact at a time
changes between an answer and no answer."""

from __future__ import annotations

from envdoctor.explain import ROOT, SECONDARY, explain_text


def _frames(*frames: tuple[str, str]) -> str:
    return "Traceback (most recent call last):\n" + "".join(
        f'  File "{path}", line 12, in <module>\n    {source}\n' for path, source in frames
    )


SITE = "/srv/app/.venv/lib/python3.10/site-packages"


def _root(text: str) -> str | None:
    root = explain_text(text).root
    return root.key if root else None


# --- the frame that raised -------------------------------------------------------------------------------------


def test_a_module_an_installed_package_imports_is_named_missing() -> None:
    text = _frames(("<string>", "import qucat"), (f"{SITE}/qucat/core.py", "import sympy as sp"))
    result = explain_text(text + "ModuleNotFoundError: No module named 'sympy'\n")
    assert result.root is not None and result.root.key == "module-not-installed"
    assert "imports sympy, which is not installed" in result.root.cause


def test_a_users_own_module_is_not_taken_for_a_missing_install() -> None:
    # the same exception raised by the user's script (a folder run from elsewhere): not the environment
    text = _frames(("/srv/app/project/train.py", "import utils.data"))
    assert _root(text + "ModuleNotFoundError: No module named 'utils'\n") is None
    # and an installed package whose frame does not import (a pickle naming a project's class)
    pickled = _frames((f"{SITE}/torch/serialization.py", "return super().find_class(mod_name, name)"))
    assert _root(pickled + "ModuleNotFoundError: No module named 'models'\n") is None


def test_a_submodule_that_moved_between_releases() -> None:
    text = _frames((f"{SITE}/librosa/util/decorators.py", "from numba.decorators import jit as optional_jit"))
    result = explain_text(text + "ModuleNotFoundError: No module named 'numba.decorators'\n")
    assert result.root is not None and result.root.key == "submodule-missing"
    assert "numba is installed but has no module numba.decorators" in result.root.cause


def test_a_package_failing_on_its_own_module_is_a_broken_install_not_two_releases() -> None:
    text = _frames((f"{SITE}/numpy/core/overrides.py", "from numpy.core._multiarray_umath import ("))
    assert _root(text + "ModuleNotFoundError: No module named 'numpy.core._multiarray_umath'\n") is None


def test_a_name_missing_from_an_installed_package() -> None:
    message = (
        f"ImportError: cannot import name 'EncoderDecoderCache' from 'transformers' ({SITE}/transformers/__init__.py)\n"
    )
    importer = _frames((f"{SITE}/peft/peft_model.py", "from transformers import Cache, EncoderDecoderCache"))
    assert _root(importer + message) == "import-name-missing"
    # the message alone (no frame pasted) carries the installed file it looked in
    assert _root(message) == "import-name-missing"
    # imported by the user's own script: a PyPI package shadowing the project's folder, not a version pair
    shadowed = _frames(("C:/Users/me/tool/src/main.py", "from transformers import EncoderDecoderCache"))
    assert _root(shadowed + message) is None


def test_importlib_frames_are_passed_over_to_the_frame_that_asked_for_the_import() -> None:
    message = "ImportError: DLL load failed while importing _ext: The specified procedure could not be found.\n"
    mmcv = _frames(
        (f"{SITE}/mmcv/utils/ext_loader.py", "ext = importlib.import_module('mmcv.' + name)"),
        ("C:/Python39/lib/importlib/__init__.py", "return _bootstrap._gcd_import(name[level:], package, level)"),
    )
    assert _root(mmcv + message) == "ext-dll"
    # another project's own `_ext` (a vendored CUDA op) is not mmcv's
    other = _frames(("C:/proj/src/lib/models/networks/dcnv2/dcn_v2.py", "import _ext as _backend"))
    assert _root(other + message) is None


def test_a_wrapper_that_cannot_start_ffmpeg() -> None:
    message = "FileNotFoundError: [WinError 2] The system cannot find the file specified\n"
    wrapper = _frames(
        (f"{SITE}/ffmpeg/_run.py", "process = run_async("),
        ("C:/Python38/lib/subprocess.py", "hp, ht, pid, tid = _winapi.CreateProcess(executable, args,"),
    )
    assert _root(wrapper + message) == "ffmpeg-exec"
    # the same error from a script's own subprocess call: the missing program is not known
    own = 'Running "ffmpeg -i in.mp4 out/%06d.png"\n' + _frames(
        ("C:/proj/lib/utils/demo_utils.py", "subprocess.call(command)"),
        ("C:/Python38/lib/subprocess.py", "startupinfo)"),
    )
    assert _root(own + message) is None


# --- the error that ended the run ------------------------------------------------------------------------------

NUMPY1_NOTICE = (
    "A module that was compiled using NumPy 1.x cannot be run in\n"
    "NumPy 2.0.0 as it may crash. To support both 1.x and 2.x\n"
    "versions of NumPy, modules must be compiled with NumPy 2.0.\n\n"
)


def test_without_a_traceback_the_last_exception_line_ended_the_run() -> None:
    text = NUMPY1_NOTICE + "AttributeError: `np.NaN` was removed in the NumPy 2.0 release. Use `np.nan` instead.\n"
    result = explain_text(text)
    assert [(f.key, f.role) for f in result.findings] == [("numpy-alias", ROOT), ("numpy-abi", SECONDARY)]
    # with no exception line at all, the first failure still answers
    assert _root(NUMPY1_NOTICE) == "numpy-abi"


def test_a_logged_failure_whose_name_the_ending_exception_quotes_is_the_root() -> None:
    logged = (
        "[2025-04-23 20:54:09,262][hydra.utils][ERROR] - Error loading 'policy.workspace.train_workspace':\n"
        "ImportError(\"cannot import name 'cached_download' from 'huggingface_hub'\")\n"
        "Error executing job with overrides: []\n"
    )
    cascade = _frames((f"{SITE}/hydra/_internal/utils.py", "obj = getattr(obj, part)"))
    ending = "AttributeError: module 'policy.workspace' has no attribute 'train_workspace'\n"
    result = explain_text(logged + cascade + ending)
    assert result.root is not None and result.root.key == "hub-cached-download" and result.root.line_number == 2
    # an ending exception that names nothing of the logged failure stays unknown, quoted
    unrelated = explain_text(logged + cascade + "KeyError: 'avatar_id'\n")
    assert unrelated.root is None and unrelated.root_line is not None
    assert unrelated.root_line.text == "KeyError: 'avatar_id'"


# --- pasted forms and the resolver ----------------------------------------------------------------------------


def test_buildkit_step_prefixes_read_like_the_plain_log() -> None:
    plain = (
        "Building wheels for collected packages: xtcocotools\n"
        "  Building wheel for xtcocotools (setup.py): finished with status 'error'\n"
        "  error: subprocess-exited-with-error\n"
    )
    buildkit = "".join(f"#12 7.{830 + i} {line}\n" for i, line in enumerate(plain.splitlines()))
    for text in (plain, buildkit):
        result = explain_text(text)
        assert result.root is not None and (result.root.key, result.root.line_number) == ("xtcocotools-build", 2)
    # the line starts are the log's own again: the exception line that ended the run is found behind the prefix
    ended = NUMPY1_NOTICE + "AttributeError: `np.NaN` was removed in the NumPy 2.0 release.\n"
    prefixed = "".join(f"#7 {9 + i}.{i % 10} {line}\n" for i, line in enumerate(ended.splitlines()))
    assert _root(prefixed) == _root(ended) == "numpy-alias"


def test_no_release_of_a_pin_for_this_python_in_pip_and_uv_words() -> None:
    pip = (
        "ERROR: Could not find a version that satisfies the requirement torch==2.0.1 (from versions: none)\n"
        "ERROR: No matching distribution found for torch==2.0.1\n"
    )
    uv = (
        "  \u00d7 No solution found when resolving dependencies:\n"
        "  ╰─▶ Because torch==2.3.1 has no wheels are available with a matching Python implementation and you\n"
        "      require torch==2.3.1, we can conclude that the requirements are unsatisfiable.\n"
    )
    for text, req in ((pip, "torch==2.0.1"), (uv, "torch")):
        result = explain_text(text)
        assert result.root is not None and result.root.key == "no-matching-distribution", text
        assert f"no distribution of {req} " in result.root.cause
