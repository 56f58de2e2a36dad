"""The outbox sender: claims due rows, fans alerts out, and delivers within platform limits.

One pass (``run_once``) is: fan out due alerts (one transaction), claim due deliveries for a
lease (one transaction), send them grouped by chat (chats in parallel, each chat in order, no
transaction open during a send), and record each outcome in its own short transaction:

* sent -> the row is deleted;
* ``RetryLater`` -> the chat (or, for a bot-wide flood, every chat) is paused for exactly
  ``retry_after`` and the row is due again then;
* ``ChatMoved`` -> the move is stored, the message goes to the new chat at once, and every later
  message for the old chat goes to the new one;
* ``PermanentFailure`` -> the row is dropped and its reason counted, never retried; but a
  reporter's :class:`~storage.messages.NoticePush` refused as outside the push window becomes a
  held notice for her next message (``hold_notice``), counted as ``outside_window_held``;
* anything else (network errors, time-outs) -> retried with exponential backoff and jitter,
  capped at five minutes. Alerts are never given up on for a transient reason.

A :class:`~storage.messages.ImageDelivery` (a picture, such as the weekly digest's chart) goes the
same way through the sink's ``send_image``; a platform whose sink has none drops it, counted as
``no_images``. A payload whose image is not base64 is set aside as ``bad_payload``.

A message over a rate limit is handed back unsent (its claim released) to be due when the limit
allows, so a pass never sleeps and a slow chat never holds up the others.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.sinks import OUTSIDE_WINDOW, ChatMoved, ImageSink, PermanentFailure, RetryLater, Sink
from bot.jobs.alert_routing import AlertRouter
from bot.jobs.ratelimit import RateLimiter
from storage.database import Database, short_hash
from storage.delivery import chat_migrations, follow_migrations, increment_count, record_chat_migration
from storage.messages import Delivery, ImageDelivery, NoticePush
from storage.outbox import ClaimedItem, Outbox

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
HoldNotice = Callable[[AsyncSession, str, datetime], Awaitable[None]]
"""Holds a reporter notice for the worker at a contact address until her next message."""
OUTSIDE_WINDOW_HELD = "outside_window_held"
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=5)
NO_SINK_RECHECK = timedelta(hours=1)
MAX_MOVES_PER_SEND = 3
Sendable = Delivery | ImageDelivery
SENT_KINDS: tuple[type[Sendable], ...] = (Delivery, NoticePush, ImageDelivery)


def _image_bytes(message: ImageDelivery) -> bytes | None:
    """The picture's bytes, or None when the payload is not base64."""
    try:
        return base64.b64decode(message.image, validate=True)
    except (binascii.Error, ValueError):
        return None


def backoff_delay(attempts: int, rng: random.Random) -> timedelta:
    """Exponential backoff with "equal jitter": half the step fixed, half random, so replicas that
    failed together do not retry together; never more than five minutes."""
    step = min(BACKOFF_CAP.total_seconds(), BACKOFF_BASE.total_seconds() * 2 ** max(0, min(attempts - 1, 16)))
    return timedelta(seconds=step / 2 + rng.uniform(0, step / 2))


class OutboxSender:
    """Delivers outbox rows through ``sinks`` keyed by platform (``"telegram"``, ``"wecom"``)."""

    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        sinks: Mapping[str, Sink],
        clock: Clock,
        *,
        router: AlertRouter | None = None,
        limiters: Mapping[str, RateLimiter] | None = None,
        batch_size: int = 100,
        lease: timedelta = timedelta(minutes=5),
        concurrency: int = 4,
        rng: random.Random | None = None,
        hold_notice: HoldNotice | None = None,
    ) -> None:
        self._database = database
        self._hold_notice = hold_notice
        self._outbox = outbox
        self._sinks = dict(sinks)
        self._clock = clock
        self._router = router
        if limiters is None:
            seconds = self.seconds
            limiters = {"telegram": RateLimiter.telegram(seconds), "wecom": RateLimiter.wecom(seconds)}
        self._limiters = dict(limiters)
        self._batch_size = batch_size
        self._lease = lease
        self._concurrency = max(1, concurrency)
        self._rng = rng or random.SystemRandom()
        self._migrations: dict[str, str] = {}

    def seconds(self) -> float:
        """The injected clock as float seconds, for rate limiters."""
        return self._clock().timestamp()

    async def run_once(self) -> int:
        """One pass over due work; returns how many messages were sent."""
        now = self._clock()
        if self._router is not None:
            async with self._database.transaction() as session:
                await self._router.route_due(session, now, self._batch_size)
        async with self._database.transaction() as session:
            claimed = await self._outbox.claim_due(session, now, self._batch_size, self._lease, kinds=SENT_KINDS)
            if claimed:
                self._migrations = await chat_migrations(session)
        if not claimed:
            return 0
        by_chat: dict[str, list[ClaimedItem[Sendable]]] = {}
        for item in claimed:
            by_chat.setdefault(follow_migrations(self._migrations, item.message.chat), []).append(item)
        deferred: list[tuple[str, datetime]] = []  # handed back unsent: (row id, due again at)
        gate = asyncio.Semaphore(self._concurrency)
        results = await asyncio.gather(
            *(self._deliver_chat(address, items, gate, deferred) for address, items in by_chat.items()),
            return_exceptions=True,
        )
        if deferred:
            async with self._database.transaction() as session:
                for item_id, due_at in deferred:
                    await self._outbox.reschedule(session, item_id, due_at, attempted=False)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(result for result in results if isinstance(result, int))

    async def run_forever(self, stop: asyncio.Event, *, idle: float = 1.0) -> None:
        """Pass after pass until ``stop`` is set; waits ``idle`` seconds after a pass that sent nothing.
        A failing pass is logged and retried, so a database hiccup never stops deliveries."""
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("outbox pass failed; retrying")
                sent = 0
            if sent == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle)
                except TimeoutError:
                    pass

    async def _deliver_chat(
        self,
        address: str,
        items: list[ClaimedItem[Sendable]],
        gate: asyncio.Semaphore,
        deferred: list[tuple[str, datetime]],
    ) -> int:
        """Sends one chat's messages in order, stopping at the first that must wait."""
        sent = 0
        async with gate:
            for index, item in enumerate(items):
                address = follow_migrations(self._migrations, address)
                outcome = await self._deliver(address, item)
                if outcome is True:
                    sent += 1
                elif isinstance(outcome, datetime):
                    # The rest of this chat waits as long; they were not attempted.
                    deferred.extend((rest.id, outcome) for rest in items[index + 1 :])
                    break
        return sent

    async def _deliver(self, address: str, item: ClaimedItem[Sendable]) -> bool | datetime:
        """Sends one row; True when sent, a datetime when the chat must wait until then, False
        when the row is settled otherwise (dropped, set aside, held for a missing sink)."""
        message = item.message
        platform, _, chat_id = address.partition(":")
        image = _image_bytes(message) if isinstance(message, ImageDelivery) else b""
        if not chat_id or image is None:
            async with self._database.transaction() as session:
                await self._outbox.set_aside(session, item.id, "bad_payload")
            return False
        sink = self._sinks.get(platform)
        if sink is None:
            return await self._hold_without_sink(item, platform)
        if isinstance(message, ImageDelivery) and not isinstance(sink, ImageSink):
            await self._drop(item, "no_images", address)
            return False
        limiter = self._limiters.get(platform)
        for _move in range(MAX_MOVES_PER_SEND + 1):
            wait = limiter.delay(chat_id) if limiter else 0.0
            if wait > 0:
                due = self._clock() + timedelta(seconds=wait)
                async with self._database.transaction() as session:
                    await self._outbox.reschedule(session, item.id, due, attempted=False)
                return due
            if limiter:
                limiter.take(chat_id)
            try:
                if isinstance(message, Delivery):
                    await sink.send(chat_id, message.text)
                elif isinstance(sink, ImageSink):
                    await sink.send_image(chat_id, image, message.caption)
            except ChatMoved as moved:
                new_address = f"{platform}:{moved.new_chat_id}"
                await self._record_move(f"{platform}:{chat_id}", new_address)
                chat_id = moved.new_chat_id
                continue
            except RetryLater as later:
                if limiter:
                    limiter.pause(chat_id, later.seconds, everywhere=later.everywhere)
                return await self._retry(item, timedelta(seconds=later.seconds), "retry_after")
            except PermanentFailure as failure:
                if failure.reason == OUTSIDE_WINDOW and isinstance(message, NoticePush):
                    await self._hold_refused_notice(item, message)
                    return False
                await self._drop(item, failure.reason, f"{platform}:{chat_id}")
                return False
            except Exception as error:
                log.warning("send to %s failed (%s); will retry", short_hash(address), type(error).__name__)
                return await self._retry(item, backoff_delay(item.attempts, self._rng), "network_error")
            async with self._database.transaction() as session:
                await self._outbox.complete(session, item.id)
            return True
        log.error("chat %s keeps moving; will retry", short_hash(address))
        return await self._retry(item, backoff_delay(item.attempts, self._rng), "network_error")

    async def _retry(self, item: ClaimedItem[Sendable], delay: timedelta, reason: str) -> datetime:
        due = self._clock() + delay
        async with self._database.transaction() as session:
            await self._outbox.reschedule(session, item.id, due)
            await increment_count(session, reason)
        return due

    async def _drop(self, item: ClaimedItem[Sendable], reason: str, address: str) -> None:
        log.warning("delivery to %s dropped: %s", short_hash(address), reason)
        async with self._database.transaction() as session:
            await self._outbox.drop(session, item.id, reason)

    async def _hold_refused_notice(self, item: ClaimedItem[Sendable], message: NoticePush) -> None:
        """A reporter notice the platform found too late: held for her next message, in the same
        transaction that settles the row, so it is either still queued or held, never lost."""
        if self._hold_notice is None:
            await self._drop(item, OUTSIDE_WINDOW, message.chat)
            return
        async with self._database.transaction() as session:
            await self._hold_notice(session, message.chat, self._clock())
            await self._outbox.drop(session, item.id, OUTSIDE_WINDOW_HELD)

    async def _record_move(self, old: str, new: str) -> None:
        self._migrations[old] = new
        async with self._database.transaction() as session:
            await record_chat_migration(session, old, new)
            await increment_count(session, "chat_migrated")

    async def _hold_without_sink(self, item: ClaimedItem[Sendable], platform: str) -> bool:
        """No sink for this platform in this process (not enabled yet): keep the row, re-check hourly."""
        log.error("no sender for %r chats is running; messages for them wait", platform)
        async with self._database.transaction() as session:
            await self._outbox.reschedule(session, item.id, self._clock() + NO_SINK_RECHECK)
            if item.attempts == 1:
                await increment_count(session, "no_sink")
        return False
