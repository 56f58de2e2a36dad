"""Rows this process cannot open (a replica still on the old master key, a damaged row) are left as
they are, and never hold up anyone else.

The dispatcher already answers such a worker "please try again" and leaves her conversation alone;
her Telegram chat window and a reminder held for her must be treated the same way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.channels.telegram.setup import build_telegram_channel
from bot.config import Config
from bot.core import Core, build_core
from handlers.faq.service import LibraryFaqService
from storage.crypto import KeyRing
from storage.models import ChatTrace
from storage.subscriptions import Held

from .conftest import Clock
from .telegram_emulator import TelegramEmulator
from .telegram_harness import TelegramWorker, running_channel, with_telegram


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


async def test_a_replica_on_old_keys_answers_everyone_when_one_window_is_unreadable(
    config: Config, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService, emu: TelegramEmulator
) -> None:
    old = await build_core(config, keyring=keyring, clock=clock, faq=faq_service)
    new = await build_core(config, keyring=keyring.with_new_master_key(), clock=clock, faq=faq_service)
    try:
        mei, ann = TelegramWorker(emu, "Mei"), TelegramWorker(emu, "Ann")
        async with running_channel(new, emu, polling=False) as channel:  # her window sealed under the new key
            await channel.ingest([emu.send_text(mei.id, "/start")])
            await channel.process_pending()
        stale = build_telegram_channel(old, with_telegram(old.config, emu).telegram)
        await stale.application.initialize()
        try:
            await stale.ingest([emu.send_text(mei.id, "hello"), emu.send_text(ann.id, "/start")])
            await stale.process_pending()
            assert ann.bot_messages(), "Ann is answered"
        finally:
            await stale.application.shutdown()
        async with new.database.transaction(write=False) as session:
            assert await session.get(ChatTrace, mei.user_key_for(new)) is not None, "Mei's window row is left"
    finally:
        await old.close()
        await new.close()


async def test_a_damaged_chat_window_stalls_nobody(runtime: Core, emu: TelegramEmulator) -> None:
    mei, ann = TelegramWorker(emu, "Mei"), TelegramWorker(emu, "Ann")
    channel = build_telegram_channel(runtime, with_telegram(runtime.config, emu).telegram)
    await channel.application.initialize()
    try:
        await channel.ingest([emu.send_text(mei.id, "/start")])
        await channel.process_pending()
        async with runtime.database.transaction() as session:  # one flipped bit in Mei's window row
            row = await session.get(ChatTrace, mei.user_key_for(runtime))
            assert row is not None
            row.state_ct = bytes(row.state_ct[:-1]) + bytes([row.state_ct[-1] ^ 1])
        await channel.ingest([emu.send_text(mei.id, "hello"), emu.send_text(ann.id, "/start")])
        await channel.process_pending()
        assert ann.bot_messages()
    finally:
        await channel.application.shutdown()


async def test_a_replica_on_old_keys_leaves_a_held_reminder_it_cannot_open(
    config: Config, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService
) -> None:
    old = await build_core(config, keyring=keyring, clock=clock, faq=faq_service)
    new = await build_core(config, keyring=keyring.with_new_master_key(), clock=clock, faq=faq_service)
    try:
        contact = "wechat:o-mei"
        held = Held("training:main:2030-03-06", "Training reminder: Wednesday 9:00", clock().timestamp() + 86400)
        async with new.database.transaction() as session:
            await new.services.reminders.held.hold(session, contact, held)
        async with old.database.transaction() as session:  # her next message reaches the old replica
            assert await old.services.reminders.held.take(session, contact, clock()) is None
        async with new.database.transaction() as session:  # once every replica has the new key
            assert await new.services.reminders.held.take(session, contact, clock()) == held
    finally:
        await old.close()
        await new.close()
