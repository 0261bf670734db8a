"""Findings from facts: every check, one small function each, grouped by category.

A check is registered with its id, category and title (what `--list-checks` prints) and yields
CheckResults, made with the result factory it is given (bound to its id). Checks read Facts and the
CheckContext only; they never run anything in the target. A check that raises becomes one failed row
(CheckSpec.run) and the others still run.
"""

# Importing the category modules registers their checks, in the order the report shows them.
from envdoctor.checks import gpu, imports, models, packages, system, tools  # noqa: F401
from envdoctor.checks.base import (
    CATEGORIES,
    REGISTRY,
    CheckContext,
    CheckResult,
    CheckSpec,
    ResultFactory,
    Status,
    worst,
)

__all__ = ["CATEGORIES", "REGISTRY", "CheckContext", "CheckResult", "CheckSpec", "ResultFactory", "Status", "worst"]
