"""Build a package from its PyPI sdist into the local wheelhouse: mmcv's compiled ops as a labelled wheel.

The build that works (docs/wheels.md): the sdist checked against PyPI's sha256, unpacked and fixed
where the target's Python or numpy breaks it ([[build.fix]] in envdoctor/data/wheels.toml), no build
isolation (the build imports the target's own torch and numpy), its build requirements (setuptools <82,
wheel, ninja or cython) in the target first, for mmcv MMCV_WITH_OPS=1 and, for CUDA, FORCE_CUDA=1 and
TORCH_CUDA_ARCH_LIST. A finished mmcv wheel is then relabelled `<version>+pt<torch><platform>`
(envdoctor/wheellabel.py): the file says which torch it needs, so the wheelhouse can be shared and
indexed without a folder per torch.
"""

from __future__ import annotations

import base64
import hashlib
import re
import tarfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from envdoctor import cachedir, pypi
from envdoctor.datafiles import load
from envdoctor.errors import EnvdoctorError
from envdoctor.inside import run_json
from envdoctor.steps import SdistBuild
from envdoctor.uv import Uv, UvError


class BuildError(EnvdoctorError, RuntimeError):
    """A build did not produce its wheel; the message is the user's sentence."""

    code = "build-failed"
    exit_code = 1


# A compiler's own error lines: gcc/clang `file:12:3: error: ...` and `fatal error:`, nvcc/cicc `file(12): error: ...`,
# MSVC `file(12): error C2065: ...`, and the kernel's OOM kill of a compiler process. setuptools' closing
# "error: command 'g++' failed" is what every failure ends with, so it only counts when nothing else is found.
_COMPILER_ERROR = re.compile(
    r"(?::\d+(?::\d+)?: (?:fatal )?error\b|\(\d+\): (?:catastrophic )?error\b|^\S*\s*fatal error\b|"
    r"\bKilled signal terminated program\b|\berror: unrecognized command.line option\b)",
    re.IGNORECASE,
)
_GENERIC_ERROR = re.compile(r"^\s*(?:error|ERROR)\b[: ]")


def first_errors(log: str, limit: int = 6) -> tuple[str, ...]:
    """The first error lines of a build log, compiler errors before the generic ones that follow them."""
    lines = [ln.rstrip() for ln in log.splitlines()]
    compiler = [ln.strip() for ln in lines if _COMPILER_ERROR.search(ln)]
    if compiler:
        return tuple(dict.fromkeys(ln[:400] for ln in compiler))[:limit]
    return tuple(dict.fromkeys(ln.strip()[:400] for ln in lines if _GENERIC_ERROR.match(ln)))[:limit]


def keep_log(name: str, version: str, text: str) -> Path:
    """The whole log of a failed build, kept in envdoctor's cache (the scratch folder goes with the run)."""
    folder = cachedir.cache_root() / "build-logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{canonicalize_name(name)}-{version}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    path.write_text(text, encoding="utf-8")
    return path


def build_or_report(uv: Uv, name: str, version: str, tree: Path, raw: Path, python: Path, cons: Path) -> None:
    """uv's wheel build; a failure becomes a BuildError that shows the compiler's first errors and where the
    whole log is, instead of setuptools' last line ("Error compiling objects for extension")."""
    try:
        uv.build_wheel(str(tree), raw, python=python, build_constraints=[cons])
    except UvError as exc:
        log = keep_log(name, version, exc.stderr)
        errors = first_errors(exc.stderr)
        shown = "\n".join(f"  {ln}" for ln in errors) if errors else "  (no error line found: read the log)"
        raise BuildError(
            f"the {name} {version} build failed (uv exit {exc.returncode}); the first errors:\n{shown}\n"
            f"the whole log: {log}"
        ) from exc


def download_sdist(name: str, version: str, dest: Path) -> Path:
    """The PyPI sdist, checked against PyPI's sha256 (envdoctor.pypi); a failure is a BuildError."""
    try:
        return pypi.download_sdist(name, version, dest)
    except pypi.SdistError as exc:
        raise BuildError(str(exc)) from exc


@dataclass(frozen=True)
class SourceFix:
    """One edit of an unpacked sdist before it is built (envdoctor/data/wheels.toml, [[build.fix]])."""

    package: str
    python: SpecifierSet | None
    file: str
    old: str
    new: str
    why: str


@cache
def source_fixes_all() -> tuple[SourceFix, ...]:
    rows = load("wheels.toml")["build"].get("fix", [])
    return tuple(
        SourceFix(
            canonicalize_name(r["package"]),
            SpecifierSet(r["python"]) if "python" in r else None,
            r["file"],
            r["old"],
            r["new"],
            r["why"],
        )
        for r in rows
    )


def source_fixes(package: str, python_version: str) -> tuple[SourceFix, ...]:
    name = canonicalize_name(package)
    return tuple(
        f
        for f in source_fixes_all()
        if f.package == name and (f.python is None or f.python.contains(python_version, prereleases=True))
    )


def build_requires(package: str) -> tuple[str, ...]:
    """What goes into the target before a build of `package` without isolation."""
    table = load("wheels.toml")["build"]["requires"]
    return tuple(table.get(canonicalize_name(package), ("setuptools<82", "wheel")))


def unpack(sdist: Path, dest: Path) -> Path:
    """The sdist's top folder, unpacked under `dest` (no member may escape it)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, filter="data")
        else:  # pragma: no cover - Pythons without extraction filters
            root = dest.resolve()
            for member in tf.getmembers():
                if not (dest / member.name).resolve().is_relative_to(root) or member.issym() or member.islnk():
                    raise BuildError(f"{sdist.name} has an unsafe member: {member.name}")
            tf.extractall(dest)
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise BuildError(f"{sdist.name} does not unpack to one folder")
    return tops[0]


def apply_fixes(tree: Path, fixes: Sequence[SourceFix]) -> list[str]:
    """Edit the unpacked sdist; each fix must find its text. Returns what was changed, in words."""
    done = []
    for fix in fixes:
        path = tree / fix.file
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if fix.old not in text:
            raise BuildError(
                f"{fix.package}: {fix.file} no longer contains {fix.old!r}; the sdist changed, so the fix for "
                f"'{fix.why}' cannot be applied blindly"
            )
        path.write_text(text.replace(fix.old, fix.new), encoding="utf-8")
        done.append(f"{fix.file}: {fix.old!r} -> {fix.new!r}")
    return done


def python_version(python: Path) -> str:
    code = "import json, sys; print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3]}))"
    return str(
        run_json(python, ["-c", code], what="asking its version", timeout=60, require_exit_zero=True).data["version"]
    )


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def relabel(wheel: Path, version: Version, out_dir: Path) -> Path:
    """A copy of `wheel` whose distribution version is `version` (a local label added), in `out_dir`.

    Only the distribution's metadata changes (dist-info folder, METADATA, RECORD, file name); the
    package's own `__version__` stays the public version, which is what mmdet's and mmpose's
    import-time windows compare.
    """
    name, old, _build_tag, _tags = parse_wheel_filename(wheel.name)
    dist = canonicalize_name(name).replace("-", "_")
    old_info, new_info = f"{dist}-{old}.dist-info", f"{dist}-{version}.dist-info"
    rest = wheel.name.split("-", 2)[2]
    target = out_dir / f"{dist}-{version}-{rest}"
    entries: list[tuple[zipfile.ZipInfo, bytes]] = []
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            data = zf.read(info)
            arc = info.filename
            if arc.startswith(old_info + "/"):
                arc = new_info + arc[len(old_info) :]
                if arc == f"{new_info}/RECORD":
                    continue
                if arc == f"{new_info}/METADATA":
                    lines = data.decode("utf-8").split("\n")
                    lines = [f"Version: {version}" if ln.startswith("Version: ") else ln for ln in lines]
                    data = "\n".join(lines).encode("utf-8")
            new = zipfile.ZipInfo(arc, date_time=info.date_time)
            new.external_attr = info.external_attr
            new.compress_type = zipfile.ZIP_DEFLATED
            entries.append((new, data))
    record = "".join(f"{i.filename},{_record_hash(d)},{len(d)}\n" for i, d in entries if not i.is_dir())
    record += f"{new_info}/RECORD,,\n"
    rec_info = zipfile.ZipInfo(f"{new_info}/RECORD", date_time=(1980, 1, 1, 0, 0, 0))
    rec_info.external_attr = 0o644 << 16
    rec_info.compress_type = zipfile.ZIP_DEFLATED
    entries.append((rec_info, record.encode()))
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")  # a reader of the wheelhouse never sees half a wheel
    with zipfile.ZipFile(tmp, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    tmp.replace(target)
    return target


def build_labelled(
    uv: Uv,
    python: Path,
    requirement: str,
    wheelhouse: Path,
    work: Path,
    *,
    env: Sequence[tuple[str, str]] = (),
    build_constraints: Sequence[str] = (),
) -> Path:
    """Build `name==<version>[+<label>]` from the PyPI sdist of `<version>` into `wheelhouse`; the wheel's path.

    The sdist is unpacked and the fixes for this package and the target's Python applied; build
    requirements go into the target first: the build runs without isolation against its torch and numpy.
    """
    name, _, full = requirement.partition("==")
    version = Version(full)
    sdist = download_sdist(name, version.public, work)
    tree = unpack(sdist, work / "src")
    apply_fixes(tree, source_fixes(name, python_version(python)))
    cons = work / "build-constraints.txt"
    cons.write_text("\n".join(build_constraints) + "\n")
    uv.pip_install(python, list(build_requires(name)), extra=["--build-constraints", str(cons)])
    raw = work / "raw-wheels"
    raw.mkdir(parents=True, exist_ok=True)
    build_or_report(uv.with_env(**dict(env)), name, version.public, tree, raw, python, cons)
    dist = canonicalize_name(name).replace("-", "_")
    built = sorted(raw.glob(f"{dist}-{version.public}-*.whl"))
    if not built:
        raise BuildError(f"the {name} {version.public} build finished but left no wheel")
    if version.local is None:
        wheelhouse.mkdir(parents=True, exist_ok=True)
        target = wheelhouse / built[-1].name
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(built[-1].read_bytes())
        tmp.replace(target)
        return target
    return relabel(built[-1], version, wheelhouse)


def run_step(step: SdistBuild, uv: Uv, python: Path, work: Path) -> str:
    """Carry out a build step (BuildMmcv of envdoctor/strategies/prebuilt.py, or any sdist build into
    the wheelhouse, e.g. xtcocotools against the target's numpy 2): the message for the user.

    The step names the requirement (`mmcv==2.1.0+pt2.13.0cpu`: the label is added to the built wheel;
    `xtcocotools==1.14.3`), the wheelhouse, the build environment and the build constraints.
    """
    wheelhouse = Path(step.wheelhouse)
    work = work / f"build-{canonicalize_name(step.requirement.partition('==')[0])}"
    wheel = build_labelled(
        uv,
        python,
        step.requirement,
        wheelhouse,
        work,
        env=step.env,
        build_constraints=step.build_constraints,
    )
    return f"built {wheel.name} into {wheelhouse}"
