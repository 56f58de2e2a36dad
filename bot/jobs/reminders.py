"""The reminder job: keeps the schedules' occasions in the table, plans each occasion once when it
is due, and settles due rows — into outbox pushes, reminders held for the next message, or drops.

Planning is at most once per worker and occasion: the due rows (keyed by a hash of occasion and
address) are inserted in the transaction that marks the occasion planned. Settling is at most once
too: a due row becomes an outbox :class:`~storage.messages.ReminderPush` (or a held reminder) in
the same transaction that marks it settled. Only the send itself can repeat (see ``broadcast.py``).

Per worker, at settling time: a paused occasion waits (its rows are not claimed); one whose time
has passed, or that is later than the grace after its due time (the process was down), is dropped
and counted; a worker who opted out is dropped (``unsubscribed``); quiet hours move the row to
their end (or drop it as ``quiet`` when that is after the occasion). Then the channel's push window
decides: push now (Telegram; WeChat within 48 hours), a WeChat template message when the site has
one configured, or hold it for the worker's next message (at most one held, shown until the
occasion passes).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.push import PushMode, PushWindow
from bot.jobs.schedules import (
    ReminderSchedules,
    SitePlan,
    allowed_time,
    eligible,
    occasions_between,
    quiet_of,
    withheld,
    wording,
)
from handlers import reminder_texts as texts
from handlers.context import Services
from handlers.i18n import Language
from storage.crypto import Purpose
from storage.database import Database
from storage.messages import ReminderPush
from storage.reminders import DROPPED, HELD, MISSED, PLANNED, QUEUED, DueItem, Occasion
from storage.subscriptions import Held, Subscription

log = logging.getLogger(__name__)

PUSH = "push"
TEMPLATE = "template"
PREVIEW_CHUNK = 1000
LOOK_AHEAD = timedelta(days=2)
ENSURE_EVERY = timedelta(minutes=10)
ROUTE_BATCHES_PER_RUN = 20


@dataclass(frozen=True)
class Settled:
    """How one due row ends: its new state (``None`` to keep it due, postponed to ``later``), the
    counter it bumps, and what it becomes."""

    state: str | None
    reason: str
    push: ReminderPush | None = None
    held: Held | None = None
    later: datetime | None = None


class ReminderJob:
    """``run_once``: add upcoming occasions, plan those due, settle due rows in batches."""

    def __init__(
        self,
        database: Database,
        services: Services,
        schedules: ReminderSchedules,
        push_windows: Mapping[str, PushWindow],
    ) -> None:
        self._database = database
        self._services = services
        self._schedules = schedules
        self._windows = dict(push_windows)
        self._book = services.reminders.book
        self._ensured_until: datetime | None = None
        self._ensured_at: datetime | None = None

    @property
    def schedules(self) -> ReminderSchedules:
        return self._schedules

    async def run_once(self) -> int:
        """One pass; returns how many due rows were settled."""
        now = self._services.clock()
        await self.ensure_occasions(now)
        await self.plan_due(now)
        settled = 0
        for _ in range(ROUTE_BATCHES_PER_RUN):
            done = await self.settle_due(self._services.clock())
            settled += done
            if done < self._schedules.batch_size:
                break
        return settled

    async def ensure_occasions(self, now: datetime) -> int:
        """Adds the configured schedules' occasions due from ``now - grace`` to two days ahead (every
        ten minutes is enough); an occasion already there is left as it is."""
        if self._ensured_at is not None and self._ensured_until is not None:
            if self._ensured_at <= now < self._ensured_at + ENSURE_EVERY:
                return 0
        start, end = now - self._schedules.grace, now + LOOK_AHEAD
        added = 0
        async with self._database.transaction() as session:
            for plan in self._schedules.sites.values():
                for occasion in occasions_between(plan, start, end):
                    added += await self._book.add_occasion(session, occasion)
        self._ensured_at, self._ensured_until = now, end
        return added

    async def plan_due(self, now: datetime) -> int:
        """Plans every occasion whose time has come: one due row per eligible subscriber, at the
        end of their quiet hours if it falls in them; an occasion found later than the grace (or
        after it ended) is marked missed. Returns how many rows were planned."""
        planned = 0
        while True:
            async with self._database.transaction() as session:
                occasions = await self._book.lock_plannable(session, now, limit=1)
                if not occasions:
                    return planned
                occasion = occasions[0]
                if now > min(occasion.due_at + self._schedules.grace, occasion.ends_at):
                    log.warning("reminder occasion %s missed: the bot was down past the grace", occasion.schedule)
                    await self._book.mark(session, occasion.id, MISSED)
                    await self._book.count(session, occasion.id, MISSED)
                    continue
                rows = await self._plan(session, occasion, now)
                await self._book.mark(session, occasion.id, PLANNED)
                await self._book.count(session, occasion.id, PLANNED, rows)
                planned += rows

    async def _plan(self, session: AsyncSession, occasion: Occasion, now: datetime) -> int:
        plan = self._schedules.sites.get(occasion.site)
        if plan is None:
            return 0
        start = max(occasion.due_at, now)
        entries: list[tuple[str, datetime]] = []
        async for subscription in self._services.reminders.subscriptions.stream(session):
            if eligible(occasion, subscription, plan):
                entries.append((subscription.contact, allowed_time(start, quiet_of(subscription, plan), plan.tz)))
        return await self._book.plan(session, occasion.id, entries)

    async def settle_due(self, now: datetime) -> int:
        """Claims a batch of due rows and settles each in the same transaction; returns how many."""
        services = self._services
        async with self._database.transaction() as session:
            items = await self._book.claim_due(session, now, self._schedules.batch_size)
            if not items:
                return 0
            contacts = [item.contact for item in items]
            subscriptions = await services.reminders.subscriptions.load_many(session, contacts)
            conversations = await self._conversations(session, contacts)
            occasions: dict[str, Occasion | None] = {}
            states: dict[str, str] = {}
            counts: dict[tuple[str, str], int] = {}
            for item in items:
                if item.occasion not in occasions:
                    occasions[item.occasion] = await self._book.occasion(session, item.occasion)
                try:
                    outcome = self._settle(
                        item, occasions[item.occasion], subscriptions.get(item.contact),
                        conversations.get(item.contact, {}), now,
                    )
                except Exception as error:  # one bad row must not hold up the rest
                    log.error("a reminder could not be settled: %s", type(error).__name__)
                    outcome = Settled(DROPPED, "error")
                counts[(item.occasion, outcome.reason)] = counts.get((item.occasion, outcome.reason), 0) + 1
                if outcome.state is None and outcome.later is not None:
                    await self._book.postpone(session, item.id, outcome.later)
                    continue
                if outcome.push is not None:
                    await services.outbox.enqueue(session, outcome.push, now)
                if outcome.held is not None:
                    replaced = await services.reminders.held.hold(session, item.contact, outcome.held)
                    if replaced:
                        counts[(replaced, "replaced")] = counts.get((replaced, "replaced"), 0) + 1
                states[item.id] = outcome.state or DROPPED
            await self._book.settle(session, states)
            await self._book.add_counts(session, counts)
        return len(items)

    async def _conversations(self, session: AsyncSession, contacts: list[str]) -> dict[str, dict[str, object]]:
        """The conversations of these addresses (for the language and when the worker last wrote)."""
        crypto = self._services.crypto
        keys = {crypto.pseudonym(Purpose.CONVERSATION, contact): contact for contact in contacts}
        try:
            documents = await self._services.conversations.load_many(session, list(keys))
        except Exception as error:
            log.warning("conversations unreadable for reminders (%s); pushing by subscription", type(error).__name__)
            return {}
        return {keys[key]: document for key, document in documents.items()}

    def _settle(
        self,
        item: DueItem,
        occasion: Occasion | None,
        subscription: Subscription | None,
        conversation: Mapping[str, object],
        now: datetime,
    ) -> Settled:
        live = occasion is not None and now < occasion.ends_at
        if live and now > item.due_at + self._schedules.grace:
            return Settled(DROPPED, MISSED)
        stop = withheld(occasion, subscription, self._schedules.sites, now)
        if stop is not None:
            return Settled(DROPPED if stop.later is None else None, stop.reason, later=stop.later)
        assert occasion is not None and subscription is not None  # withheld said nothing stops it
        plan = self._schedules.sites[subscription.site]
        language: Language = "en" if (conversation.get("language") or subscription.language) == "en" else "zh"
        t = self._services.translators[language]
        said = wording(t, occasion, plan, language)
        route = self.route(item.contact, conversation.get("last_seen"), plan, now)
        if route == PUSH:
            push = ReminderPush(occasion.id, item.contact, said.text, choice=said.choice, label=said.label)
            return Settled(QUEUED, QUEUED, push=push)
        if route == TEMPLATE and plan.template_id:
            title = t(texts.TEMPLATE_TITLE)
            push = ReminderPush(occasion.id, item.contact, said.text, template=plan.template_id, title=title)
            return Settled(QUEUED, TEMPLATE, push=push)
        return Settled(HELD, HELD, held=Held(occasion.id, said.text, occasion.ends_at.timestamp()))

    def route(self, contact: str, last_seen: object, plan: SitePlan, at: datetime) -> str:
        """How a reminder reaches this address at ``at``: pushed now (the channel's window allows it),
        a WeChat template message (when the site has one), or held for the next message."""
        channel, _, chat = contact.partition(":")
        window = self._windows.get(channel)
        seen = datetime.fromtimestamp(float(last_seen), UTC) if isinstance(last_seen, int | float) else None
        if chat and window is not None and window.mode(seen, at.astimezone(UTC)) is PushMode.NOW:
            return PUSH
        if channel == "wechat" and chat and plan.template_id:
            return TEMPLATE
        return HELD

    async def preview(self, occasion: Occasion, at: datetime) -> dict[tuple[str, str], int]:
        """Who would get the occasion if it were planned and settled at ``at``, counted by (channel,
        route): ``push``, ``template``, ``held``, or ``quiet`` (quiet hours last past the occasion)."""
        plan = self._schedules.sites.get(occasion.site)
        found: dict[tuple[str, str], int] = {}
        if plan is None:
            return found
        services = self._services
        async with self._database.transaction(write=False) as session:
            chunk: list[Subscription] = []
            async for subscription in services.reminders.subscriptions.stream(session):
                if eligible(occasion, subscription, plan):
                    chunk.append(subscription)
                if len(chunk) >= PREVIEW_CHUNK:
                    await self._preview_chunk(session, chunk, occasion, plan, at, found)
                    chunk = []
            await self._preview_chunk(session, chunk, occasion, plan, at, found)
        return found

    async def _preview_chunk(
        self,
        session: AsyncSession,
        subscriptions: list[Subscription],
        occasion: Occasion,
        plan: SitePlan,
        at: datetime,
        found: dict[tuple[str, str], int],
    ) -> None:
        conversations = await self._conversations(session, [s.contact for s in subscriptions])
        for subscription in subscriptions:
            allowed = allowed_time(at, quiet_of(subscription, plan), plan.tz)
            last_seen = conversations.get(subscription.contact, {}).get("last_seen")
            quiet = allowed >= occasion.ends_at
            route = "quiet" if quiet else self.route(subscription.contact, last_seen, plan, allowed)
            key = (subscription.channel, route)
            found[key] = found.get(key, 0) + 1

