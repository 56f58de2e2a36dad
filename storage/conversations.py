"""Conversation state rows: one sealed JSON document per worker pseudonym.

The document's layout belongs to ``handlers``; storage only seals it, bound to its row, and keeps a
coarse expiry hour in plaintext so a cleaning job can delete abandoned rows without decrypting.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Binding, Crypto
from .models import Conversation, SealedDocumentRow, StatusThrottle


class SealedDocumentStore:
    """Load and save sealed JSON documents keyed by a pseudonym, in one table of that shape."""

    def __init__(self, crypto: Crypto, model: type[SealedDocumentRow]) -> None:
        self._crypto = crypto
        self._model = model
        self._table: str = getattr(model, "__tablename__")  # noqa: B009

    def _binding(self, user_key: str) -> Binding:
        return Binding(self._table, "state_ct", user_key)

    async def load(self, session: AsyncSession, user_key: str) -> dict[str, Any] | None:
        row = await session.get(self._model, user_key)
        if row is None:
            return None
        document = self._crypto.open_internal_json(row.state_ct, self._binding(user_key))
        if not isinstance(document, dict):
            raise ValueError("sealed document is not an object")
        return document

    async def save(self, session: AsyncSession, user_key: str, document: dict[str, Any], expires_hour: int) -> None:
        sealed = self._crypto.seal_internal_json(document, self._binding(user_key))
        existing = await session.get(self._model, user_key)
        if existing is None:
            row = self._model()
            row.user_key, row.state_ct, row.expires_hour = user_key, sealed, expires_hour
            session.add(row)
        else:
            existing.state_ct = sealed
            existing.expires_hour = expires_hour

    async def delete(self, session: AsyncSession, user_key: str) -> None:
        await session.execute(delete(self._model).where(self._model.user_key == user_key))

    async def purge_expired(self, session: AsyncSession, now_hour: int) -> int:
        """Delete rows whose expiry hour has passed; returns how many went."""
        result = await session.execute(
            delete(self._model).where(self._model.expires_hour < now_hour).returning(self._model.user_key)
        )
        return len(result.all())

    async def count(self, session: AsyncSession) -> int:
        return len((await session.execute(select(self._model.user_key))).all())


def conversation_store(crypto: Crypto) -> SealedDocumentStore:
    return SealedDocumentStore(crypto, Conversation)


def throttle_store(crypto: Crypto) -> SealedDocumentStore:
    return SealedDocumentStore(crypto, StatusThrottle)
