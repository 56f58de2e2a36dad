"""A frightened message gets the emergency help before anything else her reply carries.

Things held for a worker's next message (a training reminder WeChat's 48 hours would not let us
push, an owed receipt, an expiry notice, a "new message" notice) are delivered with that message;
when that message says she is in danger, the numbers come first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core import Core, build_core
from handlers.events import Channel
from storage.crypto import KeyRing

from .conftest import Clock
from .reminders_kit import ChatWorker, announce, jobs_for, reminder_config


@pytest.fixture
async def site(database_url: str, tmp_path: Path, keyring: KeyRing) -> AsyncIterator[tuple[Core, Clock]]:
    clock = Clock(datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    core = await build_core(reminder_config(database_url, tmp_path / "data"), keyring=keyring, clock=clock)
    try:
        yield core, clock
    finally:
        await core.close()


@pytest.mark.parametrize("channel", [Channel.WECHAT, Channel.CONSOLE])
@pytest.mark.parametrize("words", ["救命", "他在宿舍门口等我，我好怕"])
async def test_emergency_help_comes_before_a_held_reminder(
    site: tuple[Core, Clock], channel: Channel, words: str
) -> None:
    runtime, clock = site
    jobs = jobs_for(runtime)
    mei = ChatWorker(runtime, "mei", channel, language="en")
    await mei.subscribe()
    clock.advance(hours=49)  # WeChat: past the 48 hours, so the reminder is held for her next message
    await announce(runtime, "drill", clock(), clock() + timedelta(days=1), text="Fire drill on Friday")
    await jobs.tick()
    shown = await mei.send(words)
    assert "Fire drill on Friday" in shown, "the held reminder still comes with this message"
    assert shown.index("110") < shown.index("Fire drill on Friday"), shown[:80]
