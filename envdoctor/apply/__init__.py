"""Carry out a Plan on its target as a transaction.

request.py       what was asked: plan options, package sources and waiting, parsed once
transaction.py   lock, journal, the step table, verification, rollback (apply, rollback)
handlers.py      one handler per step type (HANDLERS)
keep.py          the files kept before the first change, put back byte for byte, hashes verified
verification.py  the check after the changes, judged by what fix owns
results.py       outcomes and the result, as data
"""

from envdoctor.apply.handlers import HANDLERS, StepFailed
from envdoctor.apply.request import Request
from envdoctor.apply.results import ApplyResult, FixVerification, StepOutcome
from envdoctor.apply.transaction import apply, rollback
from envdoctor.apply.verification import check_verifier

__all__ = [
    "HANDLERS",
    "ApplyResult",
    "FixVerification",
    "Request",
    "StepFailed",
    "StepOutcome",
    "apply",
    "check_verifier",
    "rollback",
]  # fmt: skip
