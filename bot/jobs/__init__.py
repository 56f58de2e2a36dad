"""Delivery of everything the bot pushes: outbox fan-out, rate limits, platform sinks.

Wiring (``hapbot run``), as one background task::

    from bot.jobs.scheduler import ExpiredRowCleaner, run_due_work

    sender = build_sender(runtime, telegram_bot=bot)   # bot: an initialised telegram.Bot, or None
    cleaner = ExpiredRowCleaner(runtime.database, runtime.services.clock)
    background.append(run_due_work(sender, cleaner, stop))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.channels.sinks import ChatMoved, DeliveryError, PermanentFailure, RetryLater, Sink, TransientFailure
from bot.jobs.alert_routing import ADMIN_NOTICE, CASE_ALERT, DELIVER, AlertRouter, SiteRoute, routes_from_config
from bot.jobs.ratelimit import Limit, RateLimiter
from bot.jobs.sender import OutboxSender, backoff_delay

if TYPE_CHECKING:
    import telegram

    from bot.core import Core


def build_sender(
    runtime: Core,
    *,
    telegram_bot: telegram.Bot | None = None,
    other_sinks: Mapping[str, Sink] | None = None,
    concurrency: int = 4,
) -> OutboxSender:
    """The sender for this process: routes from the config, the runtime's outbox, translators
    and clock, and a Telegram sink when a bot is given (other platforms' rows wait until their
    sink exists)."""
    from bot.channels.telegram.sink import TelegramSink

    services = runtime.services
    sinks: dict[str, Sink] = {}
    if telegram_bot is not None:
        sinks["telegram"] = TelegramSink(telegram_bot)
    sinks.update(other_sinks or {})
    router = AlertRouter(services.outbox, routes_from_config(runtime.config), services.translators)
    return OutboxSender(
        runtime.database, services.outbox, sinks, services.clock, router=router, concurrency=concurrency
    )


__all__ = [
    "ADMIN_NOTICE",
    "CASE_ALERT",
    "DELIVER",
    "AlertRouter",
    "ChatMoved",
    "DeliveryError",
    "Limit",
    "OutboxSender",
    "PermanentFailure",
    "RateLimiter",
    "RetryLater",
    "Sink",
    "SiteRoute",
    "TransientFailure",
    "backoff_delay",
    "build_sender",
    "routes_from_config",
]
