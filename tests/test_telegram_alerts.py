"""HR alerts end to end: a report filed in Telegram reaches the site's HR group exactly once and
content-free; a report about a manager reaches the advocacy board and never the HR group."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.channels.telegram.sink import TelegramSink
from bot.core import Core, build_core
from bot.jobs import build_sender
from bot.serve import job_deps
from storage.crypto import KeyRing
from storage.receipts import ReceiptHasher

from .conftest import Clock, make_config
from .flows import reference_in
from .telegram_emulator import TelegramEmulator
from .telegram_harness import TelegramWorker, running_channel
from .test_telegram_channel import file_report


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def plant(
    emu: TelegramEmulator,
    database_url: str,
    tmp_path: Path,
    keyring: KeyRing,
    clock: Clock,
    receipt_hasher: ReceiptHasher,
) -> AsyncIterator[tuple[Core, int, int]]:
    hr_group = emu.create_group("HR case handlers")["id"]
    board_group = emu.create_group("Advocacy board")["id"]
    config = make_config(
        database_url,
        tmp_path / "data",
        main={
            "name": {"zh": "一号厂", "en": "Factory One"},
            "hr_chats": [f"telegram:{hr_group}"],
            "board_chats": [f"telegram:{board_group}"],
        },
    )
    runtime = await build_core(config, keyring=keyring, clock=clock, hasher=receipt_hasher)
    try:
        yield runtime, hr_group, board_group
    finally:
        await runtime.close()


def texts(emu: TelegramEmulator, chat: int) -> list[str]:
    return [str(m.get("text", "")) for m in emu.visible_messages(chat)]


@pytest.mark.slow
async def test_one_content_free_alert_to_hr_and_board_alerts_skip_hr(
    plant: tuple[Core, int, int], emu: TelegramEmulator, clock: Clock
) -> None:
    runtime, hr_group, board_group = plant
    async with running_channel(runtime, emu) as channel:
        mei, lin = TelegramWorker(emu, "Mei"), TelegramWorker(emu, "Lin")
        await mei.say("/start")
        ordinary = reference_in(await file_report(mei))
        await lin.say("/start")
        about_manager = reference_in(await file_report(lin, involved="Yes: a supervisor, manager or someone in HR"))
        sender = build_sender(job_deps(runtime, {"telegram": TelegramSink(channel.bot)}))
        assert await sender.run_once() == 0, "non-urgent alerts wait for their random moment"
        clock.advance(hours=1, seconds=1)
        await sender.run_once()
        await sender.run_once()
    hr, board = texts(emu, hr_group), texts(emu, board_group)
    assert len(hr) == 1 and ordinary in hr[0] and about_manager not in hr[0]
    assert len(board) == 1 and about_manager in board[0]
    for alert in hr + board:
        assert "shoulders" not in alert and "Mei" not in alert and "Lin" not in alert
        assert str(mei.id) not in alert and str(lin.id) not in alert
