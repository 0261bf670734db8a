"""Build a package from its PyPI sdist into the local wheelhouse: mmcv's compiled ops as a labelled wheel.

The build that works (docs/wheels.md): the sdist checked against PyPI's sha256, unpacked and fixed
where the target's Python or numpy breaks it ([[build.fix]] in envdoctor/data/wheels.toml), no build
isolation (the build imports the target's own torch and numpy), its build requirements (setuptools <82,
wheel, ninja or cython) in the target first, for mmcv MMCV_WITH_OPS=1 and, for CUDA, FORCE_CUDA=1 and
TORCH_CUDA_ARCH_LIST. A CUDA build gets its toolchain from envdoctor/cuda/toolchain.py (nvcc of
torch's CUDA release, the machine's or PyPI's, and the headers of torch's CUDA wheels). A finished mmcv
wheel is then relabelled `<version>+pt<torch><platform>` (envdoctor/wheellabel.py): the file says which
torch it needs, so the wheelhouse can be shared and indexed without a folder per torch; a CUDA wheel also
says, in `<dist-info>/envdoctor-build.json`, the architectures its `_ext` holds machine code for, read
from the binary (envdoctor/cuda/fatbin.py), and each requested one must be there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tarfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from envdoctor import cachedir, pypi
from envdoctor.cuda import archs, fatbin, toolchain
from envdoctor.datafiles import load
from envdoctor.errors import EnvdoctorError
from envdoctor.inside import run_json
from envdoctor.steps import SdistBuild
from envdoctor.uv import Uv, UvError
from envdoctor.wheelfile import BUILD_RECORD


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
# ninja's status line, which torch's extension builder passes through to uv: "[37/136] /usr/bin/nvcc ...".
_NINJA_STATUS = re.compile(r"^\[(\d+)/(\d+)\] ")


class CompileProgress:
    """Objects compiled out of all, read from the build's ninja lines as they stream; `report` hears each
    change ("37/136 objects compiled"), for the step's progress line."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self.done = 0
        self.total = 0
        self._report = report

    def feed(self, line: str) -> None:
        m = _NINJA_STATUS.match(line)
        if m is None:
            return
        # Into a pipe, ninja prints "[k/N]" as each edge finishes: k are done; N is fixed from the start.
        self.done, self.total = max(self.done, int(m.group(1))), int(m.group(2))
        self._report(self.describe())

    def describe(self) -> str:
        return f"{self.done}/{self.total} objects compiled" if self.total else ""


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


def build_or_report(
    uv: Uv,
    name: str,
    version: str,
    tree: Path,
    raw: Path,
    python: Path,
    cons: Path,
    on_line: Callable[[str], None] | None = None,
) -> None:
    """uv's wheel build; a failure becomes a BuildError that shows the compiler's first errors and where the
    whole log is, instead of setuptools' last line ("Error compiling objects for extension")."""
    try:
        uv.build_wheel(str(tree), raw, python=python, build_constraints=[cons], on_line=on_line)
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
    torch: SpecifierSet | None
    """The torch releases it is for (the C++ standard torch's headers require); None for any."""
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
            SpecifierSet(r["torch"]) if "torch" in r else None,
            r["file"],
            r["old"],
            r["new"],
            r["why"],
        )
        for r in rows
    )


def source_fixes(package: str, python_version: str, torch_version: str | None = None) -> tuple[SourceFix, ...]:
    """The fixes for `package` built on `python_version` against torch `torch_version` (None: no torch, so
    none of the fixes made for a torch)."""
    name = canonicalize_name(package)
    torch = Version(torch_version).public if torch_version else None

    def fits(spec: SpecifierSet | None, version: str | None) -> bool:
        return spec is None or (version is not None and spec.contains(version, prereleases=True))

    return tuple(
        f for f in source_fixes_all() if f.package == name and fits(f.python, python_version) and fits(f.torch, torch)
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


_VERSIONS = """
import json, sys
from importlib import metadata
try:
    torch = metadata.version("torch")
except metadata.PackageNotFoundError:
    torch = None
print(json.dumps({"python": "%d.%d.%d" % sys.version_info[:3], "torch": torch}))
"""


def target_versions(python: Path) -> tuple[str, str | None]:
    """(Python's version, torch's or None) of the build's target: the fixes depend on both."""
    data = run_json(python, ["-c", _VERSIONS], what="asking its versions", timeout=60, require_exit_zero=True).data
    return str(data["python"]), data["torch"]


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def relabel(wheel: Path, version: Version, out_dir: Path, extra: Mapping[str, bytes] | None = None) -> Path:
    """A copy of `wheel` whose distribution version is `version` (a local label added), in `out_dir`;
    `extra` files (name: content) are added to its dist-info folder.

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
    for extra_name, data in (extra or {}).items():
        info = zipfile.ZipInfo(f"{new_info}/{extra_name}", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        entries.append((info, data))
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


@dataclass(frozen=True)
class Built:
    wheel: Path
    toolchain: toolchain.Toolchain | None
    """The CUDA toolchain of a CUDA build; None for a CPU one."""
    record: Mapping[str, Any] | None
    """What BUILD_RECORD says (a CUDA build); None for a CPU one."""
    seconds: float


def _ext_of(wheel: Path, dest: Path) -> Path | None:
    """The compiled `_ext` shared object of a built mmcv wheel, unpacked into `dest`."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if re.fullmatch(r"[^/]+/_ext[^/]*\.so", n)]
        if not names:
            return None
        dest.mkdir(parents=True, exist_ok=True)
        out = dest / Path(names[0]).name
        out.write_bytes(zf.read(names[0]))
        return out


def device_record(
    wheel: Path, work: Path, requested: str, torch: str | None, chain: toolchain.Toolchain
) -> dict[str, Any]:
    """What the built `_ext` holds, read from its fat binaries; a requested architecture that a kernel
    object lacks (nvcc skipped it, or a flag overrode TORCH_CUDA_ARCH_LIST) stops the build here."""
    ext = _ext_of(wheel, work / "ext")
    if ext is None:
        raise BuildError(f"the CUDA build finished but {wheel.name} has no compiled _ext")
    each = fatbin.read_each(ext)
    if not each:
        raise BuildError(f"the CUDA build finished but {wheel.name}'s _ext holds no device code (a CPU-only build)")
    wanted = archs.parse(requested) if requested else ()
    for arch in wanted:
        lacking = sum(1 for d in each if arch.sm not in d.sass or (arch.ptx and arch.sm not in d.ptx))
        if lacking:
            kind = "machine code" + (" and PTX" if arch.ptx else "")
            raise BuildError(
                f"{lacking} of the {len(each)} kernel objects in {wheel.name}'s _ext hold no {kind} for sm_{arch.sm}"
                f" ({arch}), which TORCH_CUDA_ARCH_LIST={requested} asked for"
            )
    return {
        "torch": torch,
        "cuda": chain.cuda,
        "toolkit": "machine" if isinstance(chain.source, toolchain.MachineToolkit) else "pypi",
        "requested": requested,
        "kernel_objects": len(each),
        "sass": sorted(set().union(*(d.sass for d in each))),
        "ptx": sorted(set().union(*(d.ptx for d in each))),
    }


def build_labelled(
    uv: Uv,
    python: Path,
    requirement: str,
    wheelhouse: Path,
    work: Path,
    *,
    env: Sequence[tuple[str, str]] = (),
    build_constraints: Sequence[str] = (),
    on_status: Callable[[str], None] | None = None,
) -> Built:
    """Build `name==<version>[+<label>]` from the PyPI sdist of `<version>` into `wheelhouse`.

    The sdist is unpacked and the fixes for this package and the target's Python and torch applied;
    build requirements go into the target first: the build runs without isolation against its torch and
    numpy. With FORCE_CUDA=1 in `env` the build gets the CUDA toolchain of torch's release, and the
    wheel records what its `_ext` holds. `on_status` hears the compile's progress while it runs.
    """
    started = time.monotonic()
    name, _, full = requirement.partition("==")
    version = Version(full)
    py, torch = target_versions(python)
    settings = dict(env)
    chain = toolchain.resolve(python, uv) if settings.get("FORCE_CUDA") == "1" else None
    if chain is not None:
        settings.update(chain.env())
    sdist = download_sdist(name, version.public, work)
    tree = unpack(sdist, work / "src")
    apply_fixes(tree, source_fixes(name, py, torch))
    cons = work / "build-constraints.txt"
    cons.write_text("\n".join(build_constraints) + "\n")
    uv.pip_install(python, list(build_requires(name)), extra=["--build-constraints", str(cons)])
    raw = work / "raw-wheels"
    raw.mkdir(parents=True, exist_ok=True)
    progress = CompileProgress(on_status or (lambda _text: None))
    build_or_report(uv.with_env(**settings), name, version.public, tree, raw, python, cons, progress.feed)
    dist = canonicalize_name(name).replace("-", "_")
    built = sorted(raw.glob(f"{dist}-{version.public}-*.whl"))
    if not built:
        raise BuildError(f"the {name} {version.public} build finished but left no wheel")
    record = None
    if chain is not None:
        record = device_record(built[-1], work, settings.get("TORCH_CUDA_ARCH_LIST", ""), torch, chain)
    return Built(label_into(built[-1], version, wheelhouse, record), chain, record, time.monotonic() - started)


def label_into(raw: Path, version: Version, wheelhouse: Path, record: Mapping[str, Any] | None = None) -> Path:
    """The built wheel `raw`, as `version` (its label) and with its build record, in `wheelhouse`."""
    extra = {BUILD_RECORD: json.dumps(record, indent=1).encode()} if record is not None else None
    if version.local is None and extra is None:
        wheelhouse.mkdir(parents=True, exist_ok=True)
        target = wheelhouse / raw.name
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(raw.read_bytes())
        tmp.replace(target)
        return target
    return relabel(raw, version, wheelhouse, extra)


def run_step(step: SdistBuild, uv: Uv, python: Path, work: Path, on_status: Callable[[str], None] | None = None) -> str:
    """Carry out a build step (BuildMmcv of envdoctor/strategies/prebuilt.py, or any sdist build into
    the wheelhouse, e.g. xtcocotools against the target's numpy 2): the message for the user.

    The step names the requirement (`mmcv==2.1.0+pt2.13.0cpu`: the label is added to the built wheel;
    `xtcocotools==1.14.3`), the wheelhouse, the build environment and the build constraints.
    """
    wheelhouse = Path(step.wheelhouse)
    work = work / f"build-{canonicalize_name(step.requirement.partition('==')[0])}"
    built = build_labelled(
        uv,
        python,
        step.requirement,
        wheelhouse,
        work,
        env=step.env,
        build_constraints=step.build_constraints,
        on_status=on_status,
    )
    said = f"built {built.wheel.name} into {wheelhouse} in {built.seconds:.0f} s"
    if built.toolchain is not None and built.record is not None:
        said += (
            f" with {built.toolchain.describe()}; its _ext holds machine code for "
            + ", ".join(f"sm_{sm}" for sm in built.record["sass"])
            + f" in each of its {built.record['kernel_objects']} kernel objects"
        )
    return said
