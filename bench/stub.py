"""The `_ext` stub against the usual workaround, measured in the same run on the same venv.

Targets: generation < 1 s; import attempts needed = 1.
The baseline is the hand-written `mmcv/_ext.py` grown one traceback at a time: try `import mmcv.ops`,
read "X miss in module _ext", add `def X(...): pass`, try again. It runs here, inside a real venv with
mmcv-lite 2.1.0 and torch (CPU), in one interpreter that keeps torch imported and drops mmcv and mmengine
between rounds (so its time is a floor: a person pays a fresh `python -c "import mmcv.ops"` per round,
also measured below).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench._timing import median_seconds
from envdoctor.inside import run_json

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

# Runs inside the target: the traceback-driven loop. Prints {"attempts": n, "seconds": s, "names": k}.
_HANDWRITTEN_LOOP = r"""
import importlib, json, re, sys, time
sys.dont_write_bytecode = True
import mmcv, torch
path = mmcv.__path__[0] + "/_ext.py"
open(path, "w").write("")
attempts, names, t0 = 0, [], time.perf_counter()
while True:
    attempts += 1
    # mmcv registers its ops in mmengine's registries: start both afresh (torch stays imported).
    for mod in [m for m in sys.modules if m.split(".")[0] in ("mmcv", "mmengine")]:
        del sys.modules[mod]
    importlib.invalidate_caches()
    try:
        importlib.import_module("mmcv.ops")
        break
    except AssertionError as exc:
        name = re.match(r"(\w+) miss in module _ext", str(exc)).group(1)
        names.append(name)
        with open(path, "a") as fh:
            fh.write("def %s(*args, **kwargs):\n    pass\n" % name)
print(json.dumps({"attempts": attempts, "seconds": time.perf_counter() - t0, "names": len(names)}))
"""


def main(repeat: int = 5) -> None:
    from envkit import build_env, python_of

    from envdoctor.stub import generate, install, remove, status
    from envdoctor.stub.kept import fetch_sdist, kept_stubs
    from envdoctor.target import resolve

    env = build_env("stub-bench", ["mmcv-lite==2.1.0", "numpy<2"], torch="cpu")
    py = str(python_of(env))
    target = resolve(python=py)
    if status(target).stub_dist_version:
        remove(target)
    mmcv_dir = Path(status(target).mmcv_dir or "")
    kept = {k.version: k for k in kept_stubs()}["2.1.0"]
    cache = Path(__file__).resolve().parent.parent / ".cache" / "mmcv-sources"
    sdist = fetch_sdist("2.1.0", cache, kept.sha256)

    gen_sdist = median_seconds(lambda: generate(sdist), repeat)
    gen_installed = median_seconds(lambda: generate(mmcv_dir), repeat)

    # Baseline: the hand-written loop, then one fresh-process attempt for the per-round cost.
    ext = mmcv_dir / "_ext.py"
    try:
        loop = run_json(
            py, ["-c", _HANDWRITTEN_LOOP], what="the hand-written loop", timeout=1800, require_exit_zero=True
        ).data
        one_attempt = median_seconds(
            lambda: subprocess.run([py, "-c", "import mmcv.ops"], capture_output=True, check=False), 3
        )
    finally:
        ext.unlink(missing_ok=True)

    # The stub: install (generate + wheel + uv + re-probe), then one import.
    t0 = time.perf_counter()
    install(target)
    install_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ok = subprocess.run([py, "-c", "import mmcv.ops"], capture_output=True, check=False).returncode == 0
    import_s = time.perf_counter() - t0
    remove(target)

    person = loop["attempts"] * one_attempt
    stub_total = install_s + import_s
    rows = [
        ("generate from the sdist (mmcv 2.1.0)", f"{gen_sdist:.3f} s", f"median of {repeat}; target < 1 s"),
        ("generate from the installed mmcv", f"{gen_installed:.3f} s", f"median of {repeat}"),
        ("import attempts, hand-written loop", str(loop["attempts"]), f"{loop['names']} names, one per traceback"),
        ("import attempts, generated stub", "1" if ok else "FAILED", "target 1"),
        ("attempts ratio hand-written / stub", f"{loop['attempts']}x", ""),
        ("hand-written loop, one interpreter", f"{loop['seconds']:.2f} s", "a floor"),
        ("one fresh `import mmcv.ops` attempt", f"{one_attempt:.2f} s", f"a person's loop: ~{person:.0f} s"),
        ("stub install + one import", f"{stub_total:.2f} s", f"install {install_s:.2f} s, import {import_s:.2f} s"),
        ("ratio person's loop / stub", f"{person / stub_total:.1f}x", ""),
    ]
    for label, value, note in rows:
        print(f"{label:40s} {value:>9s}  {note}")


if __name__ == "__main__":
    main()
