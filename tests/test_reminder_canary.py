"""Subscriptions, held reminders, due work and reminder pushes in the outbox hold no chat address,
platform id or message text in plaintext: canaries searched in the SQLite file (and its WAL) and
in a pg_dump, with rows in every state (subscribed, planned, queued in the outbox, held)."""

from __future__ import annotations

import logging
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.config import Config
from bot.core import Core, build_core
from storage.crypto import KeyRing
from storage.database import sqlite_path
from storage.subscriptions import Subscription

from .conftest import Clock, create_pg_database, drop_pg_database
from .reminders_kit import announce, jobs_for, reminder_config

TELEGRAM_ID = "7788123456"
OPENID = "oCANARYopenidQz81x"
CONSOLE_NAME = "canary-worker-5521"
TEXT = "金丝雀消防演练在三号车间CANARY"


def canaries() -> dict[str, bytes]:
    return {
        "telegram id": TELEGRAM_ID.encode(),
        "openid": OPENID.encode(),
        "console name": CONSOLE_NAME.encode(),
        "announcement": TEXT.encode(),
        "announcement fragment": TEXT[2:8].encode(),
        "announcement ascii": b"CANARY",
    }


async def fill(runtime: Core, clock: Clock) -> None:
    """Rows in every state: subscriptions, a planned occasion, pushes queued in the outbox (no sink
    runs), and a held reminder (the console holds)."""
    store = runtime.services.reminders.subscriptions
    async with runtime.database.transaction() as session:
        await store.save_many(
            session,
            [
                Subscription(f"telegram:{TELEGRAM_ID}", "main", "zh", 0, "21:00-08:00"),
                Subscription(f"wechat:{OPENID}", "main", "zh", 0),
                Subscription(f"console:{CONSOLE_NAME}", "main", "en", 0),
            ],
        )
    jobs = jobs_for(runtime, {})
    await announce(runtime, "queued", clock(), clock() + timedelta(days=1), text=TEXT)
    await jobs.job.run_once()
    await announce(runtime, "planned", clock(), clock() + timedelta(days=1), text=TEXT)
    await jobs.job.plan_due(clock())
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.reminders.book.waiting(session) == {"planned:main": 3}
        assert len(await runtime.services.outbox.pending(session)) == 2, "a Telegram push and a WeChat template queued"


def config(url: str, tmp_path: Path) -> Config:
    """A site whose WeChat workers outside 48 hours get a template message (so one is queued)."""
    return reminder_config(url, tmp_path / "data", wechat_template_id="tmpl-1")


def assert_absent(blob: bytes, where: str) -> None:
    for name, needle in canaries().items():
        assert needle not in blob, f"{name} found in {where}"


async def test_sqlite_file_wal_and_logs_hold_no_address_id_or_text(
    tmp_path: Path, keyring: KeyRing, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"sqlite+aiosqlite:///{tmp_path / 'hapbot.sqlite3'}"
    runtime = await build_core(config(url, tmp_path), keyring=keyring, clock=clock)
    await fill(runtime, clock)
    path = sqlite_path(url)
    assert path is not None
    wal_while_open = b"".join(p.read_bytes() for p in tmp_path.glob("hapbot.sqlite3*"))
    await runtime.close()
    files = {p.name: p.read_bytes() for p in tmp_path.glob("hapbot.sqlite3*")}
    assert b"reminder_subscriptions" in files["hapbot.sqlite3"]
    for name, blob in {**files, "wal while open": wal_while_open}.items():
        assert_absent(blob, name)
    assert_absent("\n".join(record.getMessage() for record in caplog.records).encode(), "logs")


@pytest.mark.postgres
async def test_pg_dump_holds_no_address_id_or_text(tmp_path: Path, keyring: KeyRing, clock: Clock) -> None:
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is needed for this test (install postgresql-client)")
    url = await create_pg_database()
    try:
        runtime = await build_core(config(url, tmp_path), keyring=keyring, clock=clock)
        await fill(runtime, clock)
        await runtime.close()
        parsed = make_url(url)
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
             "-U", parsed.username or "postgres", parsed.database or ""],
            capture_output=True, check=True, timeout=60,
        ).stdout
        for table in ("reminder_subscriptions", "reminder_due", "held_reminders", "outbox", "reminder_occasions"):
            assert f"COPY public.{table}".encode() in dump
        assert_absent(dump, "pg_dump")
    finally:
        await drop_pg_database(url)
