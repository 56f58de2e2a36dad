"""Telegram security: forged and replayed button data, and nothing identifying in the database or logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core import Core, build_core
from bot.logs import QUIET
from handlers import reminders
from storage.crypto import KeyRing
from storage.journal import UpdateJournal
from storage.models import Case

from .conftest import Clock, conversation_with_account, make_config
from .flows import receipt_in
from .telegram_emulator import TelegramEmulator
from .telegram_emulator.helpers import wait_until
from .telegram_harness import TelegramWorker, running_channel

CANARY = "金丝雀电报样本在缝纫车间"


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


def callback_update(
    update_id: int, user: dict[str, object], message: dict[str, object], data: str
) -> dict[str, object]:
    return {
        "update_id": update_id,
        "callback_query": {"id": f"q{update_id}", "from": user, "chat_instance": "1", "message": message, "data": data},
    }


async def test_forged_and_replayed_button_data_is_refused(runtime: Core, emu: TelegramEmulator) -> None:
    async with running_channel(runtime, emu) as channel:
        mei, lin = TelegramWorker(emu, "Mei"), TelegramWorker(emu, "Lin")
        await mei.say("/start")
        await lin.say("/start")
        mei_menu = mei.bot_messages()[-1]
        lin_menu = lin.bot_messages()[-1]
        genuine = mei_menu["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        assert genuine.startswith("report|")
        sends_before = len(emu.calls("sendMessage"))
        forged = [
            callback_update(900_001, lin.user, lin_menu, "report|AAAAAAAAAA"),  # made-up tag
            callback_update(900_002, lin.user, lin_menu, genuine),  # Mei's button replayed by Lin
            callback_update(900_003, lin.user, lin_menu, "report"),  # no tag at all
            callback_update(900_004, lin.user, lin_menu, genuine.replace("report", "submit", 1)),  # tag moved
        ]
        await channel.ingest(forged)
        await channel.process_pending()
        assert len(emu.calls("sendMessage")) == sends_before, "a refused button must change nothing"
        async with runtime.database.transaction(write=False) as session:
            lin_state = await conversation_with_account(runtime.crypto, session, lin.user_key_for(runtime))
        welcomed = reminders.OFFER  # the welcome's menu, with reminders offered
        assert lin_state is not None and lin_state["state"] == welcomed, "Lin must still be at the menu"
        # Mei's own genuine button still works.
        await mei.tap("Report harassment (anonymous)")
        assert "Before you report" in mei.last_text()


async def test_button_data_that_is_not_ascii_is_refused_as_forged_and_answered(
    runtime: Core, emu: TelegramEmulator
) -> None:
    async with running_channel(runtime, emu) as channel:
        lin = TelegramWorker(emu, "Lin")
        await lin.say("/start")
        menu = lin.bot_messages()[-1]
        genuine = menu["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        odd = ["report|ÄÄÄÄÄÄÄÄÄÄ", "réport|AAAAAAAAAA", "report|\ud800", "\udcff|AAAAAAAAAA", "报告|" + genuine[-10:],
               genuine + "\x00", genuine.replace("|", "｜"), "é" * 40]
        updates = [callback_update(910_000 + n, lin.user, menu, data) for n, data in enumerate(odd)]
        sends_before = len(emu.calls("sendMessage"))
        await channel.ingest(updates)
        await channel.process_pending()
        assert len(emu.calls("sendMessage")) == sends_before, "a refused button must change nothing"
        answered = {str(call["params"].get("callback_query_id")) for call in emu.calls("answerCallbackQuery")}
        assert {f"q{u['update_id']}" for u in updates} <= answered, "every press is answered (the spinner stops)"
        async with runtime.database.transaction(write=False) as session:
            assert await UpdateJournal(runtime.crypto).count_pending(session, "telegram") == 0
        await lin.tap("Report harassment (anonymous)")
        assert "Before you report" in lin.last_text()


async def test_text_with_a_lone_surrogate_is_journaled_cleaned_and_answered(
    runtime: Core, emu: TelegramEmulator
) -> None:
    """JSON can escape a lone surrogate; sealing it for the journal used to fail and stall polling."""
    async with running_channel(runtime, emu) as channel:
        lin = TelegramWorker(emu, "Lin")
        await lin.say("/start")
        await lin.tap("Report harassment (anonymous)")
        await lin.tap("I understand, continue")
        chat = {"id": lin.id, "type": "private", "first_name": "Lin"}
        message = {"message_id": 990_001, "from": lin.user, "chat": chat, "date": 1_700_000_000, "text": "a\ud800b"}
        sends_before = len(emu.calls("sendMessage"))
        assert await channel.ingest([{"update_id": 920_001, "message": message}]) == 1
        await channel.process_pending()
        assert len(emu.calls("sendMessage")) > sends_before
        async with runtime.database.transaction(write=False) as session:
            state = await conversation_with_account(runtime.crypto, session, lin.user_key_for(runtime))
        assert state is not None and state["draft"]["what"] == ["a\ufffdb"]
        await lin.say("and then it went on")  # polling still runs


async def test_no_canary_token_or_user_id_in_database_or_logs(
    tmp_path: Path, keyring: KeyRing, emu: TelegramEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)  # as bot.logs.configure_logging does in production
    caplog.set_level(logging.DEBUG)
    url = f"sqlite+aiosqlite:///{tmp_path / 'hapbot.sqlite3'}"
    runtime = await build_core(make_config(url, tmp_path / "data"), keyring=keyring, clock=Clock())
    try:
        async with running_channel(runtime, emu):
            mei = TelegramWorker(emu, "Mei")
            await mei.say("/start")
            await mei.tap("Report harassment (anonymous)")
            await mei.tap("I understand, continue")
            await mei.say(CANARY)
            for label in ("Done", "Words: comments, jokes, sounds", "Skip", "Skip", "No: a co-worker", "Skip",
                          "Not urgent", "Yes, send me a neutral notice here", "Submit the report"):
                await mei.tap(label)
            receipt = receipt_in(mei.all_text())
            await wait_until(lambda: CANARY not in str(mei.messages()), 10)
        async with runtime.database.transaction(write=False) as session:
            assert (await session.execute(select(func.count()).select_from(Case))).scalar_one() == 1
    finally:
        await runtime.close()
    blobs = {p.name: p.read_bytes() for p in tmp_path.glob("hapbot.sqlite3*")}
    logged = "\n".join(r.getMessage() for r in caplog.records).encode()
    secrets = {
        "canary": CANARY.encode(),
        "bot token": emu.token.encode(),
        "token secret part": emu.token.split(":")[-1].encode(),
        "user id": str(mei.id).encode(),
        "receipt": receipt.encode(),
    }
    for where, blob in {**blobs, "logs": logged}.items():
        for name, needle in secrets.items():
            assert needle not in blob, f"{name} found in {where}"
