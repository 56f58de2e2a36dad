"""A bot process killed after journaling an update but before handling it handles it exactly once
after a restart; the real `hapbot run` process against the Bot API emulator and one PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from storage.crypto import Crypto, Purpose
from storage.database import Database, advisory_lock_id
from storage.keys import create_key_file

from .conftest import conversation_with_account, create_pg_database, drop_pg_database, seed_faq_cache
from .telegram_emulator import TelegramEmulator
from .telegram_emulator.helpers import wait_until
from .telegram_harness import TelegramWorker

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


def write_config(path: Path, url: str, keys: Path, emu: TelegramEmulator) -> None:
    path.write_text(
        f"""
[bot]
data_dir = "{path.parent / 'data'}"
[storage]
url = "{url}"
keys_file = "{keys}"
[telegram]
enabled = true
token = "{emu.token}"
api_base_url = "{emu.base_url}"
api_file_url = "{emu.base_file_url}"
[web]
port = {free_port()}
""",
        encoding="utf-8",
    )


@asynccontextmanager
async def bot_process(config: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "run", cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def pending_updates(url: str) -> int:
    connection = await asyncpg.connect(dsn(url))
    try:
        return int(await connection.fetchval("SELECT count(*) FROM inbound_updates WHERE NOT handled"))
    finally:
        await connection.close()


@pytest.mark.slow
@pytest.mark.postgres
async def test_killed_between_journal_and_handling_then_handled_exactly_once(
    tmp_path: Path, emu: TelegramEmulator, warm_faq_cache: Path
) -> None:
    seed_faq_cache(warm_faq_cache, tmp_path / "data")
    url = await create_pg_database()
    keys = tmp_path / "keys.json"
    keyring = create_key_file(keys)
    config = tmp_path / "config.toml"
    write_config(config, url, keys, emu)
    try:
        mei = TelegramWorker(emu, "Mei")
        user_key = Crypto(keyring).pseudonym(Purpose.CONVERSATION, f"telegram:{mei.id}")
        async with bot_process(config) as first:
            # On a busy machine the process may take longer to start than a reply may take: wait until it polls.
            await wait_until(lambda: bool(emu.calls("deleteWebhook")), 60)
            await mei.say("/start")
            await mei.tap("Report harassment (anonymous)")
            await mei.tap("I understand, continue")
            # Hold the worker's lock: the bot can journal the next update but not handle it.
            holder = await asyncpg.connect(dsn(url))
            await holder.execute("SELECT pg_advisory_lock($1)", advisory_lock_id(user_key))
            emu.send_text(mei.id, "CRASH-STORY-42")
            await wait_until(lambda: not emu.pending_updates(), 15)  # fetched and confirmed
            for _ in range(200):
                if await pending_updates(url) == 1:
                    break
                await asyncio.sleep(0.05)
            assert await pending_updates(url) == 1, "the update must be journaled before it is confirmed"
            first.send_signal(signal.SIGKILL)
            await first.wait()
            await holder.execute("SELECT pg_advisory_unlock($1)", advisory_lock_id(user_key))
            await holder.close()
        saved = [m for m in emu.calls("sendMessage") if "Saved (1 messages)" in str(m["params"].get("text"))]
        assert saved == [], "the killed process must not have handled it"

        async with bot_process(config) as second:
            await wait_until(
                lambda: any("Saved (1 messages)" in str(m["params"].get("text")) for m in emu.calls("sendMessage")), 30
            )
            await asyncio.sleep(0.5)
            assert await pending_updates(url) == 0
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 15) == 0
        replies = [m for m in emu.calls("sendMessage") if "Saved (" in str(m["params"].get("text"))]
        assert len(replies) == 1, "handled exactly once"
        database = Database(url)
        async with database.transaction(write=False) as session:
            state = await conversation_with_account(Crypto(keyring), session, user_key)
        await database.dispose()
        assert state is not None and state["draft"]["what"] == ["CRASH-STORY-42"]
    finally:
        await drop_pg_database(url)
