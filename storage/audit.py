"""The audit log: who read or changed a case, and when.

HR staff are not anonymous here, reporters are never named: an entry holds the handler's name,
the action and the case reference, nothing of the report. Entries are only ever added, in the same
transaction as the action they record, so an action and its entry commit or vanish together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditEntry


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry as read back: when, who, and what they did."""

    at: datetime
    actor: str
    action: str


async def record(session: AsyncSession, actor: str, action: str, case_reference: str | None, at: datetime) -> None:
    """Adds an entry (``case_reference`` is None for actions on no one case, such as listing)."""
    session.add(AuditEntry(at=at, actor=actor, action=action, case_reference=case_reference))


async def entries_for(session: AsyncSession, case_reference: str) -> list[AuditRecord]:
    """The entries about one case, oldest first."""
    query = (
        select(AuditEntry.at, AuditEntry.actor, AuditEntry.action)
        .where(AuditEntry.case_reference == case_reference)
        .order_by(AuditEntry.at)
    )
    return [AuditRecord(at, actor, action) for at, actor, action in await session.execute(query)]
