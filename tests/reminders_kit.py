"""What reminder tests share: a site with schedules, a worker writing from a chat address, a sink
that records pushes, and one tick of the two reminder jobs."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.channels.sinks import PermanentFailure
from bot.config import Config
from bot.core import Core
from bot.jobs import JobDeps, reminder_job, reminder_sender
from bot.jobs.broadcast import ReminderSender
from bot.jobs.ratelimit import RateLimiter
from bot.jobs.reminders import ReminderJob
from bot.jobs.schedules import ReminderSchedules
from bot.serve import push_windows
from handlers.events import Channel, Incoming
from storage.crypto import Purpose
from storage.reminders import Content, Occasion

from .conftest import Clock, make_config

FACTS = {"training_place": {"zh": "食堂二楼", "en": "canteen 2F"}, "advocacy_board": {"zh": "李姐", "en": "Ms Li"}}


def reminder_config(database_url: str, data_dir: Path, **reminders: Any) -> Config:
    """One site, ``main`` (Asia/Shanghai), with the reminder settings given."""
    site: dict[str, object] = {"name": {"zh": "一号厂", "en": "Factory One"}, "facts": FACTS, "reminders": reminders}
    return make_config(database_url, data_dir, main=site)


@dataclass
class RecordingSink:
    """A platform that takes every message, except for chats listed as blocked."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    templates: list[tuple[str, str, str, str]] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)

    async def send(self, chat_id: str, text: str) -> None:
        if chat_id in self.blocked:
            raise PermanentFailure("blocked")
        self.sent.append((chat_id, text))

    async def send_template(self, chat_id: str, template_id: str, title: str, text: str) -> None:
        self.templates.append((chat_id, template_id, title, text))

    def texts(self, chat_id: str) -> list[str]:
        return [text for chat, text in self.sent if chat == chat_id]


class ChatWorker:
    """A worker writing from a Telegram or WeChat chat, straight into the dispatcher."""

    def __init__(self, runtime: Core, chat: str, channel: Channel = Channel.TELEGRAM, language: str = "en") -> None:
        self.runtime = runtime
        self.chat = chat
        self.channel = channel
        self.language = language
        self.user_key = runtime.crypto.pseudonym(Purpose.CONVERSATION, f"{channel.value}:{chat}")
        self.text = ""

    @property
    def contact(self) -> str:
        return f"{self.channel.value}:{self.chat}"

    async def send(self, text: str | None = None, choice: str | None = None, site: str | None = None) -> str:
        incoming = Incoming(
            channel=self.channel,
            user_key=self.user_key,
            chat=self.chat,
            received_at=self.runtime.services.clock(),
            text=text,
            choice=choice,
            language_hint=self.language,
            site=site,
        )
        outcome = await self.runtime.dispatcher.handle(incoming)
        self.text = "\n".join(reply.text for reply in outcome.replies)
        return self.text

    async def subscribe(self) -> None:
        await self.send("/start")
        await self.send(choice="remind_on")
        assert "reminders are on" in self.text


@dataclass
class Jobs:
    """The reminder job and sender of one process, with its sinks."""

    job: ReminderJob
    sender: ReminderSender
    sinks: Mapping[str, Any]

    async def tick(self) -> int:
        """One pass of each, as APScheduler's next tick would run them; returns how many were sent."""
        await self.job.run_once()
        return await self.sender.run_once()


def limiter_clock(clock: Clock) -> Callable[[], float]:
    """Monotonic seconds that also move when the test moves its clock, as they would have in the
    hours or days the test skips: a reminder an hour after the last one to the same chat is not
    held back a second by the one-message-a-second limit."""
    start = clock.now
    return lambda: time.monotonic() + (clock.now - start).total_seconds()


def jobs_for(runtime: Core, sinks: Mapping[str, Any] | None = None, *, batch_size: int | None = None) -> Jobs:
    sinks = dict(sinks or {"telegram": RecordingSink(), "wechat": RecordingSink()})
    schedules = ReminderSchedules.from_config(runtime.config)
    if batch_size is not None:
        schedules = dataclasses.replace(schedules, batch_size=batch_size)
    clock = runtime.services.clock
    limiters = {"telegram": RateLimiter.telegram(limiter_clock(clock))} if isinstance(clock, Clock) else None
    deps = JobDeps(runtime.database, runtime.services, sinks, {}, push_windows(), schedules, limiters=limiters)
    return Jobs(reminder_job(deps), reminder_sender(deps), sinks)


async def announce(
    runtime: Core, name: str, due: datetime, ends: datetime, text: str = "Fire drill on Friday", opens: str = ""
) -> str:
    occasion = Occasion(f"{name}:main", name, "main", due, ends, content=Content({"zh": text, "en": text}, opens))
    async with runtime.database.transaction() as session:
        assert await runtime.services.reminders.book.add_occasion(session, occasion)
    return occasion.id


async def counts(runtime: Core, occasion_id: str) -> dict[str, int]:
    async with runtime.database.transaction(write=False) as session:
        return (await runtime.services.reminders.book.counts(session)).get(occasion_id, {})
