"""`envdoctor check` against its floor: a bare `python -c "import <the same modules>"` in the same env.

Target (issue 2): check / floor <= 1.5. Both are measured here, in the same run, in the healthy
MuseTalk environment the tests build (torch + the OpenMMLab stack on mmcv-lite with the stub).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _time(cmd: list[str], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=False, capture_output=True)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main(repeat: int = 3) -> None:
    from envkit import MUSETALK_OPENMMLAB, build_env, python_of

    from envdoctor.manifest import builtin
    from envdoctor.stub import install
    from envdoctor.target import resolve

    env = build_env("musetalk-lite-stub", MUSETALK_OPENMMLAB, torch="vision")
    if next(env.glob("lib/python*/site-packages/mmcv/_ext.py"), None) is None:
        install(resolve(python=str(python_of(env))))
    modules = builtin().modules_to_probe()
    floor_cmd = [str(python_of(env)), "-c", "import " + ", ".join(modules)]
    check_cmd = [sys.executable, "-m", "envdoctor", "check", "--venv", str(env), "--json"]
    _time(floor_cmd, 1)  # warm the page cache for both
    floor = _time(floor_cmd, repeat)
    doctor = _time(check_cmd, repeat)
    print(f"modules imported: {len(modules)}")
    print(f"floor  python -c 'import ...'      {floor:6.2f} s (median of {repeat})")
    print(f"envdoctor check --json             {doctor:6.2f} s (median of {repeat})")
    print(f"ratio check / floor                {doctor / floor:6.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
