"""`envdoctor models`: `check --models` on a v1.5 tree (4.4 GB), first run and repeat, against `sha256sum`.

Targets: the repeat of `check --models` on a verified tree under 0.2 s for the models checks; its first run
(which hashes every file) at >= 0.8x the speed of coreutils' sha256sum over the same files, measured in the
same run; and a first hash of one file read from the page cache at >= 0.8x sha256sum's on it.

The tree is made of sparse files at the manifest's exact sizes (no disk cost; both hashers read the same
zero pages). The manifest the check holds it to is the built-in one with each file's sha256 replaced by the
one sha256sum printed for it (`ENVDOCTOR_MODELS_MANIFEST`), so the first check verifies every file by its
own hashing and remembers each hash, as on a real tree: what the repeat then costs is a stat per file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench._timing import median_seconds

HASH_BYTES = 512 << 20


def _sparse_tree(root: Path) -> tuple[Path, Path, dict[Path, str], int]:
    """The tree, and a line of TOML per file for the bench's manifest (its sha256 filled in later)."""
    from envdoctor.models.manifest import Roots, builtin

    roots = Roots(root / "models", root / "torch")
    entries: dict[Path, str] = {}
    total = 0
    for f in builtin().for_purpose("inference", "v15"):
        path = roots.path(f)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.truncate(f.bytes_needed)
        total += f.bytes_needed
        entries[path] = (
            f"[[file]]\npath = {json.dumps(f.path)}\nroot = {json.dumps(f.root)}\nsize = {f.bytes_needed}\n"
            f'sha256 = "{{sha}}"\nneeded_for = {json.dumps(list(f.needed_for))}\nwhy = {json.dumps(f.why)}\n'
            '[[file.source]]\nurl = "https://example.invalid/bench"\n'
        )
    print(f"tree: {len(entries)} files, {total / 1e9:.2f} GB in sparse files")
    return roots.models, roots.torch_home, entries, total


def _sha256sum(sha256sum: str, paths: list[Path]) -> dict[Path, str]:
    out = subprocess.run([sha256sum, *map(str, paths)], capture_output=True, text=True, check=True).stdout
    return {Path(line[66:]): line[:64] for line in out.splitlines()}


def _check_tree(root: Path, sha256sum: str | None, repeat: int) -> None:
    from envdoctor import checkrun
    from envdoctor.checks.base import CheckContext, Status
    from envdoctor.manifest import builtin
    from envdoctor.probe import gather
    from envdoctor.target import current

    models, torch, entries, total = _sparse_tree(root)
    if sha256sum is None:
        print("sha256sum is not on PATH: the first check is not compared")
        return
    t0 = time.perf_counter()
    digests = _sha256sum(sha256sum, list(entries))
    theirs = time.perf_counter() - t0
    manifest = root / "bench-models.toml"
    head = '[purposes.inference]\nv15 = ["v15-inference"]\nv1 = ["v1-inference"]\n\n'
    manifest.write_text(head + "\n".join(text.replace("{sha}", digests[p]) for p, text in entries.items()))
    os.environ["ENVDOCTOR_MODELS_MANIFEST"] = str(manifest)

    target = current()
    # The target's probe (a subprocess, the same with or without --models) is taken once, outside the timing.
    ctx = CheckContext(target=target, facts=gather(target, []), manifest=builtin(), models=models, torch_home=torch)
    specs = checkrun.selected(["models"])

    def models_checks() -> int:
        results = [r for spec in specs for r in spec.run(ctx)]
        bad = [r for r in results if r.status is not Status.OK]
        assert not bad, bad
        return len(results)

    t0 = time.perf_counter()
    rows = models_checks()
    first = time.perf_counter() - t0
    inside = median_seconds(models_checks, repeat)
    with_probe = median_seconds(lambda: checkrun.run(target, models=models, torch_home=torch, only=["models"]), repeat)
    print(f"sha256sum over the tree            {theirs:7.2f} s, {total / 1e6 / theirs:6.0f} MB/s")
    print(f"first check --models (hashes all)  {first:7.2f} s, {total / 1e6 / first:6.0f} MB/s, {rows} files verified")
    print(f"ratio first check / sha256sum      {theirs / first:7.2f}  (speed; target >= 0.8)")
    print(f"repeat: models checks              {inside * 1000:7.1f} ms (median of {repeat}; target < 200 ms)")
    print(f"repeat: checkrun.run(only=models)  {with_probe:7.3f} s, the target's probe included (median of {repeat})")


def _first_hash(root: Path, sha256sum: str | None, repeat: int) -> None:
    from envdoctor.digest import sha256_file

    if sha256sum is None:
        return
    big = root / "big.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for _ in range(HASH_BYTES >> 20):
            fh.write(block)
    subprocess.run([sha256sum, str(big)], capture_output=True, check=True)  # warms the page cache for both
    theirs = median_seconds(lambda: subprocess.run([sha256sum, str(big)], capture_output=True, check=True), repeat)
    ours = median_seconds(lambda: sha256_file(big), repeat)
    mb = HASH_BYTES / 1e6
    print(f"one 512 MiB file from the page cache: sha256sum {mb / theirs:6.0f} MB/s, envdoctor {mb / ours:6.0f} MB/s")
    print(f"ratio envdoctor / sha256sum        {theirs / ours:7.2f}  (target >= 0.8; median of {repeat})")


def main(repeat: int = 5) -> None:
    started = time.perf_counter()
    sha256sum = shutil.which("sha256sum")
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        root = Path(tmp)
        saved = {k: os.environ.get(k) for k in ("ENVDOCTOR_CACHE_DIR", "ENVDOCTOR_MODELS_MANIFEST")}
        os.environ["ENVDOCTOR_CACHE_DIR"] = str(root / "cache")
        try:
            _check_tree(root, sha256sum, repeat)
            _first_hash(root, sha256sum, 3)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    print(f"({time.perf_counter() - started:.1f} s in all)")


if __name__ == "__main__":
    main()
