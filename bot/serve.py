"""``hapbot run`` with channels enabled: one asyncio process serving them all until SIGTERM/SIGINT.

Start order: config → keys → database (migrated) → quizzes → channels → web app → background work
(journal processor, polling, outbox sender, scheduler) → FAQ and quiz watchers, and then ``/readyz``
answers 200. The FAQ is loaded and indexed in a thread from the first moment, beside all of that
(from ``<data_dir>/cache`` when the content is unchanged, see handlers/faq/indexcache.py); bad
content is replaced by the copy kept at the last clean load (handlers/faq/last_good.py), and stops
the start, with its file and line, only when there is none. ``/readyz`` waits for that thread: a
question that arrives earlier (a webhook is live already) waits for the index too. Stop order is the reverse, and
everything committed survives: pending updates and pushes resume at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from bot.admin.faq_reload import FaqAdmin
from bot.admin.faq_watch import watch_faq
from bot.channels.console import ConsolePushWindow
from bot.channels.push import PushWindow
from bot.channels.sinks import Sink
from bot.channels.telegram.adapter import TelegramAdapter
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.push import TelegramPushWindow
from bot.channels.telegram.sink import TelegramSink
from bot.channels.telegram.webhook import telegram_route
from bot.channels.tls import http_client
from bot.channels.wechat.push import WeChatPushWindow
from bot.config import Config
from bot.core import Core, LoadingFaq, build_core, load_quizzes, start_danger_reading
from bot.heap import freeze_loaded
from bot.jobs import JobDeps, timed_jobs
from bot.jobs.alert_routing import routes_from_config
from bot.jobs.digest import DigestSchedules
from bot.jobs.ratelimit import RateLimiter
from bot.jobs.scheduler import run_due_work
from bot.jobs.schedules import ReminderSchedules
from bot.web.app import build_web_app
from bot.web.server import serving
from handlers.events import Channel

if TYPE_CHECKING:
    from bot.web.desk.context import Desk
    from handlers.faq.service import LibraryFaqService

log = logging.getLogger(__name__)

ARRIVAL_MARGIN = 0.08
"""Seconds added to each Telegram window: sends leave in order but may arrive a little out of it."""


async def serve(config: Config, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)

    faq = LoadingFaq(config, config.bot.faq_dir)
    quizzes = load_quizzes(config, config.bot.faq_dir)
    runtime = await build_core(config, faq=faq, quizzes=quizzes)
    start_danger_reading(runtime, background=True)
    admin: asyncio.Future[FaqAdmin] = loop.create_future()

    async def admin_reload() -> str:
        """/reload from an admin: waits for the FAQ if it is still loading."""
        return await (await asyncio.shield(admin)).reload()

    http = http_client(timeout=10)
    telegram: TelegramChannel | None = None
    wechat = None
    tasks: list[asyncio.Task[None]] = []
    try:
        from bot.web.desk.mount import build_case_desk, make_desk

        clock, translators = runtime.services.clock, runtime.services.translators
        desk = make_desk(config, runtime.database, runtime.crypto, clock, translators)
        await _warn_unmigrated(config, desk)
        # The case pages only ever behind the desk's gate (session, CSRF, security headers).
        routes: list[BaseRoute] = [build_case_desk(runtime, desk)]
        if config.telegram.enabled:
            from bot.channels.telegram.setup import build_telegram_channel, start_telegram

            telegram = build_telegram_channel(runtime, config.telegram, admin_reload=admin_reload)
            await start_telegram(telegram, runtime)
            if config.telegram.mode == "webhook":
                secret = config.telegram.secret_token.get_secret_value() if config.telegram.secret_token else ""
                routes.append(telegram_route(secret, telegram.ingest))
        from bot.channels.wechat.setup import build_wechat, wecom_sinks

        other_sinks: dict[str, Sink] = wecom_sinks(config, http)
        if config.wechat.enabled:
            wechat, wechat_sinks = await build_wechat(runtime, config, http)
            routes.append(wechat.route())
            other_sinks.update(wechat_sinks)
        if telegram is not None:
            other_sinks["telegram"] = TelegramSink(telegram.bot, TelegramAdapter(runtime.crypto, ()).callback_data)

        freeze_loaded()  # before any worker's message exists in memory (bot.heap)
        if wechat is not None:
            await wechat.resume_unfinished()  # messages answered "success" before a crash
        # Made only now that nothing above can fail, so no coroutine is left un-awaited.
        background: list[Coroutine[Any, Any, None]] = []
        if telegram is not None:
            background.append(telegram.run_processor(stop))
            if config.telegram.mode != "webhook":
                background.append(telegram.poll(stop))
        background.append(_timed_work(runtime, other_sinks, stop))
        tasks = [asyncio.create_task(work) for work in background]
        ready = asyncio.Event()
        async with serving(build_web_app(routes, ready), config.web.host, config.web.port) as port:
            if telegram is not None and config.telegram.mode == "webhook" and config.telegram.webhook_url:
                from bot.channels.telegram.setup import set_webhook

                await set_webhook(telegram, config.telegram)
            loaded = await _unless_stopped(faq.loaded(), stop)
            if loaded is None:  # SIGTERM while the FAQ was loading
                return
            faq_admin = FaqAdmin(
                loaded,
                runtime.database,
                runtime.services.outbox,
                config.bot.admin_chats,
                runtime.services.clock,
                quizzes=quizzes,
            )
            admin.set_result(faq_admin)
            tasks.append(asyncio.create_task(watch_faq(loaded.library, faq_admin.report_problems)))
            tasks.append(asyncio.create_task(watch_faq(quizzes, faq_admin.report_quiz_problems)))
            ready.set()
            log.info("serving on %s:%d, ready", config.web.host, port)
            await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if telegram is not None:
            await telegram.application.shutdown()
        if wechat is not None:
            await wechat.close()
        await http.aclose()
        await runtime.close()


async def _unless_stopped(
    work: Coroutine[Any, Any, LibraryFaqService], stop: asyncio.Event
) -> LibraryFaqService | None:
    """What ``work`` returns, or None as soon as ``stop`` is set (a stop during the start)."""
    working = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not working.done():
        working.cancel()
        await asyncio.gather(working, stopping, return_exceptions=True)
        return None
    await asyncio.gather(stopping, return_exceptions=True)
    return working.result()


def push_windows() -> dict[str, PushWindow]:
    """Each channel's push window, by the channel name that starts a worker's contact address."""
    return {
        Channel.TELEGRAM.value: TelegramPushWindow(),
        Channel.WECHAT.value: WeChatPushWindow(),
        Channel.CONSOLE.value: ConsolePushWindow(),
    }


def rate_limiters(config: Config) -> dict[str, RateLimiter]:
    """One limiter per platform for every sender of the process (alerts and reminders share Telegram's rate)."""
    return {
        "telegram": RateLimiter.telegram(
            time.monotonic, per_second=config.telegram.messages_per_second, margin=ARRIVAL_MARGIN
        ),
        "wecom": RateLimiter.wecom(time.monotonic),
    }


def job_deps(
    core: Core, sinks: Mapping[str, Sink], *, shared_limiters: bool = False, stopping: asyncio.Event | None = None
) -> JobDeps:
    """What the timed jobs are handed: the core's store and services, this process's sinks, the
    alert routes, the channels' push windows, the reminder schedules and (for ``hapbot run``) the
    rate limiters the senders share."""
    config = core.config
    return JobDeps(
        core.database,
        core.services,
        sinks,
        routes_from_config(config),
        push_windows(),
        ReminderSchedules.from_config(config),
        rate_limiters(config) if shared_limiters else None,
        stopping,
        DigestSchedules.from_config(config),
    )


async def _warn_unmigrated(config: Config, desk: Desk) -> None:
    """Says at every start while ``[hr]`` still names people who have no desk account: access now
    comes from the accounts alone (``hapbot hr migrate`` makes them)."""
    from bot.cli.hr import unmigrated

    async with desk.database.transaction(write=False) as session:
        missing = await unmigrated(session, desk.accounts, config)
    if missing:
        log.warning(
            "%d name(s) in [hr] handlers / board_members have no desk account and cannot sign in; "
            "run `hapbot hr migrate` to make them and print their enrolment links",
            len(missing),
        )


def _timed_work(core: Core, sinks: Mapping[str, Sink], stop: asyncio.Event) -> Coroutine[Any, Any, None]:
    """Every timed job (``bot.jobs.timed_jobs``), driven by APScheduler over our due-work tables."""
    return run_due_work(timed_jobs(job_deps(core, sinks, shared_limiters=True, stopping=stop)), stop)
