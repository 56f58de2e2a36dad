"""/hide when Telegram fails for a moment: her messages stay within reach of the next /hide.

The channel remembers where a worker's conversation window starts; after a successful deletion it
forgets it (/hide) or starts it again at the receipt (after a report). Done after a deletion that
failed, that would leave her words on a possibly shared phone, out of every later /hide's reach."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.core import Core

from .flows import receipt_in
from .telegram_emulator import TelegramEmulator
from .telegram_harness import TelegramWorker, running_channel


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


def visible(worker: TelegramWorker) -> str:
    return "\n".join(str(message.get("text", "")) for message in worker.messages())


async def test_a_hide_that_telegram_failed_can_be_repeated(runtime: Core, emu: TelegramEmulator) -> None:
    async with running_channel(runtime, emu, polling=False) as channel:
        mei = TelegramWorker(emu, "Mei")
        for text in ("/start", "my line leader touches me"):
            await channel.ingest([emu.send_text(mei.id, text)])
            await channel.process_pending()
        assert "my line leader touches me" in visible(mei)
        emu.inject_error(502, "Bad Gateway", method="deleteMessages", times=3)  # every attempt fails
        await channel.ingest([emu.send_text(mei.id, "/hide")])
        await channel.process_pending()
        assert "my line leader touches me" in visible(mei)
        await channel.ingest([emu.send_text(mei.id, "/hide")])  # Telegram is back; she tries again
        await channel.process_pending()
        assert "my line leader touches me" not in visible(mei)


async def test_report_messages_whose_deletion_failed_stay_within_hides_reach(
    runtime: Core, emu: TelegramEmulator
) -> None:
    async with running_channel(runtime, emu) as channel:
        mei = TelegramWorker(emu, "Mei")
        await mei.start_report()
        await mei.say("The line leader keeps touching my shoulders")
        await mei.answer_to_review()
        emu.inject_error(502, "Bad Gateway", method="deleteMessages", times=3)
        await mei.tap("Submit the report")
        await channel.process_pending()
        assert receipt_in(mei.all_text()) and "touching my shoulders" in visible(mei)
        await mei.say("/hide")
        await channel.process_pending()
        assert "touching my shoulders" not in visible(mei)
