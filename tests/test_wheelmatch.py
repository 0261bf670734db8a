"""Choosing an mmcv wheel by what its name says: torch label, tags, and the mmdet/mmpose windows.

Wheel names are written the way the sources name them (the community convention
`mmcv-2.1.0+pt2.13.0cpu-cp311-cp311-linux_x86_64.whl`, OpenMMLab's unlabelled names under a
per-torch folder); the windows and requirement sets are the real ones from envdoctor/data/.
"""

from __future__ import annotations

import pytest
from packaging.version import Version

from envdoctor.strategies.sets import get_set
from envdoctor.wheellabel import TorchLabel, label_for, labelled, parse_label
from envdoctor.wheelmatch import SERIES, Want, candidate, select, target_tags

MODERN = get_set("modern")

# One listing as a community index could serve it: a fitting wheel for each target below, and near misses.
LISTING = [
    "mmcv-2.1.0+pt2.13.0cpu-cp311-cp311-linux_x86_64.whl",  # fits A
    "mmcv-2.1.0+pt2.10.0cu130-cp312-cp312-win_amd64.whl",  # fits B
    "mmcv-2.1.0+pt2.13.0cpu-cp313-cp313-macosx_14_0_arm64.whl",  # fits C
    "mmcv-2.2.0+pt2.13.0cpu-cp311-cp311-linux_x86_64.whl",
    "mmcv-2.2.0+pt2.10.0cu130-cp312-cp312-win_amd64.whl",
    "mmcv-2.1.0+pt2.12.0cpu-cp311-cp311-linux_x86_64.whl",
    "mmcv-2.1.0+pt2.13.1cpu-cp311-cp311-linux_x86_64.whl",
    "mmcv-2.1.0+pt2.13.0cu130-cp311-cp311-linux_x86_64.whl",
    "mmcv-2.1.0+pt2.10.0cu128-cp312-cp312-win_amd64.whl",
    "mmcv-2.1.0+pt2.13.0cpu-cp312-cp312-linux_x86_64.whl",
    "mmcv-2.1.0+pt2.13.0cpu-cp311-cp311-win_amd64.whl",
    "mmcv-2.1.0+pt2.13.0cpu-cp313-cp313-macosx_16_0_arm64.whl",
    "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl",
    "mmcv-2.1.0+cpu-cp311-cp311-linux_x86_64.whl",
    "mmcv_lite-2.1.0-py3-none-any.whl",  # another distribution: not a candidate at all
    "mmcv-2.1.0.tar.gz",  # not a wheel
]


def want(
    torch: str, platform: str, py: str, os: str, machine: str, glibc: str | None = None, mac: str | None = None
) -> Want:
    return Want(
        torch=Version(torch),
        platform=platform,
        python_tag=py,
        tags=target_tags(py, os, machine, glibc, mac),
        where=f"{os} {machine}",
        openmmlab=MODERN.openmmlab,
        preferred=MODERN.mmcv,
    )


TARGETS = {
    "A linux cpu cp311": (want("2.13.0+cpu", "cpu", "cp311", "linux", "x86_64", glibc="2.36"), LISTING[0]),
    "B windows cu130 cp312": (want("2.10.0+cu130", "cu130", "cp312", "windows", "amd64"), LISTING[1]),
    "C macos arm64 cp313": (want("2.13.0", "cpu", "cp313", "macos", "arm64", mac="15.1"), LISTING[2]),
}


def _cands() -> list:
    return [c for c in (candidate(n, f"https://example.invalid/mmcv/{n}") for n in LISTING) if c is not None]


def test_only_mmcv_wheels_are_candidates() -> None:
    names = [c.filename for c in _cands()]
    assert "mmcv_lite-2.1.0-py3-none-any.whl" not in names and "mmcv-2.1.0.tar.gz" not in names
    assert len(names) == len(LISTING) - 2


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_exactly_the_fitting_wheel_is_chosen_and_every_other_is_a_near_miss_with_its_reason(target: str) -> None:
    w, expected = TARGETS[target]
    sel = select(_cands(), w)
    assert sel.chosen is not None and sel.chosen.filename == expected
    assert str(sel.chosen.version) == expected.split("-")[1]
    missed = {m.filename: m.reason for m in sel.near_misses}
    assert set(missed) == {c.filename for c in _cands()} - {expected}, "every other wheel is listed"
    assert all(len(r) > 15 for r in missed.values())


def test_near_miss_reasons_for_linux_cpu_cp311() -> None:
    w, _ = TARGETS["A linux cpu cp311"]
    missed = {m.filename: m.reason for m in select(_cands(), w).near_misses}
    assert missed["mmcv-2.2.0+pt2.13.0cpu-cp311-cp311-linux_x86_64.whl"] == (
        "mmcv 2.2.0 is outside a window: mmdet 3.3.0 accepts mmcv <2.2.0,>=2.0.0rc4"
    )
    assert missed["mmcv-2.1.0+pt2.12.0cpu-cp311-cp311-linux_x86_64.whl"] == (
        "built for torch 2.12.0; this target has torch 2.13.0"
    )
    # The label names one torch release: a wheel for 2.13.1 is not taken for 2.13.0.
    assert missed["mmcv-2.1.0+pt2.13.1cpu-cp311-cp311-linux_x86_64.whl"].startswith("built for torch 2.13.1")
    assert missed["mmcv-2.1.0+pt2.13.0cu130-cp311-cp311-linux_x86_64.whl"] == "built for cu130; this torch is cpu"
    assert missed["mmcv-2.1.0+pt2.13.0cpu-cp312-cp312-linux_x86_64.whl"] == "for cp312-cp312; this target is cp311"
    assert missed["mmcv-2.1.0+pt2.13.0cpu-cp311-cp311-win_amd64.whl"] == "for win_amd64; this target is linux x86_64"
    assert "no torch label" in missed["mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"]
    assert "no torch label" in missed["mmcv-2.1.0+cpu-cp311-cp311-linux_x86_64.whl"]


def test_near_miss_reasons_elsewhere() -> None:
    w, _ = TARGETS["B windows cu130 cp312"]
    missed = {m.filename: m.reason for m in select(_cands(), w).near_misses}
    assert missed["mmcv-2.1.0+pt2.10.0cu128-cp312-cp312-win_amd64.whl"] == "built for cu128; this torch is cu130"
    assert "outside a window: mmdet 3.3.0" in missed["mmcv-2.2.0+pt2.10.0cu130-cp312-cp312-win_amd64.whl"]
    w, _ = TARGETS["C macos arm64 cp313"]
    missed = {m.filename: m.reason for m in select(_cands(), w).near_misses}
    # A wheel for a newer macOS than the target's does not install there.
    assert missed["mmcv-2.1.0+pt2.13.0cpu-cp313-cp313-macosx_16_0_arm64.whl"] == (
        "for macosx_16_0_arm64; this target is macos arm64"
    )


def test_glibc_decides_manylinux() -> None:
    old = want("2.13.0+cpu", "cpu", "cp311", "linux", "x86_64", glibc="2.17")
    new = want("2.13.0+cpu", "cpu", "cp311", "linux", "x86_64", glibc="2.36")
    c = candidate("mmcv-2.1.0+pt2.13.0cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "x")
    assert c is not None
    assert select([c], new).chosen == c
    assert select([c], old).near_misses[0].reason == "for manylinux_2_28_x86_64; this target is linux x86_64"


def test_without_a_window_the_newest_fitting_wheel_wins_and_with_one_the_pinned() -> None:
    names = [f"mmcv-{v}+pt2.13.0cpu-cp311-cp311-linux_x86_64.whl" for v in ("2.1.0", "2.2.0")]
    cands = [c for c in (candidate(n, n) for n in names) if c]
    w, _ = TARGETS["A linux cpu cp311"]
    free = Want(w.torch, w.platform, w.python_tag, w.tags, w.where)
    newest, pinned = select(cands, free).chosen, select(cands, w).chosen
    assert newest is not None and newest.filename == names[1]
    assert pinned is not None and pinned.filename == names[0]


def test_openmmlab_convention_the_folder_names_the_torch_series() -> None:
    folder = TorchLabel(Version("2.1.0"), "cu121")
    names = [
        "mmcv-2.1.0-cp310-cp310-manylinux1_x86_64.whl",
        "mmcv-2.1.0-cp312-cp312-manylinux1_x86_64.whl",
        "mmcv-2.1.0-cp310-cp310-win_amd64.whl",
    ]
    cands = [c for c in (candidate(n, n, folder_label=folder) for n in names) if c]
    w = want("2.1.2+cu121", "cu121", "cp310", "linux", "x86_64", glibc="2.31")
    sel = select(cands, w, SERIES)
    assert sel.chosen is not None and sel.chosen.filename == names[0], "torch 2.1.2 uses the torch2.1.0 folder"
    assert {m.reason for m in sel.near_misses} == {
        "for cp312-cp312; this target is cp310",
        "for win_amd64; this target is linux x86_64",
    }
    later = want("2.2.1+cu121", "cu121", "cp310", "linux", "x86_64", glibc="2.31")
    assert select(cands, later, SERIES).near_misses[0].reason == "built for torch 2.1; this target has torch 2.2.1"


def test_label_convention_round_trip() -> None:
    assert str(parse_label("pt2.10.0cu130")) == "pt2.10.0cu130"
    with_commit = parse_label("864913fpt2.5.0cpu")
    assert with_commit is not None and with_commit.commit == "864913f" and with_commit.platform == "cpu"
    rocm = parse_label("pt2.6.0rocm6.2.4")
    assert rocm is not None and rocm.platform == "rocm6.2.4" and rocm.torch == Version("2.6.0")
    assert parse_label("cpu") is None and parse_label(None) is None
    assert str(labelled("2.1.0", label_for(Version("2.13.0+cpu"), "cpu"))) == "2.1.0+pt2.13.0cpu"
