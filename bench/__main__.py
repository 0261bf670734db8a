"""Run every benchmark module in bench/ (each exposes main())."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import bench


def main() -> int:
    only = set(sys.argv[1:])
    for info in sorted(pkgutil.iter_modules([str(Path(bench.__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("_") or (only and info.name not in only):
            continue
        print(f"== bench {info.name}", flush=True)
        importlib.import_module(f"bench.{info.name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
