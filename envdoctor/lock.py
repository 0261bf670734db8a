"""Pin a strategy's environment for a target (Python, accelerator, OS) with `uv pip compile`.

Each lockfile is written twice: requirements.txt with hashes, and PEP 751 `pylock.<name>.toml`.
Its header records every input and their sha256, so `check()` can tell, without the network,
whether a committed lockfile still matches what envdoctor's data files say today.

torch and torchvision are never in a lockfile: they are held where the user has them (or installed
first from the accelerator's torch index, which the header names), and left out of the resolution.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from packaging.version import Version

from envdoctor.datafiles import load
from envdoctor.resources import lockfiles_dir
from envdoctor.strategies import matrix
from envdoctor.strategies.common import HELD, lock_name, windows_ok
from envdoctor.strategies.sets import active_constraints, excludes, extra_build_pairs, get_set
from envdoctor.uv import Indexes, Uv, UvError, find_uv, write_config

MARK = "# envdoctor lockfile: "
_NAME = re.compile(
    r"^(?P<strategy>prebuilt|lite-stub|mmpose-free)-(?P<set>.+)-py(?P<py>\d)(?P<minor>\d+)"
    r"-(?P<acc>cpu|cu\d+|rocm[\d.]+)(?:-torch(?P<series>\d+\.\d+))?-(?P<os>linux|windows|macos)$"
)


@dataclass(frozen=True)
class LockTarget:
    strategy: str
    set_name: str
    python: str  # "3.11"
    accelerator: str  # cpu | cuXYZ
    os: str  # linux | windows | macos
    torch_series: str | None = None
    """Only prebuilt: the wheel index is per torch series."""

    @property
    def name(self) -> str:
        acc = f"{self.accelerator}-torch{self.torch_series}" if self.torch_series else self.accelerator
        return lock_name(self.strategy, self.set_name, self.python, acc, self.os)

    @classmethod
    def parse(cls, name: str) -> LockTarget:
        m = _NAME.match(name)
        if not m:
            raise ValueError(f"{name} is not a lockfile name (strategy-set-pyXY-accelerator-os)")
        return cls(m["strategy"], m["set"], f"{m['py']}.{m['minor']}", m["acc"], m["os"], m["series"])


@dataclass(frozen=True)
class LockInputs:
    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    build_constraints: tuple[str, ...]
    excludes: tuple[str, ...]
    find_links: tuple[str, ...]
    python_version: str
    python_platform: str
    exclude_newer: str
    torch_index: str
    held: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    extra_build: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def digest(self) -> str:
        return _digest(asdict(self))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class LockResult:
    target: LockTarget
    requirements_txt: Path
    pylock: Path
    packages: int


@dataclass(frozen=True)
class CheckResult:
    path: Path
    ok: bool
    message: str


def _settings() -> dict[str, object]:
    return load("lock.toml")


def _prebuilt_mmcv(t: LockTarget, openmmlab: tuple[str, ...]) -> tuple[str, str]:
    """(mmcv version, find-links page) of the official wheel for a prebuilt lock target."""
    if not t.torch_series:
        raise ValueError("a prebuilt lockfile needs a torch series: --torch-series M.m")
    tag = "cp" + t.python.replace(".", "")
    rows = [
        r
        for r in matrix.for_series(t.os, t.torch_series)
        if t.accelerator in r.accelerators and tag in r.python and not windows_ok(r.mmcv, openmmlab)
    ]
    if not rows:
        raise ValueError(
            f"no official mmcv wheel inside the windows for torch {t.torch_series}, {t.accelerator}, {tag}, {t.os}"
        )
    best = max(rows, key=lambda r: Version(r.mmcv))
    return best.mmcv, matrix.index_url(t.accelerator, t.torch_series)


def inputs_for(t: LockTarget) -> LockInputs:
    """Everything that decides the lockfile's content, read from envdoctor's data files."""
    settings = _settings()
    rset = get_set(t.set_name).for_target(t.python, t.os)
    find_links: tuple[str, ...] = ()
    notes: list[str] = []
    if t.strategy == "lite-stub":
        packages = (*rset.requirements, *rset.openmmlab, f"mmcv-lite=={rset.mmcv}")
        notes.append("after installing, envdoctor adds the generated mmcv._ext stub (envdoctor fix does)")
    elif t.strategy == "prebuilt":
        mmcv, page = _prebuilt_mmcv(t, rset.openmmlab)
        packages = (*rset.requirements, *rset.openmmlab, f"mmcv=={mmcv}")
        find_links = (page,)
    elif t.strategy == "mmpose-free":
        packages = rset.requirements
        notes.append("after installing, envdoctor installs its DWPose port as `mmpose` (envdoctor fix does)")
    else:
        raise ValueError(f"unknown strategy {t.strategy}")
    # torch is unknown when locking: the torch rows are judged against the oldest torch this Python can have.
    cons = active_constraints(None, packages, t.python)
    platform = settings["platform"][t.os]  # type: ignore[index]
    torch_index = str(settings["torch"]["index"]).format(accelerator=t.accelerator)  # type: ignore[index]
    return LockInputs(
        requirements=tuple(packages),
        constraints=tuple(dict.fromkeys(c.requirement for c in cons if not c.build)),
        build_constraints=tuple(dict.fromkeys(c.requirement for c in cons if c.build)),
        excludes=tuple(n for n, _ in excludes()) + HELD,
        find_links=find_links,
        python_version=t.python,
        python_platform=str(platform),
        exclude_newer=str(settings["exclude_newer"]),
        torch_index=torch_index,
        held=HELD,
        notes=tuple(notes),
        extra_build=extra_build_pairs(t.python),
    )


def committed_targets() -> tuple[LockTarget, ...]:
    out = []
    for row in _settings()["committed"]:  # type: ignore[union-attr]
        for s in row["strategies"]:
            for set_name in row["sets"]:
                for py in row["python"]:
                    for acc in row["accelerators"]:
                        for os_name in row["os"]:
                            out.append(LockTarget(s, set_name, py, acc, os_name))
    return tuple(out)


def header(t: LockTarget, inputs: LockInputs) -> str:
    flags = f"--strategy {t.strategy} --set {t.set_name} --python-version {t.python} --accelerator {t.accelerator}"
    flags += f" --os {t.os}" + (f" --torch-series {t.torch_series}" if t.torch_series else "")
    lines = [
        f"{MARK}{t.name}",
        f"# strategy {t.strategy}, requirement set {t.set_name}, Python {t.python}, {t.accelerator}, "
        f"{t.os} ({inputs.python_platform})",
        f"# held, not in this file: {', '.join(inputs.held)}. Install them first from {inputs.torch_index},",
        "# then `uv pip install --no-deps -r` this file (`envdoctor fix` does both, and checks the result).",
        *[f"# note: {n}" for n in inputs.notes],
        f"# regenerate: envdoctor lock {flags}",
        f"# inputs-sha256: {inputs.digest()}",
        f"# inputs: {json.dumps(inputs.to_dict(), sort_keys=True)}",
    ]
    return "\n".join(lines) + "\n"


def read_header(path: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            if line.startswith(MARK):
                out["name"] = line[len(MARK) :].strip()
            elif line.startswith("# inputs-sha256: "):
                out["sha256"] = line.split(":", 1)[1].strip()
            elif line.startswith("# inputs: "):
                out["inputs"] = json.loads(line.split(":", 1)[1])
    return out


def paths(t: LockTarget, directory: Path) -> tuple[Path, Path]:
    return directory / f"{t.name}.txt", directory / f"pylock.{t.name}.toml"


def make(
    t: LockTarget,
    directory: Path | None = None,
    *,
    uv: Uv | None = None,
    inputs: LockInputs | None = None,
    indexes: Indexes | None = None,
) -> LockResult:
    """Resolve `t` with uv and write both lockfiles; raises UvError when it does not resolve."""
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
        head = header(t, inputs)
        body = (work / "lock.txt").read_text()
        txt.write_text(head + body)
        pylock.write_text(head + (work / "pylock.toml").read_text())
    return LockResult(t, txt, pylock, sum(1 for _ in pins(txt)))


def pins(path: Path) -> Iterator[str]:
    """The `name==version` lines of a requirements lockfile."""
    for line in path.read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            yield line.split(" ")[0].rstrip("\\").strip()


def check(
    directory: Path | None = None,
    *,
    inputs_of: Callable[[LockTarget], LockInputs] = inputs_for,
) -> tuple[CheckResult, ...]:
    """Does every lockfile in `directory` still match its inputs? No network: the inputs hash decides."""
    directory = directory or lockfiles_dir()
    results = []
    for path in sorted(directory.glob("*.txt")):
        head = read_header(path)
        if "name" not in head:
            continue
        try:
            t = LockTarget.parse(str(head["name"]))
            now = inputs_of(t)
        except (ValueError, KeyError) as exc:
            results.append(CheckResult(path, False, f"{path.name}: cannot rebuild its inputs: {exc}"))
            continue
        twin = paths(t, directory)[1]
        recorded = head.get("inputs")
        if not isinstance(recorded, dict) or _digest(recorded) != head.get("sha256"):
            results.append(CheckResult(path, False, f"{path.name}: its header was edited (inputs do not hash to it)"))
        elif head.get("sha256") != now.digest():
            old = head.get("inputs") if isinstance(head.get("inputs"), dict) else {}
            changed = sorted(k for k, v in now.to_dict().items() if _norm(old.get(k)) != _norm(v))  # type: ignore[union-attr]
            results.append(
                CheckResult(
                    path,
                    False,
                    f"{path.name} is stale: its inputs changed ({', '.join(changed) or 'hash'}); "
                    f"run `envdoctor lock` to make it again",
                )
            )
        elif not twin.is_file() or read_header(twin).get("sha256") != now.digest():
            results.append(CheckResult(path, False, f"{twin.name} is missing or was made from other inputs"))
        else:
            results.append(CheckResult(path, True, f"{path.name} matches its inputs"))
    return tuple(results)


def _digest(inputs: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _norm(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def make_all(
    targets: Sequence[LockTarget] | None = None, directory: Path | None = None, *, uv: Uv | None = None
) -> tuple[tuple[LockTarget, LockResult | str], ...]:
    """Make every target; a target that does not resolve gives uv's reason instead of a result."""
    out: list[tuple[LockTarget, LockResult | str]] = []
    for t in targets or committed_targets():
        try:
            out.append((t, make(t, directory, uv=uv)))
        except UvError as exc:
            out.append((t, str(exc)))
    return tuple(out)
