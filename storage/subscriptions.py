"""Reminder subscriptions and the one reminder held for a worker's next message.

A subscription is a sealed document keyed by the *reminder* pseudonym of the worker's chat address
(``Purpose.REMINDER``, a key used for nothing else), so a subscription row cannot be joined to the
worker's conversation, their held notices or any case, even by someone holding the other keys'
pseudonyms. Everything in it — the address, site, language, own quiet hours, the hour they joined —
is sealed to its row. Opting out deletes the row; nothing of it stays.

A held reminder (WeChat outside its 48 hours, the console) is at most one per worker: a newer one
replaces the older. Its key is a pseudonym of its own (``held:`` + address under the same purpose),
so the two tables do not share a key either; it expires with its occasion.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .conversations import SealedDocumentStore
from .crypto import Crypto, DecryptionError, Purpose
from .models import HeldReminder as HeldReminderRow
from .models import ReminderSubscription

NEVER_HOUR = 2**31 - 1
"""Subscriptions do not lapse by themselves; the column only keeps the sealed-row shape."""
STREAM_CHUNK = 2000


@dataclass(frozen=True, repr=False)
class Subscription:
    """A worker who asked for reminders. ``quiet`` is their own quiet hours (``"22:00-07:00"``),
    ``None`` for the site's; ``joined_hour`` is the hour (since the epoch) they opted in."""

    contact: str
    site: str
    language: str
    joined_hour: int
    quiet: str | None = None

    @property
    def channel(self) -> str:
        return self.contact.partition(":")[0]

    def document(self) -> dict[str, Any]:
        return {
            "contact": self.contact,
            "site": self.site,
            "language": self.language,
            "joined_hour": self.joined_hour,
            "quiet": self.quiet,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Subscription:
        quiet = document.get("quiet")
        return cls(
            contact=str(document["contact"]),
            site=str(document["site"]),
            language=str(document.get("language") or "zh"),
            joined_hour=int(document.get("joined_hour") or 0),
            quiet=str(quiet) if quiet else None,
        )

    def __repr__(self) -> str:
        return f"Subscription(channel={self.channel!r}, site={self.site!r})"


@dataclass(frozen=True, repr=False)
class Held:
    """A reminder waiting for the worker's next message, shown only before ``until``."""

    occasion: str
    text: str
    until: float

    def __repr__(self) -> str:
        return f"Held(chars={len(self.text)})"


class SubscriptionStore:
    """Subscriptions by chat address (``channel:chat``)."""

    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto
        self._documents = SealedDocumentStore(crypto, ReminderSubscription)

    def key(self, contact: str) -> str:
        return self._crypto.pseudonym(Purpose.REMINDER, contact)

    async def get(self, session: AsyncSession, contact: str) -> Subscription | None:
        document = await self._documents.load(session, self.key(contact))
        return Subscription.from_document(document) if document else None

    async def save(self, session: AsyncSession, subscription: Subscription) -> None:
        await self._documents.save(session, self.key(subscription.contact), subscription.document(), NEVER_HOUR)

    async def save_many(self, session: AsyncSession, subscriptions: Iterable[Subscription]) -> None:
        """Upserts many subscriptions in one statement (imports, benchmarks)."""
        documents = {self.key(s.contact): s.document() for s in subscriptions}
        await self._documents.save_many(session, documents, NEVER_HOUR)

    async def delete(self, session: AsyncSession, contact: str) -> bool:
        """Opt out: the row goes. True when there was one."""
        key = self.key(contact)
        existed = await session.get(ReminderSubscription, key) is not None
        await self._documents.delete(session, key)
        return existed

    async def load_many(self, session: AsyncSession, contacts: Iterable[str]) -> dict[str, Subscription]:
        """The subscriptions of these addresses that exist, by address."""
        keys = {self.key(contact): contact for contact in contacts}
        found = await self._documents.load_many(session, keys)
        return {keys[key]: Subscription.from_document(document) for key, document in found.items()}

    async def stream(self, session: AsyncSession, chunk: int = STREAM_CHUNK) -> AsyncIterator[Subscription]:
        """Every subscription, a chunk of rows at a time (memory stays flat); a row this process
        cannot read is skipped."""
        async for _key, document in self._documents.iterate(session, chunk):
            try:
                yield Subscription.from_document(document)
            except (KeyError, TypeError, ValueError):
                continue

    async def count(self, session: AsyncSession) -> int:
        return int((await session.execute(select(func.count()).select_from(ReminderSubscription))).scalar_one())


class HeldReminderStore:
    """The one reminder held for a worker's next message."""

    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto
        self._documents = SealedDocumentStore(crypto, HeldReminderRow)

    def key(self, contact: str) -> str:
        return self._crypto.pseudonym(Purpose.REMINDER, f"held:{contact}")

    async def hold(self, session: AsyncSession, contact: str, held: Held) -> str | None:
        """Keeps ``held`` for the worker's next message, replacing any older one; returns the
        occasion of the one it replaced (so it can be counted), else None."""
        key = self.key(contact)
        replaced = None
        try:
            previous = await self._documents.load(session, key)
        except (DecryptionError, ValueError):
            previous = None
        if previous is not None and previous.get("occasion") != held.occasion:
            replaced = str(previous.get("occasion"))
        document = {"occasion": held.occasion, "text": held.text, "until": held.until}
        await self._documents.save(session, key, document, int(held.until // 3600) + 1)
        return replaced

    async def held_for(self, session: AsyncSession, contacts: Iterable[str]) -> set[str]:
        """Which of ``contacts`` have a reminder held (current or lapsed), in one query."""
        keys = {self.key(contact): contact for contact in contacts}
        return {keys[key] for key in await self._documents.present(session, keys)}

    async def take(self, session: AsyncSession, contact: str, now: datetime) -> Held | None:
        """The worker's held reminder if it is still current; the row goes either way, unless this
        process cannot open it (a master key it lacks): then it stays for a process that can, and
        its expiry hour lets the cleaner remove it if none ever does. A damaged row goes."""
        key = self.key(contact)
        try:
            document = await self._documents.load(session, key)
        except DecryptionError:
            return None
        except ValueError:
            document = None
            await self._documents.delete(session, key)
        if document is None:
            return None
        await self._documents.delete(session, key)
        held = Held(str(document["occasion"]), str(document["text"]), float(document["until"]))
        return held if held.until > now.timestamp() else None
