"""Runs `fix`'s transaction on a small env with steps of the test's choosing (tests/txenv.py starts it).

    python tx_driver.py ENV INDEX_URL [--quick] [--no-wait]

The plan is the real plan of ENV with its steps replaced: uninstall tinyext, uninstall purepkg, install
slowpkg from INDEX_URL (a slow loopback index), verify by importing slowpkg in the target. `--quick`
keeps only the purepkg uninstall and verifies by importing tinyext. Progress lines go to stdout as they
happen; the last line is the result as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from envdoctor import apply as apply_mod
from envdoctor import plan as plan_mod
from envdoctor import target as target_mod
from envdoctor.sources import Sources
from envdoctor.steps import Install, Uninstall, Verify
from envdoctor.uv import Indexes


def _imports(module: str):
    def verify(target: target_mod.Target, plan: plan_mod.Plan) -> apply_mod.FixVerification:
        proc = subprocess.run([str(target.python), "-c", f"import {module}"], capture_output=True, text=True)
        failures = () if proc.returncode == 0 else (f"imports: {proc.stderr.strip()[-200:]}",)
        return apply_mod.FixVerification(1 if failures else 0, f"import {module}", failures,
                                      ("imports",) if failures else ())  # fmt: skip

    return verify


def main() -> int:
    env, index, *flags = sys.argv[1:]
    target = target_mod.resolve(venv=env)
    plan = plan_mod.make(target)
    steps: list[Uninstall | Install] = [Uninstall(summary="uninstall purepkg", packages=("purepkg",))]
    if "--quick" not in flags:
        steps = [
            Uninstall(summary="uninstall tinyext", packages=("tinyext",)),
            *steps,
            Install(summary="install slowpkg from the slow index", packages=("slowpkg",)),
        ]
    plan = replace(
        plan, steps=(*steps, Verify(summary="import in the target")), chosen="test", refusal=None,
        sources=Sources(indexes=Indexes(index_url=index)),
    )  # fmt: skip
    result = apply_mod.apply(
        plan,
        progress=lambda m: print(m, flush=True),
        verifier=_imports("tinyext" if "--quick" in flags else "slowpkg"),
        cache=Path(env) / ".." / "cache",
        wait="--no-wait" not in flags,
    )
    print(json.dumps({"ok": result.ok, "restored": result.restored, "message": result.message}), flush=True)
    return result.exit_code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # the refusal of a busy lock (Busy) or any other error: one line, exit 2
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        sys.exit(2)
