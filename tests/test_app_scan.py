"""`check --app` on a MuseTalk-shaped checkout: an import graph from each scope's entry points.

The target is the interpreter running the tests (`--python sys.executable`): nothing is built and
nothing is downloaded. The stand-in's modules named envdoctor_standin_* are installed nowhere.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from standin import (
    DECLARED,
    NO_DISTRIBUTION,
    TRAINING_ONLY,
    TRAINING_ONLY_DEEP,
    UNREACHED,
    write_musetalk_like,
)

from envdoctor.datafiles import load
from envdoctor.distnames import install_name, known, normalize, read_requirements
from envdoctor.manifest import Manifest, scan_app

NOT_FOR_INFERENCE = {**TRAINING_ONLY, **TRAINING_ONLY_DEEP, **UNREACHED}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_musetalk_like(tmp_path_factory.mktemp("scan") / "MuseTalk")


@pytest.fixture(scope="module")
def manifest(app: Path) -> Manifest:
    return scan_app(app)


def _rows(cli: Any, app: Path, *args: str) -> dict[str, dict[str, Any]]:
    run = cli("check", "--python", sys.executable, "--app", str(app), "--only", "imports", "--json", *args)
    assert run.code in (0, 1), run.err
    return {r["title"].removeprefix("import "): r for r in run.json()["results"]}


def test_training_only_modules_are_training_with_their_entry_point_and_line(manifest: Manifest) -> None:
    for module, at in {**TRAINING_ONLY, **TRAINING_ONLY_DEEP}.items():
        entry = manifest.entry(module)
        assert entry is not None and entry.scope == "training"
        assert entry.reach_for(["inference"]) is None and entry.reach_for(["inference", "app"]) is None
        reach = entry.reach_for(["training"])
        assert reach is not None and reach.kind == "required" and reach.at == at
        assert reach.entry_point in ("train.py", "scripts/preprocess.py")
    # bitsandbytes sits in a module of the checkout that only train.py imports
    deep = manifest.entry("bitsandbytes")
    assert deep is not None and deep.reached[0].entry_point == "train.py"
    probed = manifest.modules_to_probe(["inference"])
    assert not set(NOT_FOR_INFERENCE) & set(probed)
    assert set(TRAINING_ONLY) | set(TRAINING_ONLY_DEEP) <= set(manifest.modules_to_probe(["training"]))


def test_a_vendored_package_no_entry_point_imports_is_listed_never_probed(manifest: Manifest) -> None:
    for module, at in UNREACHED.items():
        entry = manifest.entry(module)
        assert entry is not None and entry.reached == () and entry.imported_at == (at,)
        assert module not in manifest.modules_to_probe(["inference", "training", "app"])


def test_kinds_optional_lazy_and_what_a_lazy_import_brings(manifest: Manifest) -> None:
    def kind(module: str, scope: str = "inference") -> str | None:
        entry = manifest.entry(module)
        reach = entry.reach_for([scope]) if entry else None
        return reach.kind if reach else None

    assert kind("iou") == "optional"  # try/except ImportError with a fallback
    assert kind("torch") == "required"
    assert kind("envdoctor_standin_lazy") == "lazy"  # inside main()
    assert kind("envdoctor_standin_flagged") == "lazy"  # behind `if USE_FLAGGED:` at module level
    assert kind("envdoctor_standin_reraised") == "lazy"  # its except raises: not optional, still in a function
    assert kind("envdoctor_standin_training_lazy", "training") == "lazy"
    assert kind("scipy") == "lazy"  # __import__ in a method


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("import m_x\n", "required"),
        ("try:\n    import m_x\nexcept ImportError:\n    m_x = None\n", "optional"),
        ("try:\n    import m_x\nexcept (ValueError, ModuleNotFoundError):\n    pass\n", "optional"),
        ("try:\n    import m_x\nexcept BaseException:\n    def f():\n        return 1\n", "optional"),
        ("try:\n    import m_x\nexcept:\n    pass\n", "optional"),
        ("try:\n    import m_x\nexcept ImportError:\n    raise RuntimeError('pip install m_x')\n", "required"),
        ("import sys\ntry:\n    import m_x\nexcept ImportError:\n    sys.exit('no m_x')\n", "required"),
        ("try:\n    import m_x\nexcept ValueError:\n    pass\n", "required"),
        ("def f():\n    import m_x\n", "lazy"),
        ("import os\nif os.environ.get('USE_X'):\n    import m_x\n", "lazy"),
        ("if False:\n    pass\nelse:\n    import m_x\n", "lazy"),
        ("if __name__ == '__main__':\n    import m_x\n", "required"),
        ("if '__main__' == __name__:\n    import m_x\n", "required"),
        ("class C:\n    import m_x\n", "required"),
        ("def f():\n    try:\n        import m_x\n    except ImportError:\n        pass\n", "optional"),
        ("f = lambda: __import__('m_x')\n", "lazy"),
        ("import m_y\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import m_x\n", None),
    ],
)
def test_how_one_import_is_reached(tmp_path: Path, source: str, kind: str | None) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "inference.py").write_text(source)
    entry = scan_app(tmp_path).entry("m_x")
    reach = entry.reach_for(["inference"]) if entry else None
    assert (reach.kind if reach else None) == kind


def test_the_detector_a_computed_import_picks_is_reached_and_its_fallback_import_optional(manifest: Manifest) -> None:
    iou = manifest.entry("iou")
    assert iou is not None and "musetalk/utils/face_detection/detection/sfd/bbox.py:2" in iou.imported_at
    scipy = manifest.entry("scipy")
    assert scipy is not None and "musetalk/utils/face_detection/detection/sfd/detect.py:1" in scipy.imported_at
    reach = scipy.reach_for(["inference"])
    assert reach is not None and reach.kind == "lazy"  # the __import__ runs inside a method


def test_a_computed_child_import_reaches_the_children_of_its_package(tmp_path: Path) -> None:
    for rel, text in {
        "scripts/inference.py": "import pkg.api\n",
        "pkg/__init__.py": "",
        "pkg/api.py": "NAME = 'a'\nplugin = __import__('pkg.plugins.' + NAME)\n",
        "pkg/plugins/__init__.py": "",
        "pkg/plugins/a.py": "import m_child\n",
        "pkg/plugins/b/__init__.py": "import m_package_child\n",
        "pkg/plugins/b/deeper.py": "import m_grandchild\n",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    m = scan_app(tmp_path)

    def kind(name: str) -> str | None:
        entry = m.entry(name)
        reach = entry.reach_for(["inference"]) if entry else None
        return reach.kind if reach else None

    assert kind("m_child") == kind("m_package_child") == "required"
    assert kind("m_grandchild") is None  # nothing imports it


def test_a_module_imported_inside_a_function_makes_what_it_brings_lazy(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "scripts" / "inference.py").write_text("import pkg.eager\n\ndef main():\n    import pkg.heavy\n")
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "eager.py").write_text("import m_eager\n")
    (tmp_path / "pkg" / "heavy.py").write_text("import m_heavy\n")
    m = scan_app(tmp_path)
    kinds = {name: m.entry(name).reach_for(["inference"]).kind for name in ("m_eager", "m_heavy")}  # type: ignore[union-attr]
    assert kinds == {"m_eager": "required", "m_heavy": "lazy"}


def test_default_scope_reports_no_training_optional_or_unreached_module_as_missing(app: Path, cli: Any) -> None:
    rows = _rows(cli, app)
    for module in NOT_FOR_INFERENCE:
        assert rows[module]["status"] == "skip" and "not probed" in rows[module]["found"]
    assert rows["iou"]["status"] == "skip" and "optional" in rows["iou"]["found"]
    assert rows["envdoctor_standin_lazy"]["status"] == "warn"  # a lazy import: a warning at most
    assert rows["envdoctor_standin_flagged"]["status"] == "warn"  # behind a flag: the same
    assert rows[NO_DISTRIBUTION]["status"] == "fail"  # required by an inference entry point


def test_scope_training_lists_the_training_modules_with_file_and_line(app: Path, cli: Any) -> None:
    rows = _rows(cli, app, "--scope", "training")
    for module, at in {**TRAINING_ONLY, **TRAINING_ONLY_DEEP}.items():
        details = rows[module]["details"]
        assert rows[module]["status"] in ("ok", "warn"), rows[module]
        assert details["at"] == at and details["scope"] == "training" and details["kind"] == "required"
        assert details["entry_point"] in ("train.py", "scripts/preprocess.py")
    assert rows["torch"]["status"] == "skip"  # inference only, and not asked for
    for module in ("decord", "lws", "bitsandbytes"):
        if rows[module]["status"] != "ok":  # envdoctor fix installs inference only
            assert rows[module]["fix"] == f"uv pip install {module}"
    text = cli(
        "check", "--python", sys.executable, "--app", str(app), "--only", "imports", "--scope", "training", "--verbose"
    )
    assert "imported: scripts/preprocess.py:1 (required, training: reached from scripts/preprocess.py)" in text.out


def test_install_advice_names_only_a_distribution_envdoctor_knows(app: Path, cli: Any) -> None:
    run = cli("check", "--python", sys.executable, "--app", str(app), "--only", "imports", "--json", "--verbose")
    doc = run.json()
    table = {normalize(d) for dists in load("distributions.toml")["modules"].values() for d in dists}
    declared = {normalize(d) for d in read_requirements(app / "requirements.txt")}
    installed = {normalize(d["name"]) for d in doc["facts"]["distributions"].values()}
    named = [m.group(1) for r in doc["results"] for m in re.finditer(r"uv pip install (\S+)", r.get("fix") or "")]
    assert named, "the stand-in has modules with a known distribution that are not installed"
    for dist in named:
        assert normalize(dist) in table | declared | installed, dist
    rows = {r["title"].removeprefix("import "): r for r in doc["results"]}
    assert "install iou" not in (rows["iou"].get("fix") or "")
    nowhere = rows[NO_DISTRIBUTION]
    assert "uv pip install" not in nowhere["fix"] and "on no install path" in nowhere["fix"]
    assert "scripts/realtime_inference.py:2" in nowhere["fix"]
    # envdoctor fix installs MuseTalk's set, not what only this checkout names: no "or envdoctor fix"
    assert rows[DECLARED[0]]["fix"] == f"uv pip install {DECLARED[1]}"
    if rows["cv2"]["status"] == "fail":  # the requirements' provider of cv2 beats the table's first
        assert rows["cv2"]["fix"].startswith("uv pip install opencv-python-headless ")


def test_modules_with_no_known_distribution_keep_their_own_row_in_text(app: Path, cli: Any) -> None:
    run = cli("check", "--python", sys.executable, "--app", str(app), "--only", "imports")
    grouped = next((ln for ln in run.out.splitlines() if "modules MuseTalk imports are not installed" in ln), "")
    assert NO_DISTRIBUTION not in grouped and DECLARED[0] not in grouped
    assert f"import {NO_DISTRIBUTION}: ModuleNotFoundError" in run.out


def test_install_name_never_takes_the_module_name_for_a_distribution() -> None:
    assert install_name("iou") is None
    assert install_name("face_alignment_helper") is None
    assert install_name("cv2") == "opencv-python" and known("cv2")[0] == "opencv-python"
    assert install_name("cv2", requirements=["opencv-contrib-python-headless"]) == "opencv-contrib-python-headless"
    assert install_name("skimage") == "scikit-image" and install_name("yaml") == "pyyaml"
    assert install_name("PIL") == "pillow" and install_name("sklearn") == "scikit-learn"
    assert install_name("my_tool", requirements=["My-Tool"]) == "My-Tool"
    assert install_name("iou", installed=["vendor-iou-cython"]) == "vendor-iou-cython"


def test_requirements_lines(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(
        "# comment\n\ndiffusers==0.30.2\nimageio[ffmpeg]\nhuggingface_hub>=0.30 ; python_version>'3.8'\n"
        "-r other.txt\n--index-url https://x.invalid/simple\ngit+https://x.invalid/a.git\n"
        "pkg @ https://x.invalid/pkg.whl\ntorch  # from the cu118 index\n"
    )
    assert read_requirements(req) == ("diffusers", "imageio", "huggingface_hub", "pkg", "torch")
    assert read_requirements(tmp_path / "absent.txt") == ()


def test_the_built_in_manifest_takes_its_distributions_from_the_table() -> None:
    from envdoctor.manifest import builtin

    for entry in builtin().entries:
        if entry.probed:
            assert entry.dists and entry.dists == known(entry.name), entry.name
