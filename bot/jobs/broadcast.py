"""The reminder sender: delivers :class:`~storage.messages.ReminderPush` rows, a batch at a time,
within each platform's rate limits, and records every outcome per occasion.

One batch is: claim up to ``batch_size`` due rows for a lease (one transaction), send them (many
at once, each waiting for the rate limiter, no transaction open), then record all their outcomes
in one transaction. A crash after a send and before that record leaves the batch's rows claimed;
when their lease runs out they are claimed again, counted as ``in_doubt``, and sent again. So a
crash can repeat at most the one batch in flight, and never loses a reminder. No platform lets us
do better: neither Telegram's ``sendMessage`` nor WeChat's customer-service or template API takes
an idempotency key, and neither can be asked afterwards whether a message went out; the only
choices are "maybe twice" or "maybe never", and a reminder that may be missing is worse.

Outcomes: sent (the row goes); the platform said wait (``retry_after``: the chat, or every chat,
is paused for exactly that long and the row is due again then); a permanent failure (blocked,
unfollowed, outside WeChat's window, chat not found) drops the row once with its reason counted,
and a worker who blocked or unfollowed loses the subscription too; anything else is retried with
backoff. A row of a paused occasion is handed back unsent. A row that would have to wait more than
a moment for the rate limiter is handed back too, so one pass never sleeps long.

What was true when a reminder was queued is checked again when it is sent, since a row may wait
long in between (a 429, a retry, the rate limiter, a pause): a worker who has since turned
reminders off or unfollowed gets nothing (``unsubscribed``), an occasion that has ended sends
nothing (``expired``), and quiet hours move the row to their end (or drop it, ``quiet``, when that
is after the occasion). And no send starts once it could outlast the batch's lease: another
replica may claim rows whose lease ran out, so a slow platform would otherwise have the batch
sent twice with no crash at all; those rows are handed back unsent and due at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.channels.sinks import ChatMoved, PermanentFailure, RetryLater, Sink
from bot.jobs.ratelimit import RateLimiter
from bot.jobs.schedules import ReminderSchedules, withheld
from bot.jobs.sender import backoff_delay
from handlers.context import Services
from storage.database import Database, short_hash
from storage.messages import ReminderPush
from storage.outbox import ClaimedItem
from storage.reminders import Occasion
from storage.subscriptions import Subscription

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_PACE = 2.0
"""Seconds a send may wait for the rate limiter inside a pass; longer waits hand the row back."""
SENDS_AT_ONCE = 4
"""More at once only adds client overhead: PTB over httpx costs 2.2 ms of CPU a send at 4, 4.4 at 32."""
PAUSED_RECHECK = timedelta(seconds=30)
NO_SINK_RECHECK = timedelta(hours=1)
RUN_BUDGET = 60.0
"""Seconds one ``run_once`` keeps claiming batches (a broadcast runs on without waiting for ticks);
a stop of the process ends it after the batch in flight."""
FORGET_ON = frozenset({"blocked", "unsubscribed", "chat_not_found"})
"""Permanent failures that end the subscription: the worker blocked the bot or left."""
LONGEST_SEND = timedelta(seconds=15)
"""The longest one send may take (the platforms' API time-outs are 5–10 s): none starts later than
this before the batch's lease ends (nor in the second half of a lease shorter than twice this)."""


@runtime_checkable
class TemplateSink(Protocol):
    """A sink that can also send the platform's template messages (WeChat)."""

    async def send_template(self, chat_id: str, template_id: str, title: str, text: str) -> None: ...


@runtime_checkable
class ChoiceSink(Protocol):
    """A sink that can add a button to a message (Telegram): what the reminder opens."""

    async def send_choice(self, chat_id: str, text: str, choice_id: str, label: str) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row: ``sent``, or due again at ``later`` (``attempted`` False when
    it was handed back unsent), or dropped for ``reason``."""

    sent: bool = False
    later: datetime | None = None
    attempted: bool = True
    reason: str = ""


class ReminderSender:
    def __init__(
        self,
        database: Database,
        services: Services,
        sinks: Mapping[str, Sink],
        *,
        schedules: ReminderSchedules,
        limiters: Mapping[str, RateLimiter] | None = None,
        batch_size: int = 200,
        lease: timedelta = timedelta(seconds=120),
        concurrency: int = SENDS_AT_ONCE,
        budget: float = RUN_BUDGET,
        stopping: asyncio.Event | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._database = database
        self._services = services
        self._sinks = dict(sinks)
        self._schedules = schedules
        if limiters is None:
            limiters = {"telegram": RateLimiter.telegram(time.monotonic)}
        self._limiters = dict(limiters)
        self._batch_size = batch_size
        self._lease = lease
        self._concurrency = max(1, concurrency)
        self._budget = budget
        self._stopping = stopping
        self._rng = rng or random.SystemRandom()

    async def run_once(self) -> int:
        """Batches until nothing is due or the time budget is spent; returns how many were sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._budget
        sent = 0
        while True:
            batch_sent, claimed = await self.send_batch()
            sent += batch_sent
            stopping = self._stopping is not None and self._stopping.is_set()
            if claimed < self._batch_size or loop.time() >= deadline or stopping:
                return sent

    async def send_batch(self) -> tuple[int, int]:
        """Claims, sends and records one batch; returns (sent, claimed)."""
        services = self._services
        outbox = services.outbox
        book = services.reminders.book
        now = services.clock()
        start_by = now + max(self._lease - LONGEST_SEND, self._lease / 2)
        async with self._database.transaction() as session:
            claimed = await outbox.claim_due(session, now, self._batch_size, self._lease, kinds=(ReminderPush,))
            if not claimed:
                return 0, 0
            paused = await book.paused(session)
            chats = {item.message.chat for item in claimed}
            subscriptions = await services.reminders.subscriptions.load_many(session, chats)
            occasions = {name: await book.occasion(session, name) for name in {i.message.occasion for i in claimed}}
            doubtful: dict[tuple[str, str], int] = {}
            for item in claimed:
                if item.in_doubt:
                    key = (item.message.occasion, "in_doubt")
                    doubtful[key] = doubtful.get(key, 0) + 1
            await book.add_counts(session, doubtful)
        gate = asyncio.Semaphore(self._concurrency)
        outcomes = await asyncio.gather(
            *(
                self._send(
                    item, paused, gate, start_by,
                    self._not_wanted(occasions[item.message.occasion], subscriptions.get(item.message.chat), now),
                )
                for item in claimed
            )
        )
        await self._record(list(zip(claimed, outcomes, strict=True)))
        return sum(outcome.sent for outcome in outcomes), len(claimed)

    def _not_wanted(
        self, occasion: Occasion | None, subscription: Subscription | None, now: datetime
    ) -> Outcome | None:
        """Why a queued reminder must not be sent now (``schedules.withheld``, as when it was
        queued), or None when it may."""
        stop = withheld(occasion, subscription, self._schedules.sites, now)
        if stop is None:
            return None
        if stop.later is None:
            return Outcome(reason=stop.reason)
        return Outcome(later=stop.later, attempted=False, reason=stop.reason)

    async def _send(
        self,
        item: ClaimedItem[ReminderPush],
        paused: set[str],
        gate: asyncio.Semaphore,
        start_by: datetime,
        not_wanted: Outcome | None,
    ) -> Outcome:
        message = item.message
        if message.occasion in paused or message.occasion.split(":", 1)[0] in paused:
            return Outcome(later=self._services.clock() + PAUSED_RECHECK, attempted=False)
        if not_wanted is not None:
            return not_wanted
        platform, _, chat_id = message.chat.partition(":")
        sink = self._sinks.get(platform)
        if sink is None or not chat_id:
            log.error("no sender for %r reminders is running; they wait", platform)
            return Outcome(later=self._services.clock() + NO_SINK_RECHECK, reason="no_sink")
        limiter = self._limiters.get(platform)
        async with gate:
            while limiter is not None and (wait := limiter.delay(chat_id)) > 0:
                if wait > MAX_PACE:
                    return Outcome(later=self._services.clock() + timedelta(seconds=wait), attempted=False)
                await asyncio.sleep(wait)
            if self._services.clock() >= start_by:  # the lease could run out while it is sent
                return Outcome(later=self._services.clock(), attempted=False)
            if limiter is not None:
                limiter.take(chat_id)
            try:
                if message.template:
                    if not isinstance(sink, TemplateSink):
                        return Outcome(reason="no_template_sink")
                    await sink.send_template(chat_id, message.template, message.title, message.text)
                elif message.choice and isinstance(sink, ChoiceSink):
                    await sink.send_choice(chat_id, message.text, message.choice, message.label)
                else:
                    await sink.send(chat_id, message.text)
            except RetryLater as later:
                if limiter is not None:
                    limiter.pause(chat_id, later.seconds, everywhere=later.everywhere)
                return Outcome(later=self._services.clock() + timedelta(seconds=later.seconds), reason="retry_after")
            except PermanentFailure as failure:
                return Outcome(reason=failure.reason)
            except ChatMoved:
                return Outcome(reason="chat_moved")
            except Exception as error:
                log.warning("reminder to %s failed (%s); will retry", short_hash(message.chat), type(error).__name__)
                return Outcome(later=self._services.clock() + backoff_delay(item.attempts, self._rng), reason="retried")
        return Outcome(sent=True)

    async def _record(self, results: list[tuple[ClaimedItem[ReminderPush], Outcome]]) -> None:
        """Every outcome of the batch in one transaction, with its count on its occasion."""
        services = self._services
        outbox, book = services.outbox, services.reminders.book
        counts: dict[tuple[str, str], int] = {}
        async with self._database.transaction() as session:
            await outbox.complete_many(session, [item.id for item, outcome in results if outcome.sent])
            for item, outcome in results:
                message = item.message
                if outcome.sent:
                    reason = "sent_template" if message.template else "sent"
                elif outcome.later is not None:
                    await outbox.reschedule(session, item.id, outcome.later, attempted=outcome.attempted)
                    reason = outcome.reason
                else:
                    log.warning("reminder to %s dropped: %s", short_hash(message.chat), outcome.reason)
                    await outbox.drop(session, item.id, outcome.reason)
                    reason = outcome.reason
                    if reason in FORGET_ON:
                        await services.reminders.subscriptions.delete(session, message.chat)
                if reason:
                    counts[(message.occasion, reason)] = counts.get((message.occasion, reason), 0) + 1
            await book.add_counts(session, counts)
