"""The built-in manifest and the ast scan of a checkout."""

from __future__ import annotations

import sys

from standin import THIRD_PARTY, VENDORED, write_checkout

from envdoctor.manifest import builtin, scan_app


def test_builtin_manifest_probes_torch_first_and_the_openmmlab_path():
    m = builtin()
    modules = m.modules_to_probe()
    assert modules[0] == "torch"
    for needed in ("mmcv.ops", "mmdet.models", "mmpose.apis", "transformers", "diffusers", "librosa"):
        assert needed in modules
    assert "gradio" not in modules and "gradio" in m.modules_to_probe(["inference", "app"])
    # vendored modules are checked for shadowing, never imported
    assert "face_detection" not in modules and m.entry("face_detection").vendored


def test_scan_finds_every_third_party_import_and_the_vendored_modules(tmp_path):
    root = write_checkout(tmp_path / "MuseTalk")
    m = scan_app(root)
    tops = {e.top for e in m.entries if e.probed}
    assert tops >= THIRD_PARTY
    # the checkout's own packages and the standard library are left out
    assert not tops & {"musetalk", "scripts", "os", "argparse", "sys"}
    vendored = {e.name: e for e in m.entries if not e.probed}
    assert set(vendored) == VENDORED
    assert vendored["face_detection"].vendored == "musetalk/utils/face_detection"
    # the sys.path trick is recognised and resolved to the folder it adds
    assert any(
        edit.startswith("musetalk/utils/__init__.py:6 -> ") and edit.endswith("musetalk/utils")
        for edit in m.sys_path_edits
    )


def test_scan_marks_guarded_and_unknown_imports_optional(tmp_path):
    m = scan_app(write_checkout(tmp_path / "app"))
    by_top = {e.top: e for e in m.entries if e.probed and "." not in e.name}
    assert by_top["iou"].optional  # only inside try/except ImportError
    assert not by_top["torch"].optional
    assert by_top["torch"].found_in == ("scripts/inference.py",)


def test_scan_adds_the_runtime_path_that_mmpose_brings(tmp_path):
    m = scan_app(write_checkout(tmp_path / "app"))
    names = [e.name for e in m.entries if e.probed]
    for via in ("mmcv.ops", "mmdet.models", "pkg_resources"):
        assert via in names
    assert names.index("torch") < names.index("mmpose")


def test_app_without_python_is_one_sentence_and_exit_2(cli, tmp_path):
    (tmp_path / "README.md").write_text("not a checkout")
    run = cli("check", "--python", sys.executable, "--app", str(tmp_path))
    assert run.code == 2
    assert run.err.strip() == f"envdoctor: {tmp_path} contains no Python files: is it a MuseTalk checkout?"
