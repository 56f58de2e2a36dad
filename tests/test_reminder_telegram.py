"""Telegram reminders through the real python-telegram-bot stack over HTTP to the Bot API emulator:
a worker opts in with the bot's own buttons, a 429 with retry_after slows the broadcast and loses
nothing, and a worker who blocked the bot is dropped once, counted, and not tried again."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.channels.telegram.adapter import TelegramAdapter
from bot.channels.telegram.setup import build_application
from bot.channels.telegram.sink import TelegramSink
from bot.core import Core, build_core, utc_now
from storage.crypto import KeyRing
from storage.subscriptions import Subscription
from tests.telegram_emulator import TelegramEmulator

from .reminders_kit import Jobs, announce, counts, jobs_for, reminder_config
from .telegram_harness import TelegramWorker, running_channel, with_telegram

REMINDER = "Training reminder:"


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def runtime(database_url: str, tmp_path: Path, keyring: KeyRing) -> AsyncIterator[Core]:
    """Real time: the sender's retry_after and rate limits are real seconds. No quiet hours, which
    would hold every reminder whenever the test runs between 22:00 and 07:00 in Shanghai."""
    config = reminder_config(database_url, tmp_path / "data", onboarding={"enabled": False}, quiet_hours="off")
    built = await build_core(config, keyring=keyring, clock=utc_now)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def jobs(runtime: Core, emu: TelegramEmulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Jobs]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    application = build_application(with_telegram(runtime.config, emu).telegram)
    await application.initialize()
    try:
        yield jobs_for(runtime, {"telegram": TelegramSink(application.bot)})
    finally:
        await application.shutdown()


async def workers_who_wrote(runtime: Core, emu: TelegramEmulator, count: int) -> list[int]:
    """People who wrote to the bot once (so their private chats exist) and have reminders on."""
    ids = []
    for n in range(count):
        user = emu.create_user(f"Worker {n}")
        emu.send_text(user["id"], "hi")
        ids.append(user["id"])
    hour = int(runtime.services.clock().timestamp() // 3600)
    async with runtime.database.transaction() as session:
        await runtime.services.reminders.subscriptions.save_many(
            session, [Subscription(f"telegram:{user_id}", "main", "en", hour) for user_id in ids]
        )
    return ids


def reminders_to(emu: TelegramEmulator) -> Counter[str]:
    """Reminders Telegram accepted, by chat."""
    return Counter(
        str(call["params"]["chat_id"])
        for call in emu.calls("sendMessage")
        if call["ok"] and str(call["params"].get("text", "")).startswith(REMINDER)
    )


async def run_until(jobs: Jobs, done: Any, seconds: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await done():
        assert loop.time() < deadline, "the broadcast did not finish"
        await jobs.tick()
        await asyncio.sleep(0.1)


async def test_opt_in_with_the_bots_button_then_a_429_slows_the_broadcast_and_loses_nothing(
    runtime: Core, emu: TelegramEmulator, jobs: Jobs
) -> None:
    mei = TelegramWorker(emu, "Mei")
    async with running_channel(runtime, emu):
        await mei.say("/start")
        await mei.tap("Get training reminders")
        assert "Training reminders are on" in mei.all_text()
    others = await workers_who_wrote(runtime, emu, 20)
    occasion = await announce(runtime, "drill", utc_now(), utc_now() + timedelta(hours=1))
    emu.inject_retry_after(2, method="sendMessage", times=1)

    async def all_sent() -> bool:
        return (await counts(runtime, occasion)).get("sent", 0) == 21

    await run_until(jobs, all_sent)
    received = reminders_to(emu)
    assert received == Counter({str(chat): 1 for chat in [mei.id, *others]}), "each exactly once"
    refused = [c for c in emu.calls("sendMessage") if c["error_code"] == 429]
    assert len(refused) == 1
    chat = str(refused[0]["params"]["chat_id"])
    delivered = [c for c in emu.calls("sendMessage") if c["ok"] and str(c["params"]["chat_id"]) == chat]
    later = [c for c in delivered if str(c["params"].get("text", "")).startswith(REMINDER)]
    assert later[0]["wall_time"] >= refused[0]["wall_time"] + 2 - 0.05, "never before retry_after"
    found = await counts(runtime, occasion)
    assert found["retry_after"] == 1 and found["sent"] == 21 and "in_doubt" not in found


async def test_a_blocked_worker_is_dropped_once_counted_and_not_tried_again(
    runtime: Core, emu: TelegramEmulator, jobs: Jobs
) -> None:
    kept, blocker = await workers_who_wrote(runtime, emu, 2)
    emu.block_bot(blocker)
    first = await announce(runtime, "first", utc_now(), utc_now() + timedelta(hours=1))

    async def settled() -> bool:
        found = await counts(runtime, first)
        return found.get("sent", 0) + found.get("blocked", 0) == 2

    await run_until(jobs, settled)
    for _ in range(3):
        await jobs.tick()
    tries = [c for c in emu.calls("sendMessage") if str(c["params"]["chat_id"]) == str(blocker)]
    assert len(tries) == 1 and tries[0]["error_code"] == 403
    assert (await counts(runtime, first)) == {"planned": 2, "queued": 2, "sent": 1, "blocked": 1}
    second = await announce(runtime, "second", utc_now(), utc_now() + timedelta(hours=1))

    async def second_sent() -> bool:
        return (await counts(runtime, second)).get("sent", 0) == 1

    await run_until(jobs, second_sent)
    assert len([c for c in emu.calls("sendMessage") if str(c["params"]["chat_id"]) == str(blocker)]) == 1
    assert reminders_to(emu) == Counter({str(kept): 2})


async def test_a_reminder_that_opens_the_quiz_carries_a_signed_button_the_conversation_accepts(
    runtime: Core, emu: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    mei = TelegramWorker(emu, "Mei")
    async with running_channel(runtime, emu) as channel:
        await mei.say("/start")
        await mei.tap("Get training reminders")
        sink = TelegramSink(channel.bot, TelegramAdapter(runtime.crypto, ()).callback_data)
        jobs = jobs_for(runtime, {"telegram": sink})
        occasion = await announce(runtime, "quiz-week", utc_now(), utc_now() + timedelta(hours=1), opens="quiz")

        async def sent() -> bool:
            return (await counts(runtime, occasion)).get("sent", 0) == 1

        await run_until(jobs, sent)
        assert mei.last_text().startswith("Training reminder: Fire drill on Friday")
        assert mei.buttons() == ["Start the quiz"]
        before = len(mei.bot_messages())
        await mei.tap("Start the quiz")
        answer = "\n".join(str(m.get("text", "")) for m in mei.bot_messages()[before:])
        assert "no longer available" not in answer
        assert "quiz" in answer.lower(), "the quiz feature answers its own choice"
