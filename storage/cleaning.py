"""Deleting rows whose coarse ``expires_hour`` has passed, without decrypting anything.

Every short-lived table keeps its expiry hour in plaintext for this: abandoned conversations and
drafts, status throttles, draft evidence files, /hide traces, WeChat notices held past their time,
replay nonces past the freshness window, case links, and handled update-journal tombstones.

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
    InboundUpdate,
    PendingNotice,
    SeenNonce,
    StatusThrottle,
)

EXPIRING_TABLES = (Conversation, StatusThrottle, DraftFile, ChatTrace, PendingNotice, SeenNonce, CaseLink)


async def delete_expired(session: AsyncSession, now_hour: int) -> dict[str, int]:
    """Deletes rows that expired before ``now_hour``; returns how many went, by table name."""
    deleted: dict[str, int] = {}
    for model in EXPIRING_TABLES:
        result = await session.execute(delete(model).where(model.expires_hour < now_hour))
        deleted[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    result = await session.execute(
        delete(InboundUpdate).where(InboundUpdate.handled.is_(True), InboundUpdate.expires_hour < now_hour)
    )
    deleted[InboundUpdate.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    return deleted
