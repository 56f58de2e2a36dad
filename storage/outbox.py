"""The durable outbox: every push the bot makes is first a row here, written in the same
transaction as the change that causes it, so a crash can delay a push but never lose it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Binding, Crypto
from .models import OutboxItem, random_id


class Outbox:
    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    async def enqueue(self, session: AsyncSession, kind: str, payload: dict[str, Any], due_at: datetime) -> str:
        item_id = random_id()
        sealed = self._crypto.seal_internal_json(payload, Binding("outbox", "payload_ct", item_id))
        session.add(OutboxItem(id=item_id, kind=kind, due_at=due_at, attempts=0, payload_ct=sealed))
        return item_id

    def open_payload(self, item: OutboxItem) -> dict[str, Any]:
        payload = self._crypto.open_internal_json(item.payload_ct, Binding("outbox", "payload_ct", item.id))
        if not isinstance(payload, dict):
            raise ValueError("sealed outbox payload is not an object")
        return payload

    async def pending(self, session: AsyncSession, kind: str | None = None) -> list[OutboxItem]:
        query = select(OutboxItem).order_by(OutboxItem.due_at)
        if kind is not None:
            query = query.where(OutboxItem.kind == kind)
        return list((await session.execute(query)).scalars())

    async def count(self, session: AsyncSession) -> int:
        return int((await session.execute(select(func.count()).select_from(OutboxItem))).scalar_one())
