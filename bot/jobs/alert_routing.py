"""Fan-out: a case alert (or an admin notice) becomes one ``deliver`` row per destination chat.

The fan-out is one transaction: the deliver rows are inserted and the alert row deleted together,
so a crash leaves either the alert or all of its deliveries, never a half. Each deliver row then
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
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config, LocalText
from handlers.alerts import alert_text
from handlers.events import Alert, AlertAudience
from handlers.i18n import Language, Translator
from storage.crypto import DecryptionError
from storage.delivery import increment_count
from storage.models import OutboxItem
from storage.outbox import Outbox, as_utc

log = logging.getLogger(__name__)

CASE_ALERT = "case_alert"
ADMIN_NOTICE = "admin_notice"
DELIVER = "deliver"
ROUTED_KINDS = (CASE_ALERT, ADMIN_NOTICE)
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
    addresses such as ``telegram:-1001234567890`` or ``wecom:<robot name>``."""

    name: Mapping[str, str]
    hr_chats: tuple[str, ...] = ()
    board_chats: tuple[str, ...] = field(default=())


def _local(text: LocalText) -> dict[str, str]:
    return {"zh": text, "en": text} if isinstance(text, str) else {str(k): v for k, v in text.items()}


def routes_from_config(config: Config) -> dict[str, SiteRoute]:
    """The routing table of every configured site."""
    return {
        site_id: SiteRoute(_local(site.name), tuple(site.hr_chats), tuple(site.board_chats))
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


def _alert(payload: Mapping[str, Any]) -> Alert:
    return Alert(
        site=str(payload["site"]),
        reference=str(payload["reference"]),
        category=str(payload.get("category")),
        urgency=str(payload.get("urgency")),
        audience=cast(AlertAudience, str(payload["audience"])),
    )


class AlertRouter:
    """Turns due ``case_alert`` and ``admin_notice`` rows into ``deliver`` rows ``{chat, text}``."""

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
        """Fans out up to ``limit`` due rows inside the caller's transaction; returns how many
        deliver rows it created."""
        created = 0
        for row in await self._outbox.lock_due(session, now, ROUTED_KINDS, limit):
            try:
                payload = self._outbox.open_payload(row)
                deliveries = self._deliveries(row.kind, payload)
            except Unroutable as unroutable:
                await self._hold(session, row, unroutable.reason, payload, now)
                continue
            except (DecryptionError, KeyError, TypeError, ValueError):
                log.error("outbox %s row has a malformed payload; dropped", row.kind)
                await self._outbox.drop(session, row.id, "bad_payload")
                continue
            for chat, text in deliveries:
                await self._outbox.enqueue(session, DELIVER, {"chat": chat, "text": text}, as_utc(row.due_at))
            await self._outbox.complete(session, row.id)
            created += len(deliveries)
        return created

    def _deliveries(self, kind: str, payload: Mapping[str, Any]) -> list[tuple[str, str]]:
        if kind == ADMIN_NOTICE:
            chat, text = payload["chat"], payload["text"]
            if not isinstance(chat, str) or not isinstance(text, str):
                raise TypeError("admin notice needs a chat and a text")
            return [(chat, text)]
        alert = _alert(payload)
        route = self._routes.get(alert.site)
        if route is None:
            raise Unroutable("unknown_site")
        text = alert_text(self._translators, route.name, alert)
        return [(chat, text) for chat in destinations(route, alert.audience)]

    async def _hold(
        self, session: AsyncSession, row: OutboxItem, reason: str, payload: Mapping[str, Any], now: datetime
    ) -> None:
        """Keep an alert nobody may receive yet; count it once, log the site on every re-check."""
        site = str(payload.get("site", "?"))
        log.error("an alert for site %r is held (%s): %s", site, reason, HOLD_HINTS.get(reason, "check the config"))
        if row.attempts == 0:
            await increment_count(session, reason)
        row.attempts += 1
        row.due_at = as_utc(now) + self._recheck_after
