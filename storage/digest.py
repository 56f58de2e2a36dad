"""What the weekly digest needs from the store of its own: which weeks went out (its figures come
from the cases and their events, :mod:`storage.case_deadlines`).

:meth:`DigestWeeks.claim` inserts the (site, week) row with ``ON CONFLICT DO NOTHING`` in the
caller's transaction, the one that also queues the digest, so a digest is queued at most once per
site and week across restarts and replicas (the loser's transaction queues nothing).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .models import DigestWeek
from .reminders import dialect_insert


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

