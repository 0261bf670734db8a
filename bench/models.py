"""`envdoctor models`: the repeat on a verified tree, and the first hash against sha256sum.

Targets: `check --models` on a verified v1.5 tree (4.4 GB) under 0.2 s; a first hash at >= 0.8x the speed
of coreutils' sha256sum on the same file, both read from the page cache (the bench warms it first).

The tree is made of sparse files at the manifest's exact sizes (no disk cost), and envdoctor's hash cache is
seeded with the manifest's hashes for them, as `models verify` leaves it on a real tree: what is measured is
what a repeat costs, a stat per file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench._timing import median_seconds

HASH_BYTES = 512 << 20


def _sparse_tree(root: Path) -> tuple[Path, Path]:
    from envdoctor.models.hashing import HashCache, Stamp
    from envdoctor.models.manifest import MODELS, Roots, builtin

    roots = Roots(root / "models", root / "torch")
    cache = HashCache()
    total = 0
    for f in builtin().for_purpose("inference", "v15"):
        path = roots.path(f)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.truncate(f.bytes_needed)
        total += f.bytes_needed
        if f.sha256:
            cache.remember(path, Stamp.of(os.stat(path)), f.sha256)
        assert f.root != MODELS or f.sha256, f.path
    cache.save()
    print(f"tree: {total / 1e9:.2f} GB in sparse files, hashes remembered")
    return roots.models, roots.torch_home


def _repeat(models: Path, torch: Path, repeat: int) -> None:
    from envdoctor import checkrun
    from envdoctor.checks.base import CheckContext, Status
    from envdoctor.manifest import builtin
    from envdoctor.probe import gather
    from envdoctor.target import current

    target = current()
    # The target's probe (a subprocess, the same with or without --models) is taken once, outside the timing.
    ctx = CheckContext(target=target, facts=gather(target, []), manifest=builtin(), models=models, torch_home=torch)
    specs = checkrun.selected(["models"])

    def models_checks() -> None:
        results = [r for spec in specs for r in spec.run(ctx)]
        bad = [r for r in results if r.status is Status.FAIL]
        assert not bad, bad

    models_checks()
    inside = median_seconds(models_checks, repeat)
    with_probe = median_seconds(lambda: checkrun.run(target, models=models, torch_home=torch, only=["models"]), repeat)
    rows = len([r for spec in specs for r in spec.run(ctx)])
    print(
        f"models checks on the verified tree   {inside * 1000:6.1f} ms for {rows} files "
        f"(median of {repeat}; target < 200 ms)"
    )
    print(f"checkrun.run(only=models), probe included {with_probe:6.3f} s (median of {repeat})")


def _first_hash(root: Path, repeat: int) -> None:
    from envdoctor.digest import sha256_file

    big = root / "big.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for _ in range(HASH_BYTES >> 20):
            fh.write(block)
    sha256sum = shutil.which("sha256sum")
    if sha256sum is None:
        print("sha256sum is not on PATH: the first-hash comparison is skipped")
        return
    subprocess.run([sha256sum, str(big)], capture_output=True, check=True)  # warms the page cache for both
    theirs = median_seconds(lambda: subprocess.run([sha256sum, str(big)], capture_output=True, check=True), repeat)
    ours = median_seconds(lambda: sha256_file(big), repeat)
    mb = HASH_BYTES / 1e6
    print(f"sha256sum            {mb / theirs:8.0f} MB/s (median of {repeat})")
    print(f"envdoctor first hash {mb / ours:8.0f} MB/s (median of {repeat})")
    print(f"ratio envdoctor / sha256sum {theirs / ours:6.2f}  (target >= 0.8)")


def main(repeat: int = 5) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        root = Path(tmp)
        os.environ["ENVDOCTOR_CACHE_DIR"] = str(root / "cache")
        models, torch = _sparse_tree(root)
        _repeat(models, torch, repeat)
        _first_hash(root, 3)
    print(f"({time.perf_counter() - started:.1f} s in all)")


if __name__ == "__main__":
    main()
