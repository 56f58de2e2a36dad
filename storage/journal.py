"""The update journal: platform updates are committed here before they are acknowledged.

An update is journaled (one transaction for a whole batch: group commit), then acknowledged to
the platform (the polling offset advances, or the webhook answers 200), then handled. Handling
marks the row handled *inside the same transaction* as its effects, so an update is handled
exactly once: a crash before that commit leaves it pending for the next start, a crash after it
leaves a tombstone that drops any redelivery.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Insert, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Binding, Crypto, Purpose
from .models import InboundUpdate, SeenNonce

TOMBSTONE_HOURS = 48  # Telegram keeps unconfirmed updates 24 h; WeChat retries within seconds
# The statements on every message's path use the tables (Core), not the ORM entities: the ORM's
# bulk paths add per-row work (and, for UPDATE, session synchronisation) that buys nothing here.
_UPDATES = cast(Table, InboundUpdate.__table__)
_NONCES = cast(Table, SeenNonce.__table__)


@dataclass(frozen=True, repr=False)
class JournalEntry:
    key: str
    payload: dict[str, Any]

    def __repr__(self) -> str:
        return "JournalEntry(…)"


class UpdateJournal:
    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    def key(self, channel: str, platform_id: str) -> str:
        """The keyed, irreversible dedup key of a platform update id."""
        return self._crypto.pseudonym(Purpose.DEDUP, f"{channel}:{platform_id}")

    async def record(
        self, session: AsyncSession, channel: str, items: Sequence[tuple[str, dict[str, Any]]], now_hour: int
    ) -> list[str]:
        """Journals updates not seen before; returns the keys of the new ones (redeliveries are dropped)."""
        return [entry.key for entry in await self.record_entries(session, channel, items, now_hour)]

    async def record_entries(
        self, session: AsyncSession, channel: str, items: Sequence[tuple[str, dict[str, Any]]], now_hour: int
    ) -> list[JournalEntry]:
        """Journals updates not seen before, in one ``INSERT … ON CONFLICT DO NOTHING RETURNING``;
        returns the new ones with their keys, in arrival order (redeliveries and tombstones are dropped)."""
        if not items:
            return []
        rows: dict[str, dict[str, Any]] = {}
        payloads: dict[str, dict[str, Any]] = {}
        base = time.time_ns()
        for offset, (platform_id, payload) in enumerate(items):
            key = self.key(channel, platform_id)
            if key in rows:
                continue
            rows[key] = {
                "dedup_key": key,
                "channel": channel,
                "sequence": base + offset,
                "payload_ct": self._crypto.seal_internal_json(payload, Binding("inbound_updates", "payload_ct", key)),
                "handled": False,
                "expires_hour": now_hour + TOMBSTONE_HOURS,
            }
            payloads[key] = payload
        # executemany of one cached statement, not a VALUES list compiled anew for every batch size
        statement = _insert_new(session, _UPDATES, "dedup_key")
        inserted = set((await session.execute(statement, list(rows.values()))).scalars())
        return [JournalEntry(key, payloads[key]) for key in rows if key in inserted]

    async def pending(
        self, session: AsyncSession, channel: str, limit: int = 500, known: Mapping[str, dict[str, Any]] | None = None
    ) -> list[JournalEntry]:
        """Unhandled updates in arrival order. Payloads this process journaled itself (``known``)
        are taken from memory; only those from before a restart are read back and unsealed."""
        known = known or {}
        keys = list(
            (
                await session.execute(
                    select(InboundUpdate.dedup_key)
                    .where(InboundUpdate.channel == channel, InboundUpdate.handled.is_(False))
                    .order_by(InboundUpdate.sequence)
                    .limit(limit)
                )
            ).scalars()
        )
        missing = [key for key in keys if key not in known]
        sealed: dict[str, bytes | None] = {}
        if missing:
            rows = await session.execute(
                select(InboundUpdate.dedup_key, InboundUpdate.payload_ct).where(InboundUpdate.dedup_key.in_(missing))
            )
            sealed = {key: payload for key, payload in rows}
        entries = []
        for key in keys:
            if key in known:
                entries.append(JournalEntry(key, known[key]))
            elif (ciphertext := sealed.get(key)) is not None:
                binding = Binding("inbound_updates", "payload_ct", key)
                entries.append(JournalEntry(key, self._crypto.open_internal_json(ciphertext, binding)))
        return entries

    async def claim_many(self, session: AsyncSession, keys: Sequence[str]) -> set[str]:
        """Marks a batch handled in one statement; returns the keys this transaction claimed
        (the others were handled by someone else and must be skipped)."""
        if not keys:
            return set()
        result = await session.execute(
            update(_UPDATES)
            .where(_UPDATES.c.dedup_key.in_(list(keys)), _UPDATES.c.handled.is_(False))
            .values(handled=True, payload_ct=None, sequence=0)
            .returning(_UPDATES.c.dedup_key)
        )
        return set(result.scalars())

    async def state(self, session: AsyncSession, key: str) -> str | None:
        """"pending", "handled" or None (never seen)."""
        handled = (
            await session.execute(select(InboundUpdate.handled).where(InboundUpdate.dedup_key == key))
        ).scalar_one_or_none()
        return None if handled is None else ("handled" if handled else "pending")

    def nonce_key(self, channel: str, timestamp: str, nonce: str) -> str:
        return self._crypto.pseudonym(Purpose.DEDUP, f"{channel}-nonce:{timestamp}:{nonce}")

    async def nonce_seen(self, session: AsyncSession, nonce_key: str) -> bool:
        """Whether a signed request's nonce was recorded already (a replay), without recording it:
        a read-only look before costly work; :meth:`claim_fresh` still decides in the write."""
        return await session.get(SeenNonce, nonce_key) is not None

    async def claim_fresh(
        self, session: AsyncSession, channel: str, items: Sequence[tuple[str, str]], now_hour: int
    ) -> list[str]:
        """For a batch of (nonce key, dedup key) pairs: "replayed" when the nonce was seen before,
        "duplicate" when the message was handled already, else "new" — and then both are recorded,
        in this transaction, with the message as handled (a tombstone). A message journaled as
        pending (answered "success" before its handling committed, see :meth:`record_entries`) is
        "new" too: this transaction claims it.

        ``INSERT … ON CONFLICT DO NOTHING RETURNING`` statements decide it, so a replica racing for
        the same retry waits for the other's commit and then sees it as a duplicate.
        """
        nonces = list(dict.fromkeys(nonce for nonce, _ in items))
        inserted = set(
            (
                await session.execute(
                    _insert_new(session, _NONCES, "nonce_key"),
                    [{"nonce_key": nonce, "expires_hour": now_hour + 1} for nonce in nonces],
                )
            ).scalars()
        )
        verdicts: list[str] = []
        fresh: list[str] = []
        for nonce, key in items:
            if nonce not in inserted:
                verdicts.append("replayed")
                continue
            inserted.discard(nonce)  # a second message with the same nonce in this batch is a replay
            verdicts.append(key)
            fresh.append(key)
        claimed: set[str] = set()
        if fresh:
            claimed = set(
                (
                    await session.execute(
                        _insert_new(session, _UPDATES, "dedup_key"),
                        [
                            {"dedup_key": key, "channel": channel, "sequence": 0, "payload_ct": None,
                             "handled": True, "expires_hour": now_hour + TOMBSTONE_HOURS}
                            for key in dict.fromkeys(fresh)
                        ],
                    )
                ).scalars()
            )
        unclaimed = [key for key in dict.fromkeys(fresh) if key not in claimed]
        if unclaimed:  # seen before: still pending (journaled, its handling not committed) is ours now
            claimed |= await self.claim_many(session, unclaimed)
        result = []
        for verdict in verdicts:
            if verdict == "replayed":
                result.append(verdict)
            elif verdict in claimed:
                claimed.discard(verdict)  # the first of two identical messages in a batch wins
                result.append("new")
            else:
                result.append("duplicate")
        return result

    async def count_pending(self, session: AsyncSession, channel: str) -> int:
        query = select(func.count()).where(InboundUpdate.channel == channel, InboundUpdate.handled.is_(False))
        return int((await session.execute(query)).scalar_one())


_INSERTS_NEW: dict[tuple[str, str], Insert] = {}


def _insert_new(session: AsyncSession, table: Table, key: str) -> Insert:
    """``INSERT … ON CONFLICT (key) DO NOTHING RETURNING key`` for ``table``, built once per dialect
    (building one costs more than running it)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    statement = _INSERTS_NEW.get((dialect, table.name))
    if statement is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
        _INSERTS_NEW[(dialect, table.name)] = statement
    return statement
