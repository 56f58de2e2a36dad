"""The weekly digest: once a week per site, a short text and a chart to the site's HR chats, and the
advocacy board's own digest (the cases HR never sees) to its board chats.

A site has a digest when its config has a ``[sites.<id>.digest]`` section: a weekday and a time in
the site's time zone (``[sites.<id>.reminders] time_zone``). Each digest covers the last full ISO
week (Monday to Sunday) before that moment. If the process was down at the moment, the digest goes
out when it is back, still for that week; a later week's moment replaces it.

Once per week per site, across restarts and replicas: figures are read in one read transaction,
the chart is drawn in a thread with no transaction open, and then one write transaction claims the
week (a ``digest_weeks`` row, see :mod:`storage.digest`) and puts the messages in the outbox. A
replica that loses the claim queues nothing; a crash before the commit leaves nothing, and the next
pass starts again. Each chat gets a :class:`~storage.messages.Delivery` (the text) and then an
:class:`~storage.messages.ImageDelivery` (the chart); the outbox sender sends both in order, each
within its platform's limits. An image is a few tens of kilobytes, sealed in the outbox like any
payload.

Everything shown is protected against small groups and carries nothing that identifies a reporter
(see :mod:`handlers.digest`).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.jobs.alert_routing import SiteRoute, Unroutable, destinations, routes_from_config
from bot.jobs.digest_chart import digest_chart_png
from handlers.context import Services
from handlers.digest import Audience, DigestFigures, Week, digest_figures
from handlers.digest_texts import digest_text
from handlers.i18n import Language
from handlers.reminder_rules import parse_clock, zone
from storage.database import Database
from storage.digest import DigestWeeks
from storage.messages import Delivery, ImageDelivery

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
AUDIENCES: tuple[Audience, ...] = ("hr", "board")
IMAGE_AFTER_TEXT = timedelta(seconds=1)  # the outbox sends a chat's rows by due time: text first
RETRY_AFTER_FAILURE = timedelta(minutes=15)


@dataclass(frozen=True)
class DigestPlan:
    """One site's digest settings, read once from the config."""

    site: str
    route: SiteRoute
    tz: ZoneInfo
    weekday: int
    send_at: time
    chart_language: Language = "zh"

    def due_week(self, now: datetime) -> Week:
        """The week whose digest is due at ``now``: the last full week before the latest moment."""
        this_week = Week.containing(now, self.tz)
        moment = datetime.combine(this_week.start.date() + timedelta(days=self.weekday), self.send_at, self.tz)
        if moment > now:
            this_week = this_week.previous(self.tz)
        return this_week.previous(self.tz)


@dataclass(frozen=True)
class DigestSchedules:
    """Every site that has a digest."""

    sites: Mapping[str, DigestPlan] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> DigestSchedules:
        routes = routes_from_config(config)
        plans = {}
        for site_id, site in config.sites.items():
            if site.digest is None:
                continue
            plans[site_id] = DigestPlan(
                site=site_id,
                route=routes[site_id],
                tz=zone(site.reminders.time_zone),
                weekday=WEEKDAYS.index(site.digest.weekday),
                send_at=parse_clock(site.digest.send_at),
                chart_language=site.digest.chart_language,
            )
        return cls(plans)


@dataclass(frozen=True)
class _Prepared:
    chats: tuple[str, ...]
    figures: DigestFigures


class DigestJob:
    """``run_once``: for each site whose digest is due and not yet queued, queue it."""

    def __init__(self, database: Database, services: Services, schedules: DigestSchedules) -> None:
        self._database = database
        self._services = services
        self._schedules = schedules
        self._weeks = DigestWeeks()
        self._queued: set[tuple[str, str]] = set()  # (site, week) known to be queued: no query needed
        self._failed_until: dict[str, datetime] = {}

    async def run_once(self) -> int:
        """One pass; returns how many messages were queued. A site whose digest fails is logged
        (the error's type only) and tried again after a quarter of an hour; other sites go on."""
        queued = 0
        for plan in self._schedules.sites.values():
            now = self._services.clock()
            week = plan.due_week(now)
            if (plan.site, week.label) in self._queued or now < self._failed_until.get(plan.site, now):
                continue
            try:
                async with self._database.transaction(write=False) as session:
                    done = await self._weeks.done(session, plan.site, week.label)
                if not done:
                    queued += await self.queue(plan, week)
            except Exception as error:
                log.error("weekly digest of site %r failed (%s); retrying later", plan.site, type(error).__name__)
                self._failed_until[plan.site] = now + RETRY_AFTER_FAILURE
                continue
            self._queued.add((plan.site, week.label))
        return queued

    async def queue(self, plan: DigestPlan, week: Week) -> int:
        """Works out, draws and queues one site's digests of ``week``; 0 when another process
        queued them first."""
        services = self._services
        prepared: list[_Prepared] = []
        async with self._database.transaction(write=False) as session:
            for audience in AUDIENCES:
                try:
                    chats = destinations(plan.route, audience)
                except Unroutable:
                    continue
                figures = await digest_figures(session, services, plan.site, week, audience)
                prepared.append(_Prepared(chats, figures))
        messages: list[tuple[str, str, str]] = []  # (chat, text, base64 PNG)
        for item in prepared:
            text = digest_text(services.translators, plan.route.name, item.figures)
            png = await asyncio.to_thread(
                digest_chart_png, item.figures, services.translators, plan.route.name, plan.chart_language
            )
            image = base64.b64encode(png).decode("ascii")
            messages.extend((chat, text, image) for chat in item.chats)
        now = services.clock()
        async with self._database.transaction() as session:
            if not await self._weeks.claim(session, plan.site, week.label):
                return 0
            for chat, text, image in messages:
                caption = text.partition("\n")[0]
                await services.outbox.enqueue(session, Delivery(chat, text), now)
                await services.outbox.enqueue(session, ImageDelivery(chat, image, caption), now + IMAGE_AFTER_TEXT)
        if not messages:
            log.warning("weekly digest of site %r has no chat to go to; add hr_chats or board_chats", plan.site)
        else:
            log.info("weekly digest of site %r for %s queued for %d chats", plan.site, week.label, len(messages))
        return 2 * len(messages)
