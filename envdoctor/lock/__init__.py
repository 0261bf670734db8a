"""Pin a strategy's environment for a target (Python, accelerator, platform) with `uv pip compile`.

Each lockfile is written twice: requirements.txt with hashes, and PEP 751 `pylock.<name>.toml`.
Its header records every input and their sha256, the source builds it needs, and the sha256 of both
bodies, so `check()` can tell, without the network, whether a committed lockfile still matches what
envdoctor's data files say today and whether anything in it was edited by hand. Before anything is
written, the wheel gate (envdoctor.lockgate) must pass: a pin without a wheel for the target and
without a named source build makes `make()` refuse.

torch and torchvision are never in a lockfile: they are held where the user has them (or installed
first from the accelerator's torch index, which the header names), and left out of the resolution.

cells.py     the matrix's cells (LockTarget) and the committed matrix of lock.toml
inputs.py    what decides a cell's content (LockInputs), from the data files and the strategies
files.py     the two files: the shared header (LockHeader), bodies, pins
make.py      make one cell or all: uv pip compile, the wheel gate, both files written
outcomes.py  Locked, or LeftOut (Refused, Unresolvable); lockfiles/matrix.json
verify.py    offline checks against today's inputs; the gate an interpreter meets
registry.py  the committed pins against today's registry (a report)
"""

from envdoctor.lock.cells import LockTarget, committed_targets, copy_cell, paths
from envdoctor.lock.files import LockHeader, Pin, body_digest, header, pins, read_header, read_requirements, split_body
from envdoctor.lock.inputs import LockInputs, inputs_for
from envdoctor.lock.make import make, make_all
from envdoctor.lock.outcomes import (
    MATRIX,
    CellOutcome,
    LeftOut,
    Locked,
    LockRefused,
    Refused,
    Unresolvable,
    left_out_by,
    read_matrix,
    record,
)
from envdoctor.lock.registry import CellDrift, drift
from envdoctor.lock.verify import LockfileCheck, check, check_one, gate_for, left_out, verify_body

__all__ = [
    "MATRIX",
    "CellDrift",
    "CellOutcome",
    "LeftOut",
    "LockHeader",
    "LockInputs",
    "LockRefused",
    "LockTarget",
    "Locked",
    "LockfileCheck",
    "Pin",
    "Refused",
    "Unresolvable",
    "body_digest",
    "check",
    "check_one",
    "committed_targets",
    "copy_cell",
    "drift",
    "gate_for",
    "header",
    "inputs_for",
    "left_out",
    "left_out_by",
    "make",
    "make_all",
    "paths",
    "pins",
    "read_header",
    "read_matrix",
    "read_requirements",
    "record",
    "split_body",
    "verify_body",
]  # fmt: skip
