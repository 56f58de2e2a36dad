"""Fan-out: a case alert (or an admin notice) becomes one :class:`Delivery` per destination chat.

The fan-out is one transaction: the delivery rows are inserted and the alert row deleted together,
so a crash leaves either the alert or all of its deliveries, never a half. Each delivery then
succeeds, retries or fails on its own, so a blocked chat cannot hold back another.

Who is told is a safety property. An alert about a supervisor, a manager or someone in HR goes
to the site's advocacy-board chats and never to an HR chat: when a site has no board chat the
alert waits, counted as ``no_board_chat`` and logged with the site (never the case) on every
hourly re-check, until an operator configures one. It never falls back to HR. A chat listed as
both HR and board is treated as HR, and left out of board alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config, LocalText
from handlers.alerts import alert_text, case_link
from handlers.deadline_texts import deadline_text
from handlers.i18n import Language, Translator
from storage.delivery import increment_count
from storage.messages import AdminNotice, CaseAlert, DeadlineAlert, Delivery, Message
from storage.outbox import ClaimedItem, Outbox

log = logging.getLogger(__name__)

ROUTED_KINDS: tuple[type[Message], ...] = (CaseAlert, AdminNotice, DeadlineAlert)
RECHECK_AFTER = timedelta(hours=1)
HOLD_HINTS = {
    "no_hr_chat": "add hr_chats to the site's [sites.<id>] section",
    "no_board_chat": "add board_chats to the site's [sites.<id>] section; board alerts never go to HR",
    "unknown_site": "the site is no longer in the config; add its [sites.<id>] section back",
    "bad_payload": "the alert names no known audience",
}


@dataclass(frozen=True)
class SiteRoute:
    """Where a site's alerts go: its name in each language, and its HR and board chats as
    addresses such as ``telegram:-1001234567890`` or ``wecom:<robot name>``. ``desk_url`` is the
    HR desk's public address (``[web] public_url``), None for alerts without a link."""

    name: Mapping[str, str]
    hr_chats: tuple[str, ...] = ()
    board_chats: tuple[str, ...] = field(default=())
    desk_url: str | None = None  # [web] public_url: alerts and deadline notes link to the case's desk page


def _local(text: LocalText) -> dict[str, str]:
    return {"zh": text, "en": text} if isinstance(text, str) else {str(k): v for k, v in text.items()}


def routes_from_config(config: Config) -> dict[str, SiteRoute]:
    """The routing table of every configured site."""
    return {
        site_id: SiteRoute(_local(site.name), tuple(site.hr_chats), tuple(site.board_chats), config.web.public_url)
        for site_id, site in config.sites.items()
    }


class Unroutable(Exception):
    """An alert with no chat to go to; ``reason`` is the counter it bumps."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def destinations(route: SiteRoute, audience: str) -> tuple[str, ...]:
    """The chats an alert for ``audience`` goes to; raises :class:`Unroutable` when there are none.
    Board alerts never include a chat that is also an HR chat."""
    if audience == "hr":
        chats = tuple(dict.fromkeys(route.hr_chats))
        if not chats:
            raise Unroutable("no_hr_chat")
        return chats
    if audience == "board":
        hr = set(route.hr_chats)
        chats = tuple(chat for chat in dict.fromkeys(route.board_chats) if chat not in hr)
        if not chats:
            raise Unroutable("no_board_chat")
        return chats
    raise Unroutable("bad_payload")


class AlertRouter:
    """Turns due :class:`CaseAlert` and :class:`AdminNotice` messages into :class:`Delivery` messages."""

    def __init__(
        self,
        outbox: Outbox,
        routes: Mapping[str, SiteRoute],
        translators: Mapping[Language, Translator],
        *,
        recheck_after: timedelta = RECHECK_AFTER,
    ) -> None:
        self._outbox = outbox
        self._routes = dict(routes)
        self._translators = translators
        self._recheck_after = recheck_after

    async def route_due(self, session: AsyncSession, now: datetime, limit: int) -> int:
        """Fans out up to ``limit`` due messages inside the caller's transaction; returns how many
        deliveries it created."""
        created = 0
        for item in await self._outbox.lock_due(session, now, ROUTED_KINDS, limit):
            try:
                deliveries = self._deliveries(item.message)
            except Unroutable as unroutable:
                await self._hold(session, item, unroutable.reason, now)
                continue
            except (KeyError, TypeError, ValueError) as error:  # one bad message must not block the rest
                log.error("an outbox %s could not be routed (%s)", item.kind, type(error).__name__)
                await self._outbox.set_aside(session, item.id, "bad_payload")
                continue
            for delivery in deliveries:
                await self._outbox.enqueue(session, delivery, item.due_at)
            await self._outbox.complete(session, item.id)
            created += len(deliveries)
        return created

    def _deliveries(self, message: Message) -> list[Delivery]:
        if isinstance(message, AdminNotice):
            return [Delivery(message.chat, message.text)]
        if not isinstance(message, CaseAlert | DeadlineAlert):
            raise Unroutable("bad_payload")
        route = self._routes.get(message.site)
        if route is None:
            raise Unroutable("unknown_site")
        if isinstance(message, DeadlineAlert):
            text = deadline_text(self._translators, route.name, message, route.desk_url)
        else:
            link = case_link(route.desk_url, message.reference) if route.desk_url else ""
            text = alert_text(self._translators, route.name, message, link=link)
        return [Delivery(chat, text) for chat in destinations(route, message.audience)]

    async def _hold(self, session: AsyncSession, item: ClaimedItem[Message], reason: str, now: datetime) -> None:
        """Keep an alert nobody may receive yet; count it once, log the site on every re-check."""
        site = item.message.site if isinstance(item.message, CaseAlert | DeadlineAlert) else "?"
        log.error("an alert for site %r is held (%s): %s", site, reason, HOLD_HINTS.get(reason, "check the config"))
        if item.attempts == 0:
            await increment_count(session, reason)
        await self._outbox.postpone(session, item.id, now + self._recheck_after)
