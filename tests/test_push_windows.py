"""Each channel's push window: Telegram pushes any time, WeChat only within 48 hours of the
worker's last message less a 10-minute margin, the console never; the process maps every
channel a contact address can name to its window, and reporter notices follow the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.channels.console import ConsolePushWindow
from bot.channels.push import PushMode, PushWindow
from bot.channels.telegram.push import TelegramPushWindow
from bot.channels.wechat.push import WeChatPushWindow
from bot.core import Core
from bot.jobs.reporter_notices import ReporterNotices
from bot.serve import push_windows
from handlers.events import Channel
from storage.crypto import Purpose
from storage.messages import Delivery, ReporterNotice

from .conftest import Clock

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
AGES = [timedelta(0), timedelta(hours=47, minutes=49), timedelta(hours=47, minutes=51), timedelta(days=30)]


def ago(age: timedelta) -> datetime:
    return NOW - age


@pytest.mark.parametrize(
    ("age", "mode"),
    [
        (timedelta(0), PushMode.NOW),
        (timedelta(hours=1), PushMode.NOW),
        (timedelta(hours=47, minutes=49), PushMode.NOW),
        (timedelta(hours=47, minutes=50), PushMode.NEXT_CONTACT),
        (timedelta(hours=47, minutes=51), PushMode.NEXT_CONTACT),
        (timedelta(hours=48, minutes=1), PushMode.NEXT_CONTACT),
        (timedelta(days=30), PushMode.NEXT_CONTACT),
    ],
)
def test_wechat_pushes_only_within_48_hours_less_the_margin(age: timedelta, mode: PushMode) -> None:
    assert WeChatPushWindow().mode(ago(age), NOW) is mode


def test_wechat_never_pushes_to_a_worker_never_seen() -> None:
    assert WeChatPushWindow().mode(None, NOW) is PushMode.NEXT_CONTACT


@pytest.mark.parametrize("last_seen", [*(ago(age) for age in AGES), None])
def test_telegram_always_pushes(last_seen: datetime | None) -> None:
    assert TelegramPushWindow().mode(last_seen, NOW) is PushMode.NOW


@pytest.mark.parametrize("last_seen", [*(ago(age) for age in AGES), None])
def test_the_console_never_pushes(last_seen: datetime | None) -> None:
    assert ConsolePushWindow().mode(last_seen, NOW) is PushMode.NEXT_CONTACT


def test_every_channel_has_its_window() -> None:
    windows: dict[str, PushWindow] = push_windows()
    assert set(windows) == {channel.value for channel in Channel}
    assert isinstance(windows["telegram"], TelegramPushWindow)
    assert isinstance(windows["wechat"], WeChatPushWindow)
    assert isinstance(windows["console"], ConsolePushWindow)


class SpyWindow:
    """A window that answers ``mode`` and remembers what it was asked."""

    def __init__(self, mode: PushMode) -> None:
        self.answer = mode
        self.asked: list[tuple[datetime | None, datetime]] = []

    def mode(self, last_seen: datetime | None, now: datetime) -> PushMode:
        self.asked.append((last_seen, now))
        return self.answer


async def test_reporter_notices_ask_the_channels_window(runtime: Core, clock: Clock) -> None:
    """The notice job has no rules of its own: the window decides; a channel without one never pushes."""
    outbox = runtime.services.outbox
    seen = clock() - timedelta(hours=3)
    contact = "wechat:o-spy"
    user_key = runtime.crypto.pseudonym(Purpose.CONVERSATION, contact)
    async with runtime.database.transaction() as session:
        await runtime.services.conversations.save(session, user_key, {"last_seen": seen.timestamp()}, 10**6)
        for address in (contact, "telegram:5001", "fax:42"):
            await outbox.enqueue(session, ReporterNotice(address, "north"), clock())
    wechat, telegram = SpyWindow(PushMode.NEXT_CONTACT), SpyWindow(PushMode.NOW)
    async with runtime.database.transaction() as session:
        routed = await ReporterNotices(runtime.services, {"wechat": wechat, "telegram": telegram}).route_due(
            session, clock()
        )
    assert routed == 3
    assert wechat.asked == [(seen, clock())] and telegram.asked == [(None, clock())]
    async with runtime.database.transaction(write=False) as session:
        pushed = [item.message for item in await outbox.pending(session)]
        assert [(m.chat, m.kind) for m in pushed if isinstance(m, Delivery)] == [("telegram:5001", "notice_push")]
        assert len(pushed) == 1
        assert runtime.services.notices is not None
        for held in (contact, "fax:42"):
            key = runtime.crypto.pseudonym(Purpose.CONVERSATION, held)
            assert await runtime.services.notices.load(session, key) == {"notice": True}
