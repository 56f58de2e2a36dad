"""Deleting rows whose coarse ``expires_hour`` has passed, without decrypting anything.

Every short-lived table keeps its expiry hour in plaintext for this: abandoned conversations and
drafts (and their parts), status throttles, draft evidence files, /hide traces, WeChat notices held past their time,
replay nonces past the freshness window, case links, handled update-journal tombstones, held
reminders past their occasion, and reminder occasions (with their due rows and counts) long ended.

Journal rows that were never handled are kept even when old: they are a worker's message the bot
has not processed yet, and dropping one would lose it silently.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    CaseLink,
    ChatTrace,
    Conversation,
    DraftFile,
    DraftPart,
    HeldReminder,
    InboundUpdate,
    PendingNotice,
    ReminderOccasion,
    SeenNonce,
    StatusThrottle,
)

EXPIRING_TABLES = (Conversation, DraftPart, StatusThrottle, DraftFile, ChatTrace, PendingNotice, SeenNonce, CaseLink)
# Held reminders lapse with their occasion; an occasion goes months after it ended, its due rows and
# counts with it (ON DELETE CASCADE).
REMINDER_TABLES = (HeldReminder, ReminderOccasion)


async def delete_expired(session: AsyncSession, now_hour: int) -> dict[str, int]:
    """Deletes rows that expired before ``now_hour``; returns how many went, by table name."""
    deleted: dict[str, int] = {}
    for model in (*EXPIRING_TABLES, *REMINDER_TABLES):
        result = await session.execute(delete(model).where(model.expires_hour < now_hour))
        deleted[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    result = await session.execute(
        delete(InboundUpdate).where(InboundUpdate.handled.is_(True), InboundUpdate.expires_hour < now_hour)
    )
    deleted[InboundUpdate.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    return deleted
