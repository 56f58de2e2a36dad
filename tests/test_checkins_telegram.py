"""Check-ins and deadline notes on Telegram, through python-telegram-bot over HTTP to the Bot API
emulator (on the test's clock), on SQLite and PostgreSQL: the reporter's private chat gets one
neutral check-in at 30, 60 and 90 days after closing, answers with the bot's own buttons, and a
yes reaches the HR group at once; HR's group gets the deadline reminder, the board's the escalation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import telegram

from bot.channels.telegram.sink import TelegramSink
from bot.core import Core, build_core
from handlers.events import Channel
from storage.cases import CaseStatus
from storage.crypto import KeyRing
from storage.receipts import ReceiptHasher
from tests.telegram_emulator import TelegramEmulator

from .conftest import Clock, make_config
from .deadlines_kit import Pass, case, desk
from .flows import receipt_in, reference_in, report_script
from .reminders_kit import ChatWorker
from .telegram_harness import TelegramWorker, running_channel
from .test_delivery_telegram import SharedClock

CHECKIN = "Time for a check-in. Send 查询 (status) when you can."
QUESTION = "Has anything happened to you because of the report?"


@pytest.fixture
def emu(clock: Clock) -> Iterator[TelegramEmulator]:
    with TelegramEmulator(clock=SharedClock(clock)) as emulator:
        yield emulator


@pytest.fixture
def groups(emu: TelegramEmulator) -> dict[str, int]:
    return {name: emu.create_group(name)["id"] for name in ("hr", "board")}


@pytest.fixture
async def runtime(
    database_url: str,
    tmp_path: Path,
    keyring: KeyRing,
    clock: Clock,
    groups: dict[str, int],
    receipt_hasher: ReceiptHasher,
) -> AsyncIterator[Core]:
    north = {
        "name": {"zh": "北厂", "en": "North Plant"},
        "hr_chats": [f"telegram:{groups['hr']}"],
        "board_chats": [f"telegram:{groups['board']}"],
    }
    main = {"name": {"zh": "一号厂", "en": "Factory One"}}
    config = make_config(database_url, tmp_path / "data", main=main, north=north)
    built = await build_core(config, keyring=keyring, clock=clock, hasher=receipt_hasher)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def bot(emu: TelegramEmulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[telegram.Bot]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with emu.make_bot() as real_bot:
        yield real_bot


def texts(emu: TelegramEmulator, chat_id: int) -> list[str]:
    return [m["text"] for m in emu.visible_messages(chat_id) if m["from"]["is_bot"] and "text" in m]


async def report_from(runtime: Core, mei: TelegramWorker, notify: str = "notify_yes") -> tuple[str, str]:
    """Mei reports from her Telegram chat (the dispatcher directly, as the channel would hand it)."""
    chat = ChatWorker(runtime, str(mei.id), Channel.TELEGRAM)
    await chat.send("/start", site="north")
    for line in report_script(["The cook keeps cornering me"], notify=notify):
        await chat.send(line.get("text"), line.get("choice"))
    return receipt_in(chat.text), reference_in(chat.text)


async def test_check_ins_reach_the_private_chat_and_a_yes_alerts_hr_at_once(
    runtime: Core, clock: Clock, emu: TelegramEmulator, bot: telegram.Bot, groups: dict[str, int]
) -> None:
    mei = TelegramWorker(emu, "Mei")
    async with running_channel(runtime, emu):
        await mei.say("hi")
    receipt, reference = await report_from(runtime, mei)
    jobs = Pass(runtime, {"telegram": TelegramSink(bot)})
    clock.advance(hours=1, seconds=1)
    await jobs.run()  # the report's own alert
    await desk(runtime).set_status("wang", reference, CaseStatus.CLOSED, clock())

    for days in (30, 30, 30):
        clock.advance(days=days)
        await jobs.run()
        await jobs.run()
        assert mei.last_text() == CHECKIN
    assert [text for text in texts(emu, mei.id) if text == CHECKIN] == [CHECKIN] * 3, "days 30, 60 and 90, once each"
    assert all("cook" not in text and reference not in text for text in texts(emu, mei.id))

    clock.advance(hours=1)
    hr_before = len(texts(emu, groups["hr"]))
    async with running_channel(runtime, emu):
        await mei.say("查询")
        await mei.say(receipt)
        assert QUESTION in mei.all_text()
        await mei.tap("Yes, something happened")
        assert "open again as urgent" in mei.all_text()
    reopened = await case(runtime, reference)
    assert reopened.urgent and reopened.status is CaseStatus.RECEIVED
    await jobs.run()  # the same moment: not delayed
    alerts = texts(emu, groups["hr"])[hr_before:]
    assert len(alerts) == 1 and reference in alerts[0] and "🆘" in alerts[0]
    assert [text for text in texts(emu, groups["board"]) if reference in text] == []
    clock.advance(days=30)
    await jobs.run()
    assert [text for text in texts(emu, mei.id) if text == CHECKIN] == [CHECKIN] * 3, "an open case: no check-in"


async def test_deadline_reminder_in_the_hr_group_and_escalation_in_the_board_group(
    runtime: Core, clock: Clock, emu: TelegramEmulator, bot: telegram.Bot, groups: dict[str, int]
) -> None:
    mei = TelegramWorker(emu, "Mei")
    _, reference = await report_from(runtime, mei, notify="notify_no")
    jobs = Pass(runtime, {"telegram": TelegramSink(bot)})
    clock.advance(days=6, hours=1)
    await jobs.run()
    clock.advance(days=1)
    await jobs.run()
    await jobs.run()
    hr = [text for text in texts(emu, groups["hr"]) if "Deadline" in text]
    board = [text for text in texts(emu, groups["board"]) if "Deadline" in text]
    assert len(hr) == 1 and "Deadline soon at North Plant" in hr[0] and reference in hr[0]
    assert len(board) == 1 and "escalated" in board[0] and reference in board[0]
    assert "cook" not in hr[0] + board[0]
    assert (await case(runtime, reference)).escalated
