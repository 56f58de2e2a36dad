"""Webhook mode: Telegram posts updates to our web app, which checks the secret and journals them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels.telegram.webhook import JournalGroup, telegram_route
from bot.core import Core
from bot.web.app import build_web_app
from bot.web.server import serving
from storage.models import InboundUpdate

from .flows import receipt_in
from .telegram_emulator import TelegramEmulator
from .telegram_harness import TelegramWorker, running_channel

SECRET = "s3cret-token-for-tests_only"


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


async def journal_rows(runtime: Core) -> int:
    async with runtime.database.transaction(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(InboundUpdate))).scalar_one())


async def test_report_through_the_webhook(runtime: Core, emu: TelegramEmulator) -> None:
    async with running_channel(runtime, emu, polling=False) as channel:
        app = build_web_app([telegram_route(SECRET, channel.ingest)])
        async with serving(app, "127.0.0.1", 0) as port:
            await channel.bot.set_webhook(f"http://127.0.0.1:{port}/telegram", secret_token=SECRET)
            mei = TelegramWorker(emu, "Mei")
            await mei.say("/start")
            await mei.tap("Report harassment (anonymous)")
            await mei.tap("I understand, continue")
            await mei.say("He sends me pictures at night")
            for label in ("Done", "Messages, pictures or videos", "Skip", "Online or by phone", "No: a co-worker",
                          "Skip", "Not urgent", "No, I will check with my receipt", "Submit the report"):
                await mei.tap(label)
            assert receipt_in(mei.all_text())
            deliveries = emu.webhook_deliveries()
            assert deliveries and all(d["ok"] and d["error"] is None for d in deliveries)


async def test_wrong_or_missing_secret_is_refused_and_nothing_stored(runtime: Core, emu: TelegramEmulator) -> None:
    async with running_channel(runtime, emu, polling=False) as channel:
        app = build_web_app([telegram_route(SECRET, channel.ingest)])
        async with serving(app, "127.0.0.1", 0) as port, httpx.AsyncClient() as client:
            # A user the emulator knows, so the replies to the journaled updates go out at the first try
            # (to an unknown chat each reply is tried three times, half a second apart).
            user_id = emu.create_user("X")["id"]
            update = {"update_id": 1001, "message": {"message_id": 1, "date": 0,
                                                     "chat": {"id": user_id, "type": "private"},
                                                     "from": {"id": user_id, "is_bot": False, "first_name": "X"},
                                                     "text": "/start"}}
            url = f"http://127.0.0.1:{port}/telegram"
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                            {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]}):
                response = await client.post(url, json=update, headers=headers)
                assert response.status_code == 403
            assert await journal_rows(runtime) == 0
            assert emu.calls("sendMessage") == []
            ok = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert ok.status_code == 200 and await journal_rows(runtime) == 1
            deep, long_number = b"[" * 100_000 + b"]" * 100_000, b'{"update_id": ' + b"9" * 5000 + b"}"
            for body in (b"{not json", b"\xff\xfe{}", deep, long_number):
                bad = await client.post(url, content=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                assert bad.status_code == 400, body[:20]
            surrogate = json.dumps({**update, "update_id": 1002, "message": {**update["message"], "text": "a\ud800"}})
            kept = await client.post(url, content=surrogate, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert kept.status_code == 200 and await journal_rows(runtime) == 2, "journaled, cleaned"
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
            assert health.json() == {"status": "ok"}


async def test_updates_posted_together_are_journaled_in_one_commit() -> None:
    batches: list[list[dict[str, object]]] = []

    async def ingest(updates: list[dict[str, object]]) -> int:
        batches.append(updates)
        return len(updates)

    group = JournalGroup(ingest)
    await asyncio.gather(*(group.journal({"update_id": n}) for n in range(20)))
    assert [[u["update_id"] for u in batch] for batch in batches] == [list(range(20))], "one commit, in order"


async def test_a_failed_journal_commit_fails_every_request_in_it() -> None:
    async def ingest(updates: list[dict[str, object]]) -> int:
        raise OSError("disk full")

    group = JournalGroup(ingest)
    results = await asyncio.gather(*(group.journal({"update_id": n}) for n in range(3)), return_exceptions=True)
    assert all(isinstance(result, OSError) for result in results), "no request may be answered 200"
