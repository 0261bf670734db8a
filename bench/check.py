"""`envdoctor check` against its floor: a bare `python -c "import <the same modules>"` in the same env.

Target: check / floor <= 1.5. Both are measured here, in the same run, in the healthy
MuseTalk environment the tests build (torch + the OpenMMLab stack on mmcv-lite with the stub).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench._timing import median_seconds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=False, capture_output=True)


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
    median_seconds(lambda: _run(floor_cmd), 1)  # warm the page cache for both
    floor = median_seconds(lambda: _run(floor_cmd), repeat)
    doctor = median_seconds(lambda: _run(check_cmd), repeat)
    print(f"modules imported: {len(modules)}")
    print(f"floor  python -c 'import ...'      {floor:6.2f} s (median of {repeat})")
    print(f"envdoctor check --json             {doctor:6.2f} s (median of {repeat})")
    print(f"ratio check / floor                {doctor / floor:6.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
