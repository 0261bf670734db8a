"""Fuzz every parser that reads what the target says: random and truncated input is a finding or one
sentence, never an internal error.

Seeded random loops (reproducible, bounded: the whole file runs in well under a minute). What the
target can say: its dist-info files (METADATA, RECORD, ...), versions, the facts probe's JSON, the
imports probe's events, the interpreter's identity line, a stub's header, wheel file names.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import string
from pathlib import Path
from typing import Any

import pytest

from envdoctor import plan as plan_mod
from envdoctor.checks import REGISTRY, CheckContext
from envdoctor.errors import UsageError
from envdoctor.facts import read_distributions
from envdoctor.manifest import builtin
from envdoctor.probe import _Garbled, facts_from_raw, parse_event, result_from_event, run_facts_probe
from envdoctor.resources import probe_script
from envdoctor.stub.generate import parse_header
from envdoctor.stub.state import state_from_facts, why_not_install
from envdoctor.target import current, read_identity

SEED = 1313
ROUNDS = 150

_WORDS = [
    "torch",
    "mmcv",
    "2.1.0",
    "1.0a1",
    "abc",
    "",
    "\x00",
    "é",
    "../",
    "version",
    "Name",
    "-",
    ".",
    "+cu121",
    "RuntimeError",
    "No module named 'x'",
    "\n",
    ",",
    '"',
    "{",
    "[",
    "null",
    "1e400",
    "nan",
]


def _text(rng: random.Random, n: int = 40) -> str:
    kind = rng.random()
    if kind < 0.3:
        return "".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 6)))
    if kind < 0.6:
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, n)))
    return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, n)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 3 or r < 0.45:
        return rng.choice([None, True, False, 0, -1, 2**70, 1.5, float("inf"), _text(rng), _text(rng), []])
    if r < 0.7:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice([_text(rng, 8), *_KEYS]): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


_KEYS = [
    "version",
    "name",
    "key",
    "top_level",
    "files",
    "state",
    "ext",
    "gpus",
    "driver_version",
    "path",
    "error",
    "compute_capability",
    "capability",
    "devices",
    "arch_list",
    "cuda",
    "site_packages",
    "executable",
    "stub",
    "damaged",
    "file",
    "problem",
    "requires",
    "location",
    "compiled",
    "system",
    "machine",
    "glibc",
]


def _mutate(rng: random.Random, doc: Any, rounds: int) -> Any:
    """`doc` with a few subtrees replaced, removed or retyped at random."""
    doc = copy.deepcopy(doc)
    for _ in range(rounds):
        node, path = doc, []
        while isinstance(node, (dict, list)) and node and rng.random() < 0.75:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append((node, key))
            node = node[key]
        if not path:
            continue
        parent, key = path[-1]
        action = rng.random()
        if action < 0.2 and isinstance(parent, dict):
            del parent[key]
        elif action < 0.4 and isinstance(node, str):
            parent[key] = node[: rng.randint(0, len(node))]  # truncated
        else:
            parent[key] = _value(rng)
    return doc


@pytest.fixture(scope="module")
def template() -> tuple[dict[str, Any], Any]:
    target = current()
    return run_facts_probe(target), target


def _facts_probe_module() -> Any:
    spec = importlib.util.spec_from_file_location("envdoctor_facts_fuzzed", probe_script("envdoctor_facts"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dist_info_files_with_random_and_truncated_bytes(tmp_path: Path) -> None:
    probe = _facts_probe_module()
    rng = random.Random(SEED)
    valid_meta = b"Metadata-Version: 2.1\nName: fuzzed\nVersion: 1.2.3\nRequires-Dist: torch>=2\n"
    valid_record = b"fuzzed/__init__.py,sha256=abc,12\nfuzzed-1.2.3.dist-info/RECORD,,\n"
    for i in range(ROUNDS):
        site = tmp_path / f"site{i}"
        folder = site / "fuzzed-1.2.3.dist-info"
        folder.mkdir(parents=True)
        for name, valid in (
            ("METADATA", valid_meta),
            ("RECORD", valid_record),
            ("top_level.txt", b"fuzzed\n"),
            ("direct_url.json", b'{"url": "file:///x"}'),
            ("INSTALLER", b"uv\n"),
        ):
            r = rng.random()
            if r < 0.25:
                data = valid[: rng.randint(0, len(valid))]
            elif r < 0.45:
                data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
            elif r < 0.6:
                data = _text(rng, 200).encode("utf-8", "surrogatepass")
            elif r < 0.7:
                continue  # absent
            else:
                data = valid
            (folder / name).write_bytes(data)
        rows = probe.distributions([str(site)])
        json.dumps(rows)  # what the probe prints must be JSON
        dists, damaged = read_distributions(rows)
        assert len(dists) + len(damaged) == 1, rows
        for d in damaged:
            assert d.file and d.problem and d.name


def test_distribution_rows_and_versions_at_random() -> None:
    rng = random.Random(SEED + 1)
    base = {
        "name": "torch",
        "key": "torch",
        "version": "2.1.0",
        "top_level": ["torch"],
        "compiled": True,
        "compiled_files": ["torch/_C.so"],
        "installer": "uv",
        "location": "/x",
        "requires": ["numpy"],
    }
    for _ in range(ROUNDS * 4):
        rows = _value(rng) if rng.random() < 0.3 else [_mutate(rng, base, rng.randint(1, 4)) for _ in range(3)]
        dists, damaged = read_distributions(rows)
        for d in dists.values():
            assert d.parsed_version is not None  # a kept distribution always has a PEP 440 version
        for bad in damaged:
            bad.describe()


def test_the_facts_probes_json_then_every_check_and_the_plan(template: tuple[dict[str, Any], Any]) -> None:
    raw, target = template
    rng = random.Random(SEED + 2)
    manifest = builtin()
    modules = [e.name for e in manifest.entries if e.probed][:6]
    torch = {
        "version": "2.1.0+cu121",
        "cuda": "12.1",
        "cuda_available": True,
        "arch_list": ["sm_80"],
        "devices": [{"name": "GPU", "capability": "8.0"}],
        "cxx11_abi": True,
    }
    for _ in range(ROUNDS // 3):
        doc = _value(rng) if rng.random() < 0.1 else _mutate(rng, raw, rng.randint(1, 8))
        imports = [
            result_from_event(
                _mutate(
                    rng,
                    {
                        "event": "done",
                        "module": m,
                        "status": "error",
                        "seconds": 0.1,
                        "error": {
                            "type": "RuntimeError",
                            "message": "boom",
                            "frames": [{"file": "/x/site-packages/torch/a.py"}],
                            "traceback": "Traceback",
                        },
                    },
                    rng.randint(0, 3),
                )
            )
            for m in modules
        ]
        facts = facts_from_raw(doc, imports, _mutate(rng, torch, rng.randint(0, 4)) if rng.random() < 0.8 else None)
        ctx = CheckContext(target=target, facts=facts, manifest=manifest)
        for spec in REGISTRY:
            if spec.id == "packages.consistent":
                continue  # runs uv, not a parser
            list(spec(ctx))  # unguarded: run() would turn a crash into a row and hide it here
        plan_mod.build(target, facts)
        why_not_install(state_from_facts(facts))


def test_import_events_at_random() -> None:
    rng = random.Random(SEED + 3)
    good = json.dumps({"event": "done", "module": "torch", "status": "ok", "seconds": 1.0}).encode()
    for _ in range(ROUNDS * 4):
        r = rng.random()
        if r < 0.3:
            line = good[: rng.randint(0, len(good))]
        elif r < 0.6:
            line = bytes(rng.randrange(256) for _ in range(rng.randint(0, 80)))
        else:
            line = json.dumps(_mutate(rng, json.loads(good), rng.randint(1, 3))).encode()
        try:
            event = parse_event(line)
        except _Garbled:
            continue
        result = result_from_event(event)
        assert result.status in ("ok", "missing", "error", "exit", "crash", "timeout", "skipped")
        result.symptom  # noqa: B018 -- builds the text the catalog matches


def test_interpreter_identity_at_random() -> None:
    rng = random.Random(SEED + 4)
    good = json.dumps({"version": "3.11.7", "prefix": "/v", "base_prefix": "/usr", "executable": "/v/bin/python"})
    for _ in range(ROUNDS * 4):
        r = rng.random()
        if r < 0.3:
            out = good[: rng.randint(0, len(good))]
        elif r < 0.6:
            out = _text(rng, 120)
        else:
            out = json.dumps(_mutate(rng, json.loads(good), rng.randint(1, 3)))
        try:
            info = read_identity(Path("python"), out)
        except UsageError as exc:
            assert str(exc).endswith(".") and "\n" not in str(exc), str(exc)  # one sentence
            continue
        assert isinstance(info["version"], str) and isinstance(info["base_prefix"], str)


def test_stub_headers_at_random(tmp_path: Path) -> None:
    """A stub's header is read from the target twice: by the facts probe (in the target) and by envdoctor."""
    rng = random.Random(SEED + 5)
    probe = _facts_probe_module()
    good = "# envdoctor-stub: mmcv=2.1.0 sources=sha256:ab format=1 real=8\n# envdoctor-stub-real: real_ops=nms\n"
    stub = tmp_path / "_ext.py"
    for _ in range(ROUNDS):
        text = good[: rng.randint(0, len(good))] + _text(rng, 300) if rng.random() < 0.5 else _text(rng, 300)
        header = parse_header(text)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in header.items())
        stub.write_bytes(text.encode("utf-8", "surrogatepass"))
        json.dumps(probe._stub_header(str(stub)))


def test_wheel_file_names_at_random(template: tuple[dict[str, Any], Any], tmp_path: Path) -> None:
    """Wheel names are read from --find-links folders (a user's wheelhouse, a copied folder): the plan
    reads them however they are spelled."""
    raw, target = template
    raw = copy.deepcopy(raw)
    raw["distributions"] = [
        *raw.get("distributions", []),
        {"name": "torch", "key": "torch", "version": "2.1.0", "top_level": ["torch"]},
    ]
    facts = facts_from_raw(raw, [], {"version": "2.1.0+cpu", "cuda": None, "cuda_available": False})
    rng = random.Random(SEED + 6)
    good = "mmcv-2.1.0-cp311-cp311-manylinux1_x86_64.whl"
    links = tmp_path / "links"
    for folder in (links, links / "torch2.1-cpu"):  # the folder itself and the one named for this torch
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(ROUNDS):
            name = good[: rng.randint(0, len(good))] + _text(rng, 12) if rng.random() < 0.6 else _text(rng, 60)
            name = "".join(c for c in name if c not in "/\\\0").encode("utf-8", "replace").decode()[:150]
            name = f"mmcv-{name}.whl" if rng.random() < 0.7 else f"{name}.whl"
            try:
                (folder / name).write_bytes(b"")
            except (OSError, UnicodeEncodeError):
                continue
    plan = plan_mod.build(target, facts, plan_mod.Options(find_links=(links,)))
    assert {v.strategy for v in plan.verdicts} >= {"prebuilt"}


def test_checkout_files_at_random(tmp_path: Path) -> None:
    """Not the target, but read the same way: `check --app` on random and truncated Python files."""
    from envdoctor.manifest import scan_app

    rng = random.Random(SEED + 7)
    good = (
        b"import os, sys\nfrom torch import nn\nsys.path.append(os.path.dirname(__file__) + '/x')\n"
        b"try:\n    import mmpose\nexcept ImportError:\n    pass\nfrom . import y\n__import__('scipy.' + 'io')\n"
    )
    for i in range(ROUNDS // 3):
        app = tmp_path / f"app{i}"
        (app / "pkg").mkdir(parents=True)
        for rel in ("main.py", "pkg/__init__.py", "pkg/mod.py"):
            r = rng.random()
            if r < 0.4:
                data = good[: rng.randint(0, len(good))]
            elif r < 0.7:
                data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
            elif r < 0.8:
                data = b"(" * rng.randint(1, 5000)  # nesting deeper than the parser allows
            else:
                data = _text(rng, 200).encode("utf-8", "surrogatepass")
            (app / rel).write_bytes(data)
        m = scan_app(app)
        assert {rel for rel, _ in m.skipped} <= {"main.py", "pkg/__init__.py", "pkg/mod.py"}
