"""What the weekly digest needs from the store: which weeks went out, and when HR first acted on a case.

:meth:`DigestWeeks.claim` inserts the (site, week) row with ``ON CONFLICT DO NOTHING`` in the
caller's transaction, the one that also queues the digest, so a digest is queued at most once per
site and week across restarts and replicas (the loser's transaction queues nothing).

:func:`first_actions` reads the audit log: the first time a named HR handler read, answered or
changed a case is when it was acknowledged (reading a new case marks it acknowledged).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditEntry, DigestWeek
from .outbox import as_utc
from .reminders import dialect_insert

CHUNK = 500


class DigestWeeks:
    """The weeks whose digest was queued, per site; every method works in the caller's transaction."""

    async def done(self, session: AsyncSession, site: str, week: str) -> bool:
        found = await session.get(DigestWeek, (site, week))
        return found is not None

    async def claim(self, session: AsyncSession, site: str, week: str) -> bool:
        """Marks the week's digest queued; False (and nothing changes) when it already was."""
        statement = dialect_insert(session)(DigestWeek).values(site=site, week=week)
        result = await session.execute(statement.on_conflict_do_nothing(index_elements=["site", "week"]))
        return bool(getattr(result, "rowcount", 0))


async def first_actions(session: AsyncSession, references: Collection[str]) -> dict[str, datetime]:
    """For each case reference, the first audit entry naming it (a read, reply or status change)."""
    found: dict[str, datetime] = {}
    ordered = sorted(references)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        query = (
            select(AuditEntry.case_reference, func.min(AuditEntry.at))
            .where(AuditEntry.case_reference.in_(chunk))
            .group_by(AuditEntry.case_reference)
        )
        for reference, first in await session.execute(query):
            if reference is not None and first is not None:
                found[str(reference)] = as_utc(first)
    return found
