"""The parts of a draft account: each message a worker adds is sealed in a row of its own.

The conversation document (sealed, rewritten at every message) keeps only the draft's id and how
many parts it has, so adding a message seals and writes that message alone, whatever the account's
length; the review and the submit read the parts and join them in order.

A part's row key is a keyed name (the conversation purpose's HMAC) of the conversation pseudonym,
the draft id and the part's number: computed, never stored, so nothing in the database joins a
part to its conversation or to the other parts of its draft, and without the keys nobody can tell
how many parts one worker wrote. Each part is sealed bound to that row (``draft_parts.state_ct``),
so parts cannot be swapped or moved into another draft. Parts carry the coarse expiry hour every
pseudonym table has; the cleaner deletes them when it passes, without decrypting anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from .conversations import SealedDocumentStore
from .crypto import Crypto, Purpose
from .database import before_commit
from .models import DraftPart

_BUFFER = "hapbot.draft_parts"


class DraftParts:
    """Appends, reads and deletes the parts of one draft; every method takes the caller's session."""

    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto
        self._store = SealedDocumentStore(crypto, DraftPart)
        self._rows = cast(Table, DraftPart.__table__)

    def _keys(self, user_key: str, draft_id: str, numbers: Sequence[int]) -> list[str]:
        return [self._crypto.pseudonym(Purpose.CONVERSATION, f"draft-part|{user_key}|{draft_id}|{n}") for n in numbers]

    async def append(
        self, session: AsyncSession, user_key: str, draft_id: str, number: int, text: str, expires_hour: int
    ) -> None:
        """Seals part ``number`` and writes it with the transaction's other new parts, in one statement
        before the commit (:func:`storage.database.before_commit`): a batch of messages costs one."""
        [key] = self._keys(user_key, draft_id, [number])
        before_commit(session, "draft_parts", self._flush, lambda: session.info.pop(_BUFFER, None))
        session.info.setdefault(_BUFFER, {}).setdefault(expires_hour, {})[key] = {"text": text}

    async def _flush(self, session: AsyncSession) -> None:
        for hour, documents in session.info.pop(_BUFFER, {}).items():
            await self._store.save_many(session, documents, hour)

    async def read(self, session: AsyncSession, user_key: str, draft_id: str, count: int) -> list[str]:
        """Parts 0..count-1 in order, in one query; a part the cleaner already deleted is left out."""
        await self._flush(session)
        keys = self._keys(user_key, draft_id, range(count))
        documents = await self._store.load_many(session, keys)
        return [str(documents[key]["text"]) for key in keys if key in documents]

    async def keep_until(self, session: AsyncSession, user_key: str, draft_id: str, count: int, hour: int) -> None:
        """Moves the expiry hour of parts 0..count-1 (one statement, nothing re-sealed)."""
        await self._flush(session)
        if count:
            keys = self._keys(user_key, draft_id, range(count))
            rows = self._rows
            await session.execute(update(rows).where(rows.c.user_key.in_(keys)).values(expires_hour=hour))

    async def delete(self, session: AsyncSession, user_key: str, draft_id: str, count: int) -> None:
        """Deletes parts 0..count-1 (one statement)."""
        await self._flush(session)
        if count:
            keys = self._keys(user_key, draft_id, range(count))
            await session.execute(delete(self._rows).where(self._rows.c.user_key.in_(keys)))
