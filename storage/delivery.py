"""Delivery bookkeeping: counters of outcomes that are not plain successes, and chats that moved.

Counters are how operators see that alerts are stuck or dropped (a blocked bot, a missing board
chat, an in-doubt resend) without any log line naming a case or a person. Several replicas may
bump the same counter at once, so increments are single upserts, never read-modify-write.

A Telegram group that becomes a supergroup gets a new id; every later send to the old id must go
to the new one, so the mapping is stored and followed, also through a chain of moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import ChatMigration, DeliveryCount

MAX_MIGRATION_HOPS = 8


def dialect_of(session: AsyncSession) -> str:
    """``"postgresql"`` or ``"sqlite"``: the few statements that differ need to know which."""
    return session.get_bind().dialect.name


def _insert(session: AsyncSession) -> Any:
    return pg_insert if dialect_of(session) == "postgresql" else sqlite_insert


async def increment_count(session: AsyncSession, reason: str, by: int = 1) -> None:
    """Add ``by`` to the counter of ``reason`` (created at zero), atomically across replicas."""
    if by <= 0:
        return
    insert = _insert(session)
    statement = insert(DeliveryCount).values(reason=reason, count=by)
    statement = statement.on_conflict_do_update(
        index_elements=["reason"], set_={"count": DeliveryCount.count + statement.excluded.count}
    )
    await session.execute(statement)


async def delivery_counts(session: AsyncSession) -> dict[str, int]:
    """Every counter by reason."""
    rows = await session.execute(select(DeliveryCount.reason, DeliveryCount.count))
    return {reason: int(count) for reason, count in rows}


async def record_chat_migration(session: AsyncSession, old_chat: str, new_chat: str) -> None:
    """Remember that ``old_chat`` (an address such as ``telegram:-4001``) is now ``new_chat``."""
    if old_chat == new_chat:
        return
    insert = _insert(session)
    statement = insert(ChatMigration).values(old_chat=old_chat, new_chat=new_chat)
    statement = statement.on_conflict_do_update(index_elements=["old_chat"], set_={"new_chat": new_chat})
    await session.execute(statement)


async def chat_migrations(session: AsyncSession) -> dict[str, str]:
    """The whole old -> new mapping; it holds one row per upgraded group, so it stays tiny."""
    rows = await session.execute(select(ChatMigration.old_chat, ChatMigration.new_chat))
    return {old: new for old, new in rows}


def follow_migrations(migrations: Mapping[str, str], chat: str) -> str:
    """Where ``chat`` lives now, following chained moves; a cycle (never expected) stops the walk."""
    seen = {chat}
    for _ in range(MAX_MIGRATION_HOPS):
        moved = migrations.get(chat)
        if moved is None or moved in seen:
            break
        seen.add(moved)
        chat = moved
    return chat
