"""Conversation state rows: one sealed JSON document per worker pseudonym.

The document's layout belongs to ``handlers``; storage only seals it, bound to its row, and keeps a
coarse expiry hour in plaintext so a cleaning job can delete abandoned rows without decrypting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, cast

from sqlalchemy import Insert, Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Binding, Crypto, DecryptionError
from .models import CaseLink, ChatTrace, Conversation, PendingNotice, SealedDocumentRow, StatusThrottle


class SealedDocumentStore:
    """Load and save sealed JSON documents keyed by a pseudonym, in one table of that shape."""

    def __init__(self, crypto: Crypto, model: type[SealedDocumentRow]) -> None:
        self._crypto = crypto
        self._model = model
        self._table: str = getattr(model, "__tablename__")  # noqa: B009
        # Every message reads and writes these rows: Core statements on the table, not the ORM's bulk paths.
        self._rows = cast(Table, getattr(model, "__table__"))  # noqa: B009
        self._upserts: dict[str, Insert] = {}  # built once per dialect: building one costs ~1 ms

    def _binding(self, user_key: str) -> Binding:
        return Binding(self._table, "state_ct", user_key)

    async def load(self, session: AsyncSession, user_key: str) -> dict[str, Any] | None:
        table = self._rows
        sealed = (
            await session.execute(select(table.c.state_ct).where(table.c.user_key == user_key))
        ).scalar_one_or_none()
        if sealed is None:
            return None
        document = self._crypto.open_internal_json(sealed, self._binding(user_key))
        if not isinstance(document, dict):
            raise ValueError("sealed document is not an object")
        return document

    async def save(self, session: AsyncSession, user_key: str, document: dict[str, Any], expires_hour: int) -> None:
        await self.save_many(session, {user_key: document}, expires_hour)

    async def load_many(self, session: AsyncSession, user_keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Documents of several pseudonyms in one query (absent ones are left out)."""
        keys = list(user_keys)
        if not keys:
            return {}
        table = self._rows
        rows = await session.execute(select(table.c.user_key, table.c.state_ct).where(table.c.user_key.in_(keys)))
        documents = {}
        for user_key, sealed in rows:
            document = self._crypto.open_internal_json(sealed, self._binding(user_key))
            if isinstance(document, dict):
                documents[user_key] = document
        return documents

    async def present(self, session: AsyncSession, user_keys: Iterable[str]) -> set[str]:
        """Which of ``user_keys`` have a row, in one query that opens nothing: lets a batch skip a
        per-message lookup for the many workers who have none."""
        keys = list(user_keys)
        if not keys:
            return set()
        table = self._rows
        rows = await session.execute(select(table.c.user_key).where(table.c.user_key.in_(keys)))
        return set(rows.scalars())

    async def load_readable(
        self, session: AsyncSession, user_keys: Iterable[str]
    ) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """Documents of several pseudonyms in one query, and the pseudonyms whose row exists but
        cannot be opened here: sealed under a master key this process lacks, damaged, or not an
        object. Callers must leave those rows as they are: a process with the right key reads them."""
        keys = list(user_keys)
        if not keys:
            return {}, set()
        model = self._model
        rows = await session.execute(select(model.user_key, model.state_ct).where(model.user_key.in_(keys)))
        documents: dict[str, dict[str, Any]] = {}
        unreadable: set[str] = set()
        for user_key, sealed in rows:
            try:
                document = self._crypto.open_internal_json(sealed, self._binding(user_key))
            except DecryptionError:
                unreadable.add(user_key)
                continue
            if isinstance(document, dict):
                documents[user_key] = document
            else:
                unreadable.add(user_key)
        return documents, unreadable

    async def save_many(
        self, session: AsyncSession, documents: Mapping[str, dict[str, Any]], expires_hour: int
    ) -> None:
        """Upserts several documents in one statement (group commit of a batch of messages)."""
        if not documents:
            return
        values = [
            {
                "user_key": user_key,
                "state_ct": self._crypto.seal_internal_json(document, self._binding(user_key)),
                "expires_hour": expires_hour,
            }
            for user_key, document in documents.items()
        ]
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        await session.execute(self._upsert(dialect), values)

    def _upsert(self, dialect: str) -> Insert:
        statement = self._upserts.get(dialect)
        if statement is None:
            insert = pg_insert(self._rows) if dialect == "postgresql" else sqlite_insert(self._rows)
            statement = insert.on_conflict_do_update(
                index_elements=["user_key"],
                set_={"state_ct": insert.excluded.state_ct, "expires_hour": insert.excluded.expires_hour},
            )
            self._upserts[dialect] = statement
        return statement

    async def iterate(self, session: AsyncSession, chunk: int = 2000) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Every document, ``chunk`` rows per query in key order (memory stays flat); rows this
        process cannot open are skipped."""
        model = self._model
        after = ""
        while True:
            query = select(model.user_key, model.state_ct).where(model.user_key > after).order_by(model.user_key)
            rows = (await session.execute(query.limit(chunk))).all()
            if not rows:
                return
            for user_key, sealed in rows:
                try:
                    document = self._crypto.open_internal_json(sealed, self._binding(user_key))
                except DecryptionError:
                    continue
                if isinstance(document, dict):
                    yield user_key, document
            after = rows[-1][0]

    async def delete(self, session: AsyncSession, user_key: str) -> None:
        await session.execute(delete(self._rows).where(self._rows.c.user_key == user_key))

    async def count(self, session: AsyncSession) -> int:
        return len((await session.execute(select(self._model.user_key))).all())


def conversation_store(crypto: Crypto) -> SealedDocumentStore:
    return SealedDocumentStore(crypto, Conversation)


def throttle_store(crypto: Crypto) -> SealedDocumentStore:
    return SealedDocumentStore(crypto, StatusThrottle)


def trace_store(crypto: Crypto) -> SealedDocumentStore:
    """Ids of messages in a worker's private chat that /hide may delete later (Telegram)."""
    return SealedDocumentStore(crypto, ChatTrace)


def notice_store(crypto: Crypto) -> SealedDocumentStore:
    """Notices held for a worker's next message (WeChat forbids most pushes after 48 hours)."""
    return SealedDocumentStore(crypto, PendingNotice)


def link_store(crypto: Crypto) -> SealedDocumentStore:
    """The short-lived, sealed links between a worker's pseudonym and a case."""
    return SealedDocumentStore(crypto, CaseLink)
