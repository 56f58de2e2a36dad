"""A case's statuses, apart from the repository so the command line can offer them without
loading SQLAlchemy.

The path a case takes: received → acknowledged → investigating → action taken or no case found →
closed (closing needs a written outcome, sealed with the case). A case the reporter withdrew stays
withdrawn. Rows written by older code carry ``new`` (now ``received``) and ``resolved`` (now
``action_taken``); the desk revision rewrites them, and :func:`stored_status` reads them meanwhile.
"""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    ACTION_TAKEN = "action_taken"
    NO_CASE_FOUND = "no_case_found"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


LEGACY_STATUSES = {"new": CaseStatus.RECEIVED, "resolved": CaseStatus.ACTION_TAKEN}
"""Values older code wrote, and what they mean now."""

OPEN_STATUSES = frozenset(
    {
        CaseStatus.RECEIVED,
        CaseStatus.ACKNOWLEDGED,
        CaseStatus.INVESTIGATING,
        CaseStatus.ACTION_TAKEN,
        CaseStatus.NO_CASE_FOUND,
    }
)
"""Cases HR still has work on (a finding is made but the case is not closed yet)."""

FINISHED_STATUSES = frozenset(
    {CaseStatus.ACTION_TAKEN, CaseStatus.NO_CASE_FOUND, CaseStatus.CLOSED, CaseStatus.WITHDRAWN}
)
"""Cases the retention period counts from their last change (``resolved`` was one before)."""

HR_SETTABLE = tuple(status for status in CaseStatus if status not in (CaseStatus.RECEIVED, CaseStatus.WITHDRAWN))
"""What a handler may set a case to: only the reporter withdraws, only a new case is received."""


def stored_status(value: str) -> CaseStatus:
    """The status a stored value means, old values included; ``ValueError`` for one this code does not know."""
    legacy = LEGACY_STATUSES.get(value)
    return legacy if legacy is not None else CaseStatus(value)
