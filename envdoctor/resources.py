"""Where the files that ship beside the code live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_REPO = _PACKAGE.parent


def _shipped(name: str) -> Path:
    # In a wheel, hatch's force-include puts them under envdoctor/_shipped; in a checkout
    # (editable install, tests) they sit at the repository root.
    inside = _PACKAGE / "_shipped" / name
    return inside if inside.is_dir() else _REPO / name


def installed() -> bool:
    """Whether these files are an installed wheel's (read-only to envdoctor), not a checkout's."""
    return (_PACKAGE / "_shipped").is_dir()


def probes_dir() -> Path:
    return _shipped("probes")


def stubs_dir() -> Path:
    return _shipped("stubs")


def lockfiles_dir() -> Path:
    return _shipped("lockfiles")


def data_dir() -> Path:
    return _PACKAGE / "data"


def probe_script(name: str) -> Path:
    """A stdlib-only probe at the top of probes/ (runs on any Python 3.8+)."""
    return probes_dir() / f"{name}.py"


def smoke_script(name: str) -> Path:
    """A smoke pass under probes/smoke/ (runs in a MuseTalk environment: may import torch and friends)."""
    return probes_dir() / "smoke" / f"{name}.py"


def stub_template() -> Path:
    """The body of the generated `mmcv._ext` stub (standard library and torch; envdoctor.stub fills it in)."""
    return probes_dir() / "mmcv_ext_stub" / "template.py"


def mmpose_free_package() -> Path:
    """The mmpose-free port's `mmpose` package folder, which envdoctor.dwpose builds into a wheel."""
    return probes_dir() / "mmpose_free" / "mmpose"
