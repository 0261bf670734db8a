"""envdoctor imports probe: runs INSIDE the target interpreter and imports modules one by one.

Standard library only, Python 3.8 to 3.13. Usage:  python envdoctor_imports.py - [PATH ...] < request
The request (JSON on stdin) lists the modules to import, in order. For each module it writes a
"start" and a "done" event, one JSON object per line, to stdout (or to the inherited file
descriptor given instead of "-"), so that the
parent can tell which module was running if this process segfaults, aborts, exits or hangs; the
parent then restarts a worker for the modules that remain. Anything the imported modules print
goes to stderr, so that it cannot corrupt the event stream. When every module is done, it reports
what torch knows about CUDA and the GPUs, because torch is already imported by then.
"""

import faulthandler
import json
import os
import sys
import time
import traceback

_here = os.path.dirname(os.path.abspath(__file__))
# The script's own folder must not shadow anything the target imports.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]


def _emit(stream, event):
    stream.write(json.dumps(event) + "\n")
    stream.flush()


def _error(exc):
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [{"file": f.filename, "line": f.lineno, "name": f.name} for f in tb[-12:]]
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        text = ""
    message = _safe_str(exc)
    name = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
    return {
        "type": type(exc).__name__[:200],
        # A message can be anything a module puts in it, 100 MB included: keep its start and end.
        "message": message if len(message) <= 8000 else message[:2000] + " [...] " + message[-6000:],
        "missing_module": name[:200] if isinstance(name, str) else None,
        "frames": frames,
        "traceback": text[-6000:],
    }


def _safe_str(exc):
    try:
        return str(exc)
    except Exception as inner:  # a hostile __str__ must not end the probe
        return f"<unprintable {type(exc).__name__}: {type(inner).__name__}>"


def _torch_facts():
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    out = {"version": getattr(torch, "__version__", None)}
    try:
        out["cuda"] = torch.version.cuda
        out["hip"] = getattr(torch.version, "hip", None)
        out["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        out["cuda_available"] = bool(torch.cuda.is_available())
        out["arch_list"] = list(torch.cuda.get_arch_list()) if out["cuda"] else []
        devices = []
        if out["cuda_available"]:
            for i in range(torch.cuda.device_count()):
                major, minor = torch.cuda.get_device_capability(i)
                devices.append({"name": torch.cuda.get_device_name(i), "capability": f"{major}.{minor}"})
        out["devices"] = devices
        out["cxx11_abi"] = bool(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", False))
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def main():
    # Events go to the original stdout; fd 1 itself becomes stderr below. No inherited descriptor:
    # the same on Windows.
    where = os.dup(1) if sys.argv[1] == "-" else int(sys.argv[1])
    events = os.fdopen(where, "w", newline="\n")
    for extra in reversed(sys.argv[2:]):  # an app's root, as `python -m` from it would have
        sys.path.insert(0, extra)
    request = json.loads(sys.stdin.read())
    os.dup2(2, 1)  # imported modules that print must not write into anything we parse
    faulthandler.enable(file=sys.stderr, all_threads=False)
    for module in request["modules"]:
        _emit(events, {"event": "start", "module": module})
        t0 = time.perf_counter()
        result = {"event": "done", "module": module, "ok": True, "status": "ok"}
        try:
            __import__(module)
        except SystemExit as exc:
            result.update(ok=False, status="exit", error={"type": "SystemExit", "message": str(exc.code)})
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            err = _error(exc)
            status = "missing" if isinstance(exc, ModuleNotFoundError) else "error"
            result.update(ok=False, status=status, error=err)
        result["seconds"] = round(time.perf_counter() - t0, 4)
        _emit(events, result)
    if request.get("torch_facts", True):
        _emit(events, {"event": "torch", "torch": _torch_facts()})
    _emit(events, {"event": "end"})


if __name__ == "__main__":
    main()
