"""Make a cell: resolve it with `uv pip compile`, pass it through the wheel gate, write both files."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envdoctor import lockgate
from envdoctor.lock.cells import LockTarget, committed_targets, paths
from envdoctor.lock.files import body_digest, header, pins
from envdoctor.lock.inputs import LockInputs, inputs_for
from envdoctor.lock.outcomes import CellOutcome, Locked, LockRefused, left_out_by, record
from envdoctor.resources import lockfiles_dir
from envdoctor.uv import Indexes, Uv, UvError, find_uv, write_config


def make(
    t: LockTarget,
    directory: Path | None = None,
    *,
    uv: Uv | None = None,
    inputs: LockInputs | None = None,
    indexes: Indexes | None = None,
) -> Locked:
    """Resolve `t` with uv, pass it through the wheel gate and write both lockfiles.

    Raises UvError when it does not resolve and LockRefused when the gate refuses; nothing is written then.
    """
    uv = uv or find_uv()
    directory = directory or lockfiles_dir()
    directory.mkdir(parents=True, exist_ok=True)
    inputs = inputs or inputs_for(t)
    indexes = indexes or Indexes()
    txt, pylock = paths(t, directory)
    with tempfile.TemporaryDirectory(prefix="envdoctor-lock-") as tmp:
        work = Path(tmp)
        files = {}
        for key, lines in (
            ("in", inputs.requirements),
            ("constraints", inputs.constraints),
            ("build", inputs.build_constraints),
            ("excludes", inputs.excludes),
        ):
            files[key] = Path(f"{t.name}.{key}.txt")
            (work / files[key]).write_text("\n".join(lines) + "\n")
        config = None
        if inputs.extra_build:
            config = write_config(work, inputs.extra_build)
        idx = Indexes(
            index_url=indexes.index_url,
            extra_index_urls=indexes.extra_index_urls,
            find_links=(*inputs.find_links, *indexes.find_links),
            strategy=indexes.strategy,
            no_index=indexes.no_index,
        )
        for fmt, out in ((None, Path("lock.txt")), ("pylock.toml", Path("pylock.toml"))):
            uv.pip_compile(
                files["in"],
                out,
                python_version=inputs.python_version,
                python_platform=inputs.python_platform,
                constraints=[files["constraints"]] if inputs.constraints else [],
                build_constraints=[files["build"]] if inputs.build_constraints else [],
                excludes=[files["excludes"]],
                indexes=idx,
                generate_hashes=fmt is None,
                exclude_newer=inputs.exclude_newer,
                fmt=fmt,
                cwd=work,
                config_file=config,
            )
        txt_body = (work / "lock.txt").read_text()
        pylock_body = (work / "pylock.toml").read_text()
        verdict = lockgate.gate(lockgate.read_pylock(work / "pylock.toml"), t.python, t.platform, inputs.source_builds)
        if not verdict.ok:
            raise LockRefused(t, verdict)
        head = header(t, inputs, verdict, body_digest(txt_body, pylock_body))
        txt.write_text(head + txt_body)
        pylock.write_text(head + pylock_body)
    return Locked(t, txt, pylock, sum(1 for _ in pins(txt)), verdict.builds)


def make_all(
    targets: Sequence[LockTarget] | None = None,
    directory: Path | None = None,
    *,
    uv: Uv | None = None,
    jobs: int = 1,
    progress: Callable[[CellOutcome], None] | None = None,
) -> tuple[CellOutcome, ...]:
    """Make every target (by default the whole committed matrix, recorded in matrix.json): each cell is
    Locked, or LeftOut with the reason (uv found no resolution, or the wheel gate refused it)."""
    directory = directory or lockfiles_dir()
    chosen = list(targets or committed_targets())
    uv = uv or find_uv()

    def one(t: LockTarget) -> CellOutcome:
        out: CellOutcome
        try:
            out = make(t, directory, uv=uv)
        except (UvError, LockRefused) as exc:
            out = left_out_by(t, exc)
        if progress:
            progress(out)
        return out

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = tuple(pool.map(one, chosen))
    committed = {t.name for t in committed_targets()}
    record(directory, [o for o in results if o.target.name in committed])
    return results
