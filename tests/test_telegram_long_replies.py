"""Replies longer than one Telegram message (4,096 UTF-16 units) reach the worker in several.

Telegram refuses an over-long message whole. The review shows her whole account and a status
lookup shows every HR message: a long account would leave her with no review and no way to
submit, and HR's replies would be marked seen while none reached her."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.core import Core
from storage.cases import Author
from storage.models import Case, CaseMessage

from .flows import receipt_in
from .telegram_emulator import TelegramEmulator
from .telegram_harness import TelegramWorker, running_channel


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


async def test_the_review_of_a_long_account_arrives_with_its_submit_button(
    runtime: Core, emu: TelegramEmulator
) -> None:
    async with running_channel(runtime, emu):
        mei = TelegramWorker(emu, "Mei")
        await mei.start_report()
        for number in range(10):  # ten messages of 450 characters, each far under the limit
            await mei.say(f"Part {number}: " + "he keeps standing behind me at the line and " * 10)
        await mei.answer_to_review()
        assert "Submit the report" in mei.buttons(), mei.last_text()[:80]
        shown = mei.all_text()
        assert all(f"Part {number}:" in shown for number in range(10)), "every part of her account is shown"
        await mei.tap("Submit the report")
        assert receipt_in(mei.all_text())


async def test_hr_replies_longer_than_one_message_reach_the_worker_who_checks(
    runtime: Core, emu: TelegramEmulator
) -> None:
    async with running_channel(runtime, emu):
        mei = TelegramWorker(emu, "Mei")
        await mei.start_report()
        await mei.say("The line leader keeps touching my shoulders")
        await mei.answer_to_review()
        await mei.tap("Submit the report")
        receipt = receipt_in(mei.all_text())
        async with runtime.database.transaction() as session:
            case_id = (await session.execute(select(Case.id))).scalar_one()
            for day in range(3):  # three replies of 1,500 characters (the desk takes up to 8,000 each)
                text = f"Reply {day}: " + "We have spoken with the line manager. " * 40
                await runtime.services.cases.add_message(session, case_id, Author.HR, text, runtime.services.clock())
        await mei.say("/status")
        await mei.say(receipt)
        shown = mei.all_text()
        assert all(f"Reply {day}:" in shown for day in range(3)), "every HR reply reached her"
        async with runtime.database.transaction(write=False) as session:
            assert all((await session.execute(select(CaseMessage.seen_by_reporter))).scalars())
