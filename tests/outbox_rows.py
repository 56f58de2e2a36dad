"""Outbox rows written past the typed API: what older or newer code, or a damaged disk, may leave."""

from __future__ import annotations

from datetime import datetime

from bot.core import Core
from storage.crypto import Binding, Crypto
from storage.models import OutboxItem, random_id


async def insert_raw(
    runtime: Core, kind: str, payload: object, due_at: datetime, *, crypto: Crypto | None = None
) -> str:
    """A row of any ``kind`` whose payload is any JSON value, sealed as the outbox seals payloads."""
    item_id = random_id()
    sealed = (crypto or runtime.crypto).seal_internal_json(payload, Binding("outbox", "payload_ct", item_id))
    async with runtime.database.transaction() as session:
        session.add(OutboxItem(id=item_id, kind=kind, due_at=due_at, attempts=0, payload_ct=sealed))
    return item_id


async def corrupt(runtime: Core, item_id: str) -> None:
    """Flip one byte of a row's sealed payload, as a damaged disk or a tamperer would."""
    async with runtime.database.transaction() as session:
        row = await session.get(OutboxItem, item_id)
        assert row is not None
        damaged = bytearray(row.payload_ct)
        damaged[-1] ^= 0x01
        row.payload_ct = bytes(damaged)
