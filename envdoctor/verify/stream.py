"""Decode a video's frames and its speech in pieces, never whole: the memory a long clip needs is
the memory of a short one. ffmpeg (media.tool) writes raw grey frames or float samples to a pipe;
each piece is handed on before the next is read."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor import process
from envdoctor.verify.media import AUDIO_RATE, MediaError, ffmpeg_cmd

if TYPE_CHECKING:  # numpy is part of the optional `verify` extra, imported where it is used
    import numpy as np


def _pieces(cmd: list[str], source: Path, record: int, batch: int) -> Iterator[bytes]:
    """ffmpeg's stdout in pieces of `batch` records of `record` bytes (the last may be shorter).
    Raises MediaError, with ffmpeg's last words, when no record came out at all."""
    with tempfile.TemporaryFile() as err:
        child = process.Child(cmd, stdout=process.PIPE, stderr=err, stdin=process.DEVNULL)
        stdout = child.popen.stdout
        assert stdout is not None
        got = 0
        try:
            while True:
                data = stdout.read(record * batch)
                usable = len(data) - len(data) % record
                if usable:
                    got += usable // record
                    yield data[:usable]
                if len(data) < record * batch:
                    break
        finally:
            stdout.close()
            if child.poll() is None:  # the consumer stopped early: ffmpeg, and what it started, end here
                child.stop()
            child.wait()
        if got == 0:
            err.seek(0)
            tail = err.read()[-4000:].decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise MediaError(f"ffmpeg decoded nothing from {source}: {tail[0]}")


def gray_frames(path: Path, width: int, height: int, batch: int = 256) -> Iterator[np.ndarray]:
    """The frames as uint8 grey arrays (k, height, width), `batch` frames at a time, in order. A file
    that stops decoding part way gives the frames before the damage; MediaError only when none."""
    import numpy as np

    cmd = ffmpeg_cmd(
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-vf",
        f"scale={width}:{height}:flags=area",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        "-",
    )
    for data in _pieces(cmd, path, width * height, batch):
        yield np.frombuffer(data, dtype=np.uint8).reshape(-1, height, width)


def audio(path: Path, rate: int = AUDIO_RATE, batch: int = 1 << 18) -> Iterator[np.ndarray]:
    """The first audio stream as mono float32 samples at `rate`, `batch` samples at a time."""
    import numpy as np

    cmd = ffmpeg_cmd("-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(rate), "-f", "f32le", "-")
    for data in _pieces(cmd, path, 4, batch):
        yield np.frombuffer(data, dtype="<f4").astype(np.float32)
