"""`envdoctor verify VIDEO [--audio FILE]`: judge a talking-head video (structure, then lip-sync)."""

from __future__ import annotations

import argparse
from pathlib import Path

from envdoctor.errors import UsageError

DEFAULT_OUT = "envdoctor-smoke"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "verify",
        help="judge a lip-sync video: it decodes, has sound, the right length, and lips that follow the speech",
        description=(
            "Judge a talking-head video without any downloaded weights: the file decodes, has a video and an "
            "audio stream, holds audio seconds x fps frames (+-2), its mouth region moves (else STATIC), and "
            "that movement follows the speech envelope (SYNCED / UNSYNCED, with the numbers). Writes "
            "smoke-report.json and smoke-report.png into --out. Needs ffmpeg and envdoctor's `verify` extra."
        ),
    )
    p.add_argument("video", metavar="VIDEO", help="the video to judge")
    p.add_argument("--audio", metavar="FILE", help="the speech that drove it (default: the video's own audio track)")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"where the report goes (default ./{DEFAULT_OUT})")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from envdoctor.outdir import check_writable
    from envdoctor.report import smoke as report
    from envdoctor.smoke import record
    from envdoctor.verify import media
    from envdoctor.verify.verify import MissingExtra, verify

    video = Path(args.video)
    if not video.is_file():
        raise UsageError(f"{video} does not exist or is not a file.")
    audio = Path(args.audio) if args.audio else None
    if audio is not None and not audio.is_file():
        raise UsageError(f"{audio} does not exist or is not a file.")
    check_writable(Path(args.out))
    try:
        result = verify(video, audio)
    except MissingExtra as exc:  # the same error (its code), said as what the command could not do
        raise MissingExtra(f"cannot verify: {exc}.") from None
    except media.MediaError as exc:
        raise media.MediaError(f"cannot verify: {exc}") from None
    out = Path(args.out)
    data = record.write_report(
        out,
        success=result.success,
        output_path=str(video),
        message=record.message_for(result),
        verification=result,
    )
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        report.print_verification(result)
        print(f"report: {out / record.REPORT_JSON}")
    return 0 if result.success else 1
