"""Telegram updates/s through the real PTB Application and our journal, beside a bare PTB echo.

Both rows use the same PTB ``Application.process_update``; the network edge (the Bot API) is
answered in-process by a ``BaseRequest`` that returns a canned Message, so the figures measure
the bot, not a network. The baseline handler echoes the text (``reply_text``) and nothing else;
ours journals each batch of updates (one commit per getUpdates batch), dispatches every update
through the conversation core in its own transaction with the journal mark, sends its replies and
records the message ids for /hide.

Usage: python bench/telegram_updates.py [--users 50] [--messages 20] [--batch 100] [--no-postgres]
Imported by bench/report_pipeline.py to add its row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest, RequestData

from bot.channels.telegram.adapter import TelegramAdapter
from bot.channels.telegram.channel import TelegramChannel
from bot.config import Config
from bot.core import Core, build_core
from storage.conversations import trace_store
from storage.crypto import KeyRing
from storage.journal import UpdateJournal

TOKEN = "123456:BENCHMARKTOKENBENCHMARKTOKEN00000"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "HAP", "username": "hap_bot"}


class LocalBotApi(BaseRequest):
    """Answers Bot API calls in-process: the network edge, and nothing else, is faked."""

    def __init__(self) -> None:
        self.calls = 0
        self._message_id = 0

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **_: Any
    ) -> tuple[int, bytes]:
        self.calls += 1
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        if name == "getMe":
            result: Any = BOT_USER
        elif name in ("sendMessage", "editMessageReplyMarkup"):
            self._message_id += 1
            chat_id = int(str(params.get("chat_id", 0)))
            result = {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": str(params.get("text", "")),
            }
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()


def updates_for(users: int, messages: int, start_id: int = 1) -> list[dict[str, Any]]:
    """Text messages from ``users`` workers, ``messages`` each, interleaved as they would arrive."""
    result = []
    update_id = start_id
    for number in range(messages):
        for user in range(users):
            user_id = 10_000_000 + user
            result.append(
                {
                    "update_id": update_id,
                    "message": {
                        "message_id": update_id,
                        "date": int(time.time()),
                        "chat": {"id": user_id, "type": "private"},
                        "from": {"id": user_id, "is_bot": False, "first_name": "W", "language_code": "zh"},
                        "text": f"第{number}条：他在车间里又说了那些话",
                    },
                }
            )
            update_id += 1
    return result


def application(api: LocalBotApi) -> Application:  # type: ignore[type-arg]
    built: Application = ApplicationBuilder().token(TOKEN).request(api).updater(None).build()  # type: ignore[type-arg]
    return built


async def bare_echo(updates: list[dict[str, Any]]) -> float:
    """Updates/s of a bare PTB echo handler through process_update."""
    app = application(LocalBotApi())

    async def echo(update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert isinstance(update, Update) and update.message is not None
        await update.message.reply_text(update.message.text or "")

    app.add_handler(TypeHandler(Update, echo))
    await app.initialize()
    parsed = [Update.de_json(u, app.bot) for u in updates]
    started = time.perf_counter()
    for update in parsed:
        await app.process_update(update)
    elapsed = time.perf_counter() - started
    await app.shutdown()
    return len(updates) / elapsed


async def ours(runtime: Core, users: int, messages: int, batch: int) -> float:
    """Updates/s journaled, dispatched durably, replied to and traced, through the same Application."""
    api = LocalBotApi()
    app = application(api)
    channel = TelegramChannel(
        app, runtime.dispatcher, runtime.database, UpdateJournal(runtime.crypto),
        TelegramAdapter(runtime.crypto, list(runtime.services.settings.sites)), trace_store(runtime.crypto),
    )
    await app.initialize()
    # Bring every worker to the "what happened" step first (not timed).
    setup = []
    for index, text in enumerate(["/start", "举报"]):
        for update in updates_for(users, 1, start_id=1_000_000 + index * users):
            update["message"]["text"] = text
            setup.append(update)
    await channel.ingest(setup)
    await channel.process_pending()
    for user in range(users):
        key = channel._adapter.user_key(10_000_000 + user)
        async with runtime.database.transaction() as session:
            document = await runtime.services.conversations.load(session, key) or {}
            document.update({"state": "report.what", "draft": {"what": []},
                             "draft_expires_at": time.time() + 86400, "offered": ["done", "danger"]})
            await runtime.services.conversations.save(session, key, document, int(time.time() // 3600) + 48)
    timed = updates_for(users, messages, start_id=2_000_000)
    started = time.perf_counter()
    for offset in range(0, len(timed), batch):
        await channel.ingest(timed[offset : offset + batch])
        await channel.process_pending()
    elapsed = time.perf_counter() - started
    await app.shutdown()
    return len(timed) / elapsed


async def telegram_rows(name: str, url: str, data_dir: Path, keyring: KeyRing, args: argparse.Namespace) -> None:
    config = Config.model_validate({"storage": {"url": url}, "bot": {"data_dir": str(data_dir)}})
    runtime = await build_core(config, keyring=keyring)
    try:
        ours_rate = await ours(runtime, args.users, args.messages, args.batch)
    finally:
        await runtime.close()
    baseline = await bare_echo(updates_for(args.users, args.messages))
    print(f"[{name}] telegram bare PTB echo through process_update: {baseline:8.0f} updates/s")
    print(f"[{name}] telegram durable conversation messages (journal + core + replies): {ours_rate:8.0f} updates/s"
          f"   ours/baseline = {ours_rate / baseline:.3f}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--telegram-messages", dest="messages", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)


async def main(args: argparse.Namespace) -> None:
    keyring = KeyRing.generate()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database or f"sqlite+aiosqlite:///{Path(directory) / 'bench.sqlite3'}"
        await telegram_rows("postgresql" if args.database else "sqlite", url, Path(directory), keyring, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--database", help="a postgresql+asyncpg:// URL instead of a temporary SQLite file")
    asyncio.run(main(parser.parse_args()))
