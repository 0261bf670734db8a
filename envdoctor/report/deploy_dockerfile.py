"""Rendering of `envdoctor dockerfile`'s result: text lines and the envdoctor.dockerfile JSON (v1)."""

from __future__ import annotations

from typing import Any

from envdoctor.deploy.dockerfile import Generated
from envdoctor.document import head


def made_text(g: Generated) -> str:
    b = g.bundle
    lines = [
        f"Wrote {g.dockerfile} for the lock in {b.folder} (Python {b.python}, {b.platform}, accelerator "
        f"{b.accelerator}, {len(b.packages)} distributions) and {g.tool_requirements} ({b.envdoctor_wheel.name} "
        "and its dependencies, hashed).",
        f"{g.base.sentence()[0].upper()}{g.base.sentence()[1:]}.",
        f"Gate (build step and HEALTHCHECK): envdoctor check {' '.join(g.check_args) or '(every check)'}.",
        *(f"note: {n}" for n in g.notes),
        f"Build it offline: docker build --network none -f {g.dockerfile} -t IMAGE {b.folder}",
    ]
    return "\n".join(lines)


def made_json(g: Generated) -> dict[str, Any]:
    b = g.bundle
    return {
        **head("envdoctor.dockerfile"),
        "dockerfile": str(g.dockerfile),
        "tool_requirements": str(g.tool_requirements),
        "bundle": str(b.folder),
        "base": {"kind": type(g.base).__name__, "image": g.base.image, "sentence": g.base.sentence()},
        "python": b.python,
        "platform": b.platform,
        "accelerator": b.accelerator,
        "envdoctor_wheel": b.envdoctor_wheel.name,
        "check_args": list(g.check_args),
        "notes": list(g.notes),
    }
