"""The why and fix of a finding, from envdoctor/data/findings.toml: the check decides the case, the data says it.

    yield result(Status.FAIL, found=..., **said("gpu.torch", "cpu-build"), breaker=20)

Values the sentences name ({cuda}, {provider}...) are passed by the check; a value it does not pass reads
"?" (catalog.fill), and tests/test_check_texts.py holds every call to the data file.
"""

from __future__ import annotations

from envdoctor.catalog import fill
from envdoctor.datafiles import load

FILE = "findings.toml"


def said(check_id: str, case: str, **values: object) -> dict[str, str]:
    """{"why": ..., "fix": ...} of `case` of the check `check_id`, filled with `values`; only the fields it has."""
    entry = load(FILE)[check_id][case]
    text = {k: str(v) for k, v in values.items()}
    return {part: fill(entry[part], text) for part in ("why", "fix") if part in entry}
