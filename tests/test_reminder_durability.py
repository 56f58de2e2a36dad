"""A broadcast to 1,000 workers by the real ``python -m bot run`` process, through PTB to the Bot
API emulator, on PostgreSQL, SIGKILLed in the middle and started again: every worker gets the
reminder, none is skipped, and the only repeats are at most one batch, each counted as in doubt.
Sends are counted where Telegram sees them, at the emulator."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from storage.crypto import Crypto
from storage.database import Database
from storage.keys import create_key_file
from storage.migrate import upgrade_to_head
from storage.subscriptions import Subscription, SubscriptionStore

from .conftest import create_pg_database, drop_pg_database, seed_faq_cache
from .telegram_emulator import TelegramEmulator
from .telegram_emulator.helpers import wait_until
from .test_telegram_durability import ROOT, bot_process, dsn, free_port

WORKERS = 1000
BATCH = 50
REMINDER = "培训提醒："
FACTS = "\n".join(
    f'{key} = "{key}"'
    for key in ("advocacy_board", "counselling_service", "handbook_location", "hr_contact", "training_schedule")
)


def write_config(path: Path, url: str, keys: Path, emu: TelegramEmulator) -> None:
    """The bot's config; no quiet hours, which would hold the broadcast whenever the test runs
    between 22:00 and 07:00 in Shanghai (14:00 to 23:00 UTC) on the real clock."""
    path.write_text(
        f"""
[bot]
data_dir = "{path.parent / 'data'}"
[storage]
url = "{url}"
keys_file = "{keys}"
[sites.main]
name = {{ zh = "一号厂", en = "Factory One" }}
[sites.main.facts]
{FACTS}
[sites.main.reminders]
quiet_hours = "off"
[sites.main.reminders.onboarding]
enabled = false
[reminders]
batch_size = {BATCH}
send_lease_seconds = 5
[telegram]
enabled = true
token = "{emu.token}"
api_base_url = "{emu.base_url}"
api_file_url = "{emu.base_file_url}"
messages_per_second = 200
[web]
port = {free_port()}
""",
        encoding="utf-8",
    )


def reminders_by_chat(emu: TelegramEmulator) -> Counter[str]:
    return Counter(
        str(call["params"]["chat_id"])
        for call in emu.calls("sendMessage")
        if call["ok"] and str(call["params"].get("text", "")).startswith(REMINDER)
    )


async def open_chats(emu: TelegramEmulator) -> list[int]:
    """Workers who wrote to the bot once; their messages are fetched here, so the bot never sees them."""
    ids = []
    for n in range(WORKERS):
        user = emu.create_user(f"Worker {n}")
        emu.send_text(user["id"], "hi")
        ids.append(user["id"])
    async with emu.make_bot() as bot:
        offset = None
        while updates := await bot.get_updates(offset=offset, timeout=0, limit=100):
            offset = updates[-1].update_id + 1
    return ids


async def hapbot(config: Path, *args: str) -> str:
    import sys

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-2000:]
    return out.decode()


async def counters(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn(url))
    try:
        rows = await connection.fetch("SELECT reason, count FROM reminder_counts WHERE occasion_id = 'drill:main'")
    finally:
        await connection.close()
    return {row["reason"]: int(row["count"]) for row in rows}


@pytest.mark.postgres
@pytest.mark.slow
async def test_killed_in_the_middle_of_a_broadcast_every_worker_gets_it_repeats_at_most_one_batch(
    tmp_path: Path, warm_faq_cache: Path
) -> None:
    seed_faq_cache(warm_faq_cache, tmp_path / "data")
    url = await create_pg_database()
    keys = tmp_path / "keys.json"
    keyring = create_key_file(keys)
    config = tmp_path / "config.toml"
    try:
        with TelegramEmulator() as emu:
            write_config(config, url, keys, emu)
            ids = await open_chats(emu)
            database = Database(url)
            await upgrade_to_head(database)
            async with database.transaction() as session:
                await SubscriptionStore(Crypto(keyring)).save_many(
                    session, [Subscription(f"telegram:{user_id}", "main", "zh", 0) for user_id in ids]
                )
            await database.dispose()
            added = await hapbot(config, "remind", "add", "drill", "--site", "main", "--zh", "周五消防演练",
                                 "--en", "Fire drill on Friday")
            assert "drill:main" in added

            async with bot_process(config) as first:
                await wait_until(lambda: sum(reminders_by_chat(emu).values()) >= 300, 60)
                first.send_signal(signal.SIGKILL)
                await first.wait()
            before_restart = reminders_by_chat(emu)
            assert sum(before_restart.values()) < WORKERS, "killed too late to test anything"

            async with bot_process(config) as second:
                await wait_until(lambda: len(reminders_by_chat(emu)) == WORKERS, 90)
                await asyncio.sleep(1.0)  # anything still in flight lands in the counts
                second.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(second.wait(), 30) == 0

            received = reminders_by_chat(emu)
            assert set(received) == {str(user_id) for user_id in ids}, "nobody skipped"
            repeats = sum(n - 1 for n in received.values())
            found = await counters(url)
            assert found["planned"] == WORKERS
            assert found.get("sent", 0) >= WORKERS
            assert repeats <= found.get("in_doubt", 0) <= BATCH, f"{repeats} repeats, counters {found}"
            assert all(call["params"]["text"].startswith("培训提醒：周五消防演练") for call in emu.calls("sendMessage")
                       if str(call["params"].get("text", "")).startswith("培训"))
    finally:
        await drop_pg_database(url)
