"""envdoctor facts probe: runs INSIDE the target interpreter and prints one JSON document.

Standard library only, Python 3.8 to 3.13. It never imports third-party packages (that is the
imports probe's job), so it is fast and cannot crash on a broken environment. Every section is
gathered under its own guard: a failure becomes an "error" field, never a traceback on stdout.
"""

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import threading

SCHEMA = 1
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib")


def _guard(fn):
    try:
        return fn()
    except Exception as exc:  # a probe reports, it never raises
        return {"error": f"{type(exc).__name__}: {exc}"}


def _run(argv, timeout=15):
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, text=True)
        return proc.returncode, proc.stdout, proc.stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, "", str(exc)


def python_facts():
    stdlib = sysconfig.get_path("stdlib") or ""
    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    marker = os.path.join(stdlib, "EXTERNALLY-MANAGED")
    return {
        "version": "{}.{}.{}".format(*sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "is_venv": in_venv,
        "soabi": sysconfig.get_config_var("SOABI"),
        "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
        "abiflags": getattr(sys, "abiflags", ""),
        "cp_tag": "{}{}{}".format("cp" if sys.implementation.name == "cpython" else "pp", *sys.version_info[:2]),
        "platform_tag": sysconfig.get_platform().replace("-", "_").replace(".", "_"),
        "externally_managed": (not in_venv) and os.path.isfile(marker),
        "site_packages": [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))],
        "maxsize_64bit": sys.maxsize > 2**32,
    }


def platform_facts():
    libc, libc_version = platform.libc_ver()
    return {
        "system": platform.system(),
        "machine": platform.machine(),
        "release": platform.release(),
        "libc": libc or None,
        "glibc": libc_version if libc == "glibc" else None,
        "mac_ver": platform.mac_ver()[0] or None,
    }


def _top_levels(text, files):
    if text:
        return sorted({line.strip() for line in text.splitlines() if line.strip()})
    names = set()
    for f in files:
        parts = str(f).replace("\\", "/").split("/")
        head = parts[0]
        if head.endswith((".dist-info", ".egg-info", ".data")) or head in ("..", "__pycache__", ""):
            continue
        if len(parts) == 1:
            if head.endswith(".py"):
                names.add(head[:-3])
            elif head.endswith(COMPILED_SUFFIXES):
                names.add(head.split(".")[0])
            elif head.endswith(".pth"):
                continue
        else:
            names.add(head)
    return sorted(names)


def _read(dist, filename):
    """One metadata file as text; None when absent. Undecodable bytes raise, naming the file."""
    try:
        text = dist.read_text(filename)
        if text is None:
            # importlib.metadata answers None for a file it may not read, too: tell that from absent.
            path = os.path.join(str(getattr(dist, "_path", "") or ""), filename)
            if os.path.exists(path) and not os.access(path, os.R_OK):
                raise _Damage(filename, "unreadable (permission denied)")
        return text
    except UnicodeDecodeError as exc:
        raise _Damage(filename, f"not UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise _Damage(filename, f"unreadable ({exc.strerror or type(exc).__name__})") from None


class _Damage(Exception):
    def __init__(self, filename, problem):
        Exception.__init__(self, filename, problem)
        self.filename = filename
        self.problem = problem


def _record_paths(dist, is_dist_info):
    """The installed file names from RECORD, read as text: much faster than dist.files on torch's
    thousands of entries (no PackagePath objects)."""
    text = _read(dist, "RECORD")
    if text is None:
        if is_dist_info:  # a wheel install always writes RECORD: without it nothing can be uninstalled
            raise _Damage("RECORD", "missing")
        text = _read(dist, "installed-files.txt") or ""
    paths = []
    for line in text.splitlines():
        path = line.split(",", 1)[0].strip().strip('"')
        if path:
            paths.append(path)
    return paths


def _one_distribution(dist, meta_dir):
    text = _read(dist, "METADATA") or _read(dist, "PKG-INFO")
    if text is None:
        raise _Damage("METADATA", "missing")
    import email

    meta = email.message_from_string(text)
    name, version = meta.get("Name"), meta.get("Version")
    if not name or not isinstance(name, str):
        raise _Damage("METADATA", "no Name field")
    if not version or not isinstance(version, str):
        raise _Damage("METADATA", "no Version field")
    files = _record_paths(dist, meta_dir.endswith(".dist-info"))
    compiled = sorted(f for f in files if f.endswith(COMPILED_SUFFIXES) and not f.startswith("../"))
    installer = (_read(dist, "INSTALLER") or "").strip() or None
    direct_url = _read(dist, "direct_url.json")
    try:
        direct = json.loads(direct_url) if direct_url else None
    except ValueError:
        raise _Damage("direct_url.json", "not JSON") from None
    location = None
    with contextlib.suppress(Exception):
        location = str(dist.locate_file(""))
    top_text = _read(dist, "top_level.txt")
    return {
        "name": name.strip(),
        "key": re.sub(r"[-_.]+", "-", name.strip()).lower(),
        "version": version.strip(),
        "top_level": _top_levels(top_text, files),
        "compiled": bool(compiled),
        "compiled_files": compiled[:20],
        "installer": installer,
        "location": location,
        "direct_url": direct,
        "requires": list(dist.requires or []),
    }


def _guess_name(meta_dir):
    """The distribution's name from its folder (name-version.dist-info), for a report about it."""
    base = os.path.basename(meta_dir.rstrip("/\\"))
    stem = base.rsplit(".", 1)[0]
    return stem.split("-", 1)[0] or base


def distributions(paths=None):
    """Every installed distribution (on sys.path, or on `paths`); one that cannot be read is listed
    as damaged (with the file and the problem) and the others still count."""
    import importlib.metadata as md

    seen = {}
    damaged = []
    for dist in md.distributions(**({"path": list(paths)} if paths is not None else {})):
        meta_dir = str(getattr(dist, "_path", "") or "")
        try:
            row = _one_distribution(dist, meta_dir)
        except _Damage as exc:
            damaged.append(
                {
                    "damaged": True,
                    "name": _guess_name(meta_dir),
                    "path": meta_dir,
                    "file": exc.filename,
                    "problem": exc.problem,
                }
            )
            continue
        except Exception as exc:  # anything else odd about one distribution stays with that one
            damaged.append(
                {
                    "damaged": True,
                    "name": _guess_name(meta_dir),
                    "path": meta_dir,
                    "file": "METADATA",
                    "problem": f"{type(exc).__name__}: {exc}",
                }
            )
            continue
        row["path"] = meta_dir
        if row["key"] in seen:  # an earlier sys.path entry wins, as it does for imports
            continue
        seen[row["key"]] = row
    return sorted(seen.values(), key=lambda d: d["key"]) + damaged


def _find_package_dir(name):
    """The folder `import name` would load, found without importing it."""
    for entry in sys.path:
        cand = os.path.join(entry or os.getcwd(), name)
        if os.path.isfile(os.path.join(cand, "__init__.py")):
            return cand
    return None


def _stub_header(path):
    info = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for _ in range(30):
            line = fh.readline()
            if not line:
                break
            m = re.match(r"#\s*envdoctor-stub(?:-(\w+))?:\s*(.*)", line)
            if m:
                for pair in m.group(2).split():
                    if "=" in pair:
                        k, v = pair.split("=", 1)
                        info[k] = v
    return info


def mmcv_facts():
    pkg = _find_package_dir("mmcv")
    out = {"package_dir": pkg, "ext": {"state": "missing", "files": []}, "version": None}
    if not pkg:
        out["ext"]["state"] = "no-mmcv"
        return out
    version_file = os.path.join(pkg, "version.py")
    if os.path.isfile(version_file):
        with open(version_file, encoding="utf-8", errors="replace") as fh:
            m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", fh.read())
            out["version"] = m.group(1) if m else None
    compiled = []
    stub = None
    for fn in sorted(os.listdir(pkg)):
        if fn.startswith("_ext.") and fn.endswith(COMPILED_SUFFIXES):
            compiled.append(fn)
        elif fn == "_ext.py":
            stub = os.path.join(pkg, fn)
    ext = out["ext"]
    ext["files"] = compiled + (["_ext.py"] if stub else [])
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ""
    if compiled:
        ext["state"] = "compiled"
        ext["matches_interpreter"] = any(fn == "_ext" + suffix or fn == "_ext.abi3.so" for fn in compiled)
        ext["leftover_stub"] = bool(stub)
    elif stub:
        header = _stub_header(stub)
        ext["state"] = "stub" if header else "handwritten"
        ext["stub"] = header
    return out


def gpu_facts():
    out = {"driver_version": None, "driver_source": None, "gpus": []}
    for var in ("ENVDOCTOR_CUDA_DRIVER_VERSION", "UV_CUDA_DRIVER_VERSION"):
        if os.environ.get(var):
            out["driver_version"] = os.environ[var]
            out["driver_source"] = var
            break
    if out["driver_version"] is None:
        try:
            with open("/sys/module/nvidia/version") as fh:
                out["driver_version"] = fh.read().strip() or None
                out["driver_source"] = "/sys/module/nvidia/version"
        except OSError:
            pass
    if out["driver_version"] is None:
        try:
            with open("/proc/driver/nvidia/version") as fh:
                m = re.search(r"Kernel Module\s+(?:for\s+\S+\s+)?([0-9.]+)", fh.read())
                if m:
                    out["driver_version"] = m.group(1)
                    out["driver_source"] = "/proc/driver/nvidia/version"
        except OSError:
            pass
    override = os.environ.get("ENVDOCTOR_GPUS")  # "NAME=8.6;NAME2=12.0", for CI and tests
    if override is not None:
        for item in filter(None, override.split(";")):
            name, _, cap = item.rpartition("=")
            out["gpus"].append({"name": name, "compute_capability": cap, "source": "ENVDOCTOR_GPUS"})
        return out
    smi = shutil.which("nvidia-smi")
    if smi:
        rc, stdout, _ = _run([smi, "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader"])
        if rc == 0:
            for line in stdout.splitlines():
                parts = [p.strip() for p in line.split(",")]
                if len(parts) >= 3:
                    out["gpus"].append({"name": parts[0], "compute_capability": parts[1], "source": "nvidia-smi"})
                    if out["driver_version"] is None:
                        out["driver_version"] = parts[2]
                        out["driver_source"] = "nvidia-smi"
    return out


def nvcc_facts():
    # The order envdoctor's own build takes (envdoctor.cuda.toolchain.machine_nvcc): $CUDA_HOME or
    # $CUDA_PATH, then PATH. A toolkit elsewhere (/usr/local/cuda off PATH) is not the build's: the plan
    # must name the nvcc the build then uses.
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    cands = [os.path.join(home, "bin", "nvcc.exe" if os.name == "nt" else "nvcc")] if home else []
    cands.append(shutil.which("nvcc"))
    for cand in cands:
        if cand and os.path.isfile(cand):
            _rc, stdout, _ = _run([cand, "--version"])
            m = re.search(r"release ([0-9.]+)", stdout or "")
            return {"path": cand, "version": m.group(1) if m else None}
    return {"path": None, "version": None}


def main(argv=None):
    """Usage: envdoctor_facts.py [SECTION ...]  (default: every section)."""
    wanted = set((sys.argv[1:] if argv is None else argv) or ())
    result = {"probe": "facts", "schema": SCHEMA}
    slow = {"gpu": gpu_facts, "nvcc": nvcc_facts}
    fast = {"python": python_facts, "platform": platform_facts, "distributions": distributions, "mmcv": mmcv_facts}
    threads = []
    for key, fn in slow.items():  # external commands run side by side: they are the slow part
        if wanted and key not in wanted:
            continue

        def work(key=key, fn=fn):
            result[key] = _guard(fn)

        t = threading.Thread(target=work)
        t.start()
        threads.append(t)
    for key, fn in fast.items():
        if not wanted or key in wanted:
            result[key] = _guard(fn)
    for t in threads:
        t.join()
    sys.stdout.write(json.dumps(result))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
