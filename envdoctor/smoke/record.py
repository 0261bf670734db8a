"""smoke-report.json and its PNG, as `smoke` and `verify` write them beside the video (the document of
`smoke`/`verify --json`, in every mode: app, deps, verify). Drawing the PNG decodes sample frames, which is
why this lives with the smoke run and not with the renderers in envdoctor/report/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envdoctor.document import head
from envdoctor.verify import media
from envdoctor.verify.verdicts import VideoVerification

REPORT_JSON = "smoke-report.json"
REPORT_PNG = "smoke-report.png"
SCHEMA = "envdoctor.smoke"


def message_for(v: VideoVerification | None, prefix: str = "") -> str:
    if v is None:
        return prefix or "no video was produced."
    broken = [f"{c.name}: {c.detail}" for c in v.checks if not c.ok]
    head = "OK" if v.success else "FAILED"
    parts = [f"{head}: {v.verdict.value}: {v.reason}"]
    if broken:
        parts.append("structure: " + "; ".join(broken) + ".")
    return (prefix + " " if prefix else "") + " ".join(parts)


def write_report(
    out_dir: Path,
    *,
    success: bool,
    output_path: str | None,
    message: str,
    verification: VideoVerification | None,
    extra: dict[str, Any] | None = None,
    plot: bool = True,
) -> dict[str, Any]:
    """Write smoke-report.json (and the PNG when there is a verification to draw); return the JSON."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {**head(SCHEMA), "success": success, "output_path": output_path, "message": message}
    if extra:
        report.update(extra)
    report["verification"] = verification.to_dict(signals=True) if verification else None
    png_note = None
    if plot and verification is not None and verification.frames:
        try:
            report["plot"] = str(write_plot(verification, out_dir / REPORT_PNG))
        except ImportError:
            png_note = "no PNG: matplotlib is not installed (pip install 'envdoctor[verify]')"
    if png_note:
        report["plot"] = None
        report["plot_note"] = png_note
    (out_dir / REPORT_JSON).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return report


def write_plot(v: VideoVerification, out: Path) -> Path:
    """Speech envelope and mouth signal over time, above four sample frames with the measured region."""
    # matplotlib and numpy load only when a PNG is drawn: smoke's other paths run without them.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig = plt.figure(figsize=(10, 6.2), dpi=100)
    grid = fig.add_gridspec(2, 4, height_ratios=[1.2, 1])
    ax = fig.add_subplot(grid[0, :])
    t = np.arange(len(v.envelope)) / (v.fps or 25.0)
    if v.envelope:
        ax.plot(t, v.envelope, label="speech envelope (log-RMS, z)", color="tab:blue", lw=1.2)
    if v.mouth_signal:
        ax.plot(t[: len(v.mouth_signal)], v.mouth_signal, label="mouth signal (z)", color="tab:red", lw=1.2)
    ax.set_xlabel("seconds")
    title = f"{v.verdict.value}: {Path(v.video).name}"
    if v.sync:
        title += f"  r={v.sync.peak_r:.2f} lag={v.sync.lag_frames:+d} conf={v.sync.confidence:.2f}"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    picks = [int(round(x)) for x in np.linspace(0, max(v.frames - 1, 0), 4)]
    info = media.probe(Path(v.video))
    w, h = media.scaled_size(info.width, info.height, 240)
    for k, idx in enumerate(picks):
        sub = fig.add_subplot(grid[1, k])
        sub.imshow(media.read_rgb_frame(Path(v.video), idx, w, h))
        if v.region:
            # The verifier chose the region (a mouth box or the generated region): drawn as given.
            sx = w / max(info.width, 1)
            x, y, bw, bh = v.region
            sub.add_patch(plt.Rectangle((x * sx, y * sx), bw * sx, bh * sx, fill=False, color="yellow", lw=1))
        sub.set_title(f"frame {idx}", fontsize=8)
        sub.axis("off")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
