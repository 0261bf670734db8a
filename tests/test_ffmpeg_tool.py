"""ffmpeg without root: PyPI's imageio-ffmpeg wheel, linked into a real venv and run there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from envdoctor import checkrun, probe
from envdoctor.checks import Status
from envdoctor.target import resolve
from envdoctor.tools import ffmpeg as ff
from envdoctor.uv import find_uv


@pytest.mark.network
def test_provide_links_the_wheels_ffmpeg_into_a_venv_and_check_finds_it(tmp_path: Path, bare_path: str) -> None:
    uv = find_uv()
    venv = tmp_path / "venv"
    uv.venv(venv, python=sys.executable)
    python = venv / "bin" / "python"
    before = checkrun.run(resolve(venv=str(venv)), only=["tools.ffmpeg"]).results[0]
    assert before.status is Status.FAIL and before.breaker == 18
    assert ff.usable_target_ffmpeg(python, bare_path) is None  # what a plan sees beforehand

    done = ff.provide_ffmpeg(python, uv=uv, path_env=bare_path)
    assert done.action == "linked" and done.changed
    assert done.ffmpeg == str(venv / "bin" / "ffmpeg") and done.created == (done.ffmpeg,)
    assert done.installed == (ff.WHEEL,)
    assert done.binary.libx264 and done.binary.aac
    assert "linked into the environment" in done.summary()

    # It really encodes what MuseTalk writes: libx264 video with an AAC track, by the name in bin/.
    out = tmp_path / "clip.mp4"
    enc = subprocess.run(
        [
            done.ffmpeg,
            "-v",
            "error",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=25:duration=0.4",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=0.4",
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert enc.returncode == 0, enc.stderr
    head = subprocess.run([done.ffmpeg, "-hide_banner", "-i", str(out)], capture_output=True, text=True)
    assert "Video: h264" in head.stderr and "Audio: aac" in head.stderr

    after = checkrun.run(resolve(venv=str(venv)), only=["tools.ffmpeg"]).results[0]
    assert after.status is Status.OK
    assert f"at {venv / 'bin' / 'ffmpeg'} -> " in after.found
    assert "(in the environment's bin: activate the environment" in after.found

    # A smoke run puts that bin first on PATH, as activating the environment does, and lends nothing.
    with ff.lent_to(python) as lent:
        assert lent.note is None and lent.env["PATH"].split(os.pathsep)[0] == str(venv / "bin")

    again = ff.provide_ffmpeg(python, uv=uv, path_env=bare_path)
    assert again.action == "present" and not again.changed
    assert ff.usable_target_ffmpeg(python, bare_path) == (again.binary, "the environment's bin")

    ff.undo(done, uv=uv)
    assert not (venv / "bin" / "ffmpeg").exists()
    assert checkrun.run(resolve(venv=str(venv)), only=["tools.ffmpeg"]).results[0].status is Status.FAIL
    listed = {d["name"] for d in uv.pip_list(python)}
    assert ff.WHEEL not in listed


def test_provide_keeps_a_usable_ffmpeg_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = ff.own_ffmpeg()
    if own is None:
        pytest.skip("no ffmpeg for envdoctor: install envdoctor's verify extra (imageio-ffmpeg)")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "ffmpeg").symlink_to(own[0])
    uv = find_uv()
    venv = tmp_path / "venv"
    uv.venv(venv, python=sys.executable)
    done = ff.provide_ffmpeg(venv / "bin" / "python", uv=uv, path_env=str(tools))
    assert done.action == "on PATH" and not done.changed and done.ffmpeg == str(tools / "ffmpeg")
    assert not (venv / "bin" / "ffmpeg").exists()


def test_a_target_without_ffmpeg_is_lent_envdoctors_own_for_one_run(tmp_path: Path, bare_path: str) -> None:
    venv = tmp_path / "venv"
    find_uv().venv(venv, python=sys.executable)
    with ff.lent_to(venv / "bin" / "python") as lent:
        assert lent.note and "lent it envdoctor's own" in lent.note and "envdoctor fix" in lent.note
        first = Path(lent.env["PATH"].split(os.pathsep)[0])
        found = subprocess.run(
            ["ffmpeg", "-hide_banner", "-version"], capture_output=True, text=True, env={**os.environ, **lent.env}
        )
        assert found.returncode == 0 and found.stdout.startswith("ffmpeg version")
    assert not first.exists(), "the lent folder goes away after the run"
    assert not (venv / "bin" / "ffmpeg").exists()


def test_envdoctor_finds_its_own_ffmpeg_without_path(bare_path: str) -> None:
    # The verify extra brings the wheel, so verify and smoke need no ffmpeg on PATH.
    own = ff.own_ffmpeg()
    assert own is not None, "the verify extra's imageio-ffmpeg is missing"
    path, where = own
    assert where == f"the {ff.WHEEL} wheel beside envdoctor"
    assert ff.inspect(path).usable


def test_inspect_says_when_a_file_is_no_ffmpeg(tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("not a program\n")
    with pytest.raises(ff.FfmpegError, match="does not run"):
        ff.inspect(fake)


@pytest.mark.network
def test_a_wheel_already_in_the_target_is_linked_not_reinstalled(tmp_path: Path, bare_path: str) -> None:
    # MuseTalk's own requirements bring imageio[ffmpeg]: then only the link is new, and undoing keeps the wheel.
    uv = find_uv()
    venv = tmp_path / "venv"
    uv.venv(venv, python=sys.executable)
    python = venv / "bin" / "python"
    uv.pip_install(python, [ff.WHEEL])
    done = ff.provide_ffmpeg(python, uv=uv, path_env=bare_path)
    assert done.action == "linked" and done.installed == () and done.created == (str(venv / "bin" / "ffmpeg"),)
    ff.undo(done, uv=uv)
    assert not (venv / "bin" / "ffmpeg").exists()
    assert ff.WHEEL in {d["name"] for d in uv.pip_list(python)}


# An ffmpeg build with libx264 but no AAC encoder, as `-version` and `-encoders` print it.
_NO_AAC = """#!/bin/sh
case "$2" in
  -version) echo "ffmpeg version 6.1-noaac Copyright (c) 2000-2023 the FFmpeg developers" ;;
  -encoders) printf '%s\\n' "Encoders:" " ------" \\
    " V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)" \\
    " A....D libmp3lame           libmp3lame MP3 (MPEG audio layer 3) (codec mp3)" ;;
  *) exit 1 ;;
esac
"""


@pytest.mark.skipif(sys.platform == "win32", reason="the ffmpeg stand-in is a POSIX shell script")
def test_an_ffmpeg_with_libx264_but_no_aac_is_unusable_to_the_tools_and_the_facts_alike(
    tmp_path: Path, bare_path: str
) -> None:
    venv = tmp_path / "venv"
    find_uv().venv(venv, python=sys.executable)
    python = venv / "bin" / "python"
    fake = venv / "bin" / "ffmpeg"
    fake.write_text(_NO_AAC)
    fake.chmod(0o755)

    # envdoctor's own reading of the binary: it has libx264, lacks aac, and a plan would provide one.
    binary = ff.inspect(fake)
    assert (binary.version, binary.libx264, binary.aac) == ("6.1-noaac", True, False)
    assert not binary.usable
    assert ff.usable_target_ffmpeg(python) is None

    # The probe's reading inside the target, through the check: the same ffmpeg, the same verdict.
    facts = probe.gather(resolve(venv=str(venv)), [])
    assert (facts.ffmpeg.path, facts.ffmpeg.libx264, facts.ffmpeg.aac) == (str(fake), True, False)
    assert not facts.ffmpeg.usable and facts.ffmpeg.missing == ("aac",)
    (r,) = checkrun.run(resolve(venv=str(venv)), only=["tools.ffmpeg"]).results
    assert r.status is Status.FAIL and r.breaker == 18
    assert r.found.endswith("without aac") and "aac" in r.why
