"""`envdoctor explain` against the catalog matching it replaced, measured in the same run on the same inputs.

Targets: a 50 MB CI log in under 2 s, a 1 MB single line in under 0.5 s.
The baseline is the catalog before anchored matching: every symptom pattern searched over the whole text.
One of its patterns, `(\\w+) miss in module _ext`, is quadratic on a long line of word characters; it is timed
on 10 KB and 20 KB lines (a 100 KB line took 45 s: quadratic, so 100x the 10 KB time).
A single `str.find` pass over the 50 MB log is the floor.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable

from bench._timing import median_seconds
from envdoctor.explain import explain_text

# The catalog's symptom patterns before anchored matching (our own data, kept here as the baseline).
OLD_SYMPTOMS = [
    r"(\w+) miss in module _ext",
    r"_ext[^\n]*undefined symbol",
    r"undefined symbol: _ZN[^\n]*\n(?s:.*)mmcv",
    r"No module named 'mmcv\._ext'",
    r"MMCV==\S+ is used but incompatible",
    r"numpy\.dtype size changed, may indicate binary incompatibility",
    r"compiled using NumPy 1\.x cannot be run in\s+NumPy 2",
    r"Numpy is not available",
    r"_ARRAY_API not found",
    r"opencv-python\S* \S+ (requires|depends on) numpy>=2",
    r"opencv-python[^\n]*numpy>=2",
    r"No module named 'pkg_resources'",
    r"(?s)No module named 'pip'.*chumpy",
    r"(?s)chumpy.*No module named 'pip'",
    r"operator torchvision::nms does not exist",
    r"Couldn.t load custom C\+\+ ops",
    r"huggingface-hub>=[0-9.]+,<1\.0 is required",
    r"module 'pkgutil' has no attribute 'find_loader'",
    r"Weights only load failed",
    r"(?s)xtcocotools.*(Failed to build|error: command|numpy/arrayobject.h)",
    r"no kernel image is available for execution on the device",
]


def median_cpu_seconds(fn: Callable[[], object], repeat: int) -> float:
    """The median CPU time of `repeat` calls: on a shared machine, wall time also counts other processes."""
    runs = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        runs.append(time.process_time() - t0)
    return statistics.median(runs)


def old_explain(text: str) -> str | None:
    compiled = [re.compile(p) for p in OLD_SYMPTOMS]
    for p in compiled:
        if p.search(text):
            return p.pattern
    return None


def ci_log(size: int) -> str:
    chunk = "".join(
        f"  Downloading https://files.example/pkg{i}-1.0-py3-none-any.whl (18.2 MB)\n"
        f"Requirement already satisfied: torch in ./lib/python3.11/site-packages (2.1.0)\n"
        f"      copying mmcv/ops/csrc/pytorch/roi_align.cpp -> build/lib/mmcv/ops  error: none\n"
        for i in range(200)
    )
    half = chunk * (size // len(chunk) // 2 + 1)
    return half + "ModuleNotFoundError: No module named 'mmcv._ext'\n" + half


def main(repeat: int = 3) -> None:
    log = ci_log(50_000_000)
    line = "abc_def " * (1_000_000 // 8) + "AssertionError: ball_query_forward miss in module _ext\n"
    floor = median_seconds(lambda: log.find("No module named 'torch_is_not_here'"), repeat)
    new_log = median_seconds(lambda: explain_text(log), repeat)
    cpu_log = median_cpu_seconds(lambda: explain_text(log), repeat)
    old_log = median_seconds(lambda: old_explain(log), 1)
    new_line = median_seconds(lambda: explain_text(line), repeat)
    cpu_line = median_cpu_seconds(lambda: explain_text(line), repeat)
    old_line = median_seconds(lambda: old_explain(line), 1)
    words = {n: "x" * n + "\n" for n in (10_000, 20_000, 100_000)}
    old_words = {n: median_seconds(lambda t=words[n]: old_explain(t), 1) for n in (10_000, 20_000)}
    new_words = {n: median_seconds(lambda t=words[n]: explain_text(t), repeat) for n in words}
    rows = [
        ("50 MB CI log, explain", f"{new_log:.2f} s", f"median of {repeat}; target < 2 s"),
        ("50 MB CI log, explain, CPU time", f"{cpu_log:.2f} s", "what it costs without other processes"),
        ("50 MB CI log, old catalog", f"{old_log:.2f} s", f"ratio old / new {old_log / new_log:.1f}x"),
        ("50 MB CI log, one str.find pass", f"{floor:.3f} s", f"explain = {new_log / floor:.0f} passes"),
        ("1 MB single line, explain", f"{new_line:.3f} s", f"median of {repeat}; target < 0.5 s"),
        ("1 MB single line, explain, CPU time", f"{cpu_line:.3f} s", ""),
        ("1 MB single line, old catalog", f"{old_line:.3f} s", f"ratio old / new {old_line / new_line:.1f}x"),
        ("10 KB word line, old catalog", f"{old_words[10_000]:.2f} s", "quadratic: (\\w+) miss in module _ext"),
        (
            "20 KB word line, old catalog",
            f"{old_words[20_000]:.2f} s",
            f"x{old_words[20_000] / old_words[10_000]:.1f} for 2x the text; 100 KB ~ {old_words[10_000] * 100:.0f} s",
        ),
        ("100 KB word line, explain", f"{new_words[100_000]:.4f} s", f"10 KB {new_words[10_000]:.4f} s: linear"),
    ]
    for label, value, note in rows:
        print(f"{label:36s} {value:>9s}  {note}")


if __name__ == "__main__":
    main()
