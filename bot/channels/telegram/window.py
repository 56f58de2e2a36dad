"""What /hide may delete: the window of a worker's private chat, kept as the id where it starts.

Telegram numbers the messages of a private chat one after another, the worker's and the bot's
alike, so a conversation's messages are every id from the first of its window to the newest. The
channel keeps only that first id (sealed, keyed by the worker's pseudonym), written in the same
transaction that handles the message opening the window: nothing is written after sending, except
after a receipt, when the report's messages go and the window starts again at the receipt.

A window row is refreshed at most once an hour while the worker writes, and expires an hour after
Telegram's 48-hour deletion limit has passed for the newest message it covers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.conversations import SealedDocumentStore

DELETE_WINDOW_SECONDS = 48 * 3600 - 600  # Telegram: bots may delete private-chat messages for 48 hours
KEEP_HOURS = 49
UNREADABLE = -1
"""The start :meth:`ChatWindows.open` gives a worker whose window row this process cannot open."""
MAX_HIDDEN = 500  # /hide tries the newest 500 ids of a window (Telegram skips what it may not delete)


def window_start(document: Mapping[str, Any] | None, now: float) -> int | None:
    """The first message id of a stored window; also reads the older layout, a list of
    (message id, sent at) pairs, so windows recorded before an upgrade are not lost."""
    if not document:
        return None
    if "s" in document:
        return int(document["s"])
    ids = [int(m) for m, t in document.get("m", []) if float(t) > now - DELETE_WINDOW_SECONDS]
    return min(ids) if ids else None


def hidden_ids(start: int | None, newest: int) -> list[int]:
    """The ids /hide deletes: the window up to ``newest`` (at most :data:`MAX_HIDDEN` of them)."""
    first = newest if start is None else max(min(start, newest), newest - MAX_HIDDEN + 1)
    return list(range(first, newest + 1))


class ChatWindows:
    """Where each worker's conversation window starts, in the sealed ``chat_traces`` rows."""

    def __init__(self, store: SealedDocumentStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def open(self, session: AsyncSession, first_ids: Mapping[str, int]) -> dict[str, int]:
        """Inside the handling transaction: each worker's window start, opening one at the given id
        (the worker's first message of this batch) where none is open; one read, and a write only
        for new windows and the hourly refresh. A row this process cannot open (a master key it
        lacks, a damaged row) is left as it is and its worker gets :data:`UNREADABLE`: her message
        still goes on, and nothing here may change her window; a process with the right key keeps it."""
        if not first_ids:
            return {}
        now = self._clock()
        hour = int(now // 3600)
        documents, unreadable = await self._store.load_readable(session, first_ids)
        starts: dict[str, int] = {}
        changed: dict[str, dict[str, Any]] = {}
        for key, first in first_ids.items():
            if key in unreadable:
                starts[key] = UNREADABLE
                continue
            document = documents.get(key)
            stored = window_start(document, now)
            start = first if stored is None else min(stored, first)
            starts[key] = start
            if start != stored or (document or {}).get("h") != hour:
                changed[key] = {"s": start, "h": hour}
        await self._store.save_many(session, changed, hour + KEEP_HOURS)
        return starts

    async def restart(self, session: AsyncSession, starts: Mapping[str, int]) -> None:
        """Windows that start again at the given ids (a receipt: the report's messages are gone)."""
        hour = int(self._clock() // 3600)
        await self._store.save_many(session, {key: {"s": s, "h": hour} for key, s in starts.items()}, hour + KEEP_HOURS)

    async def start(self, session: AsyncSession, user_key: str) -> int | None:
        """Where the window starts; None when none is open, or its row cannot be opened here."""
        documents, _unreadable = await self._store.load_readable(session, [user_key])
        return window_start(documents.get(user_key), self._clock())

    async def close(self, session: AsyncSession, user_key: str) -> None:
        """Forgets a window (after /hide deleted it): the worker's next message opens a new one. A
        row this process cannot open stays for the process that can."""
        _documents, unreadable = await self._store.load_readable(session, [user_key])
        if user_key not in unreadable:
            await self._store.delete(session, user_key)
