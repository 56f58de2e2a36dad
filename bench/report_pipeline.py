"""Report pipeline throughput on SQLite and PostgreSQL, beside a bare-transaction baseline.

Prints, for each database:
  * conversation messages per second through the core (Dispatcher: lock, unseal, route, seal, commit),
  * the baseline: bare write transactions per second doing the same lock + one-row upsert, no crypto,
    no routing, so the ratio shows what the core costs on top of the database's own commit rate,
  * whole reports per second, submit included (argon2id receipt hash at full strength),
  * the PRAGMAs or server settings in force,
and once: the receipt-hash time on its own line, and the process's peak RSS.

Usage: python bench/report_pipeline.py [--workers 50] [--messages 10] [--reports 40] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.channels.console import ConsoleChannel, console_user_key
from bot.config import Config
from bot.core import Core, build_core
from storage.crypto import KeyRing
from storage.database import Database
from storage.receipts import ReceiptHasher, new_receipt

PG_URL = os.environ.get("HAPBOT_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REPORT = [
    ("text", "/start"), ("choice", "report"), ("choice", "agree"), ("text", "组长在车间里动手动脚"),
    ("choice", "done"), ("choice", "physical"), ("choice", "this_week"), ("choice", "workshop"),
    ("choice", "coworker"), ("choice", "skip"), ("choice", "normal"), ("choice", "notify_no"), ("choice", "submit"),
]


def config_for(url: str, data_dir: Path) -> Config:
    return Config.model_validate({"storage": {"url": url}, "bot": {"data_dir": str(data_dir)}})


async def send(channel: ConsoleChannel, runtime: Core, kind: str, value: str) -> None:
    outcome = await channel.send(value if kind == "text" else None, value if kind == "choice" else None)
    if outcome.needs_delivery_confirmation:
        await runtime.dispatcher.confirm_delivery(channel.user_key)


async def bench_messages(runtime: Core, workers: int, per_worker: int) -> float:
    """Messages/s while ``workers`` workers each append ``per_worker`` messages to their draft."""
    channels = []
    for index in range(workers):
        channel = ConsoleChannel(runtime.dispatcher, runtime.crypto, runtime.services.clock, user=f"m{index}")
        for kind, value in REPORT[:3]:
            await send(channel, runtime, kind, value)
        channels.append(channel)

    async def talk(channel: ConsoleChannel) -> None:
        for number in range(per_worker):
            await channel.send(f"第{number}条：他又说了那些话")

    started = time.perf_counter()
    await asyncio.gather(*(talk(c) for c in channels))
    return workers * per_worker / (time.perf_counter() - started)


async def bench_baseline(database: Database, crypto_user_keys: list[str], per_worker: int) -> float:
    """Bare write transactions/s with the same per-user lock and a one-row upsert, no crypto."""
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS bench_rows (k VARCHAR(64) PRIMARY KEY, v BYTEA)")
                              if database.dialect == "postgresql" else
                              text("CREATE TABLE IF NOT EXISTS bench_rows (k VARCHAR(64) PRIMARY KEY, v BLOB)"))
    payload = secrets.token_bytes(600)

    async def talk(user_key: str) -> None:
        for _ in range(per_worker):
            async with database.transaction() as session:
                await database.lock_user(session, user_key)
                await session.execute(
                    text("INSERT INTO bench_rows (k, v) VALUES (:k, :v) ON CONFLICT (k) DO UPDATE SET v = :v"),
                    {"k": user_key, "v": payload},
                )

    started = time.perf_counter()
    await asyncio.gather(*(talk(k) for k in crypto_user_keys))
    return len(crypto_user_keys) * per_worker / (time.perf_counter() - started)


async def bench_reports(runtime: Core, reports: int, concurrency: int) -> float:
    """Whole reports/s, from /start to the receipt, ``concurrency`` workers at a time."""
    queue = list(range(reports))

    async def reporter() -> None:
        while queue:
            index = queue.pop()
            channel = ConsoleChannel(runtime.dispatcher, runtime.crypto, runtime.services.clock, user=f"r{index}")
            for kind, value in REPORT:
                await send(channel, runtime, kind, value)

    started = time.perf_counter()
    await asyncio.gather(*(reporter() for _ in range(concurrency)))
    return reports / (time.perf_counter() - started)


async def run_one(name: str, url: str, data_dir: Path, keyring: KeyRing, args: argparse.Namespace) -> None:
    runtime = await build_core(config_for(url, data_dir), keyring=keyring)
    try:
        messages = await bench_messages(runtime, args.workers, args.messages)
        user_keys = [console_user_key(runtime.crypto, f"b{i}") for i in range(args.workers)]
        baseline = await bench_baseline(runtime.database, user_keys, args.messages)
        reports = await bench_reports(runtime, args.reports, args.concurrency)
        pragmas = await runtime.database.pragmas()
    finally:
        await runtime.close()
    print(f"[{name}] settings: " + ", ".join(f"{k}={v}" for k, v in pragmas.items()))
    print(f"[{name}] conversation messages/s through the core: {messages:8.0f}")
    ratio = messages / baseline
    print(f"[{name}] baseline bare transactions/s (lock + upsert): {baseline:8.0f}   core/baseline = {ratio:.2f}")
    print(f"[{name}] whole reports/s (13 messages, submit with argon2id): {reports:6.2f}")


async def create_pg() -> str | None:
    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        print(f"[postgresql] skipped: {type(error).__name__}")
        return None
    name = f"hapbot_bench_{secrets.token_hex(4)}"
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def drop_pg(url: str) -> None:
    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=5)
    await connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    await connection.close()


async def main(args: argparse.Namespace) -> None:
    keyring = KeyRing.generate()
    hasher = ReceiptHasher()
    samples = []
    for _ in range(10):
        receipt = new_receipt()
        started = time.perf_counter()
        hasher.hash(receipt)
        samples.append(time.perf_counter() - started)
    print(f"receipt hash ({hasher!r}): median {statistics.median(samples) * 1000:.1f} ms")
    with tempfile.TemporaryDirectory() as directory:
        sqlite_url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.sqlite3'}"
        await run_one("sqlite", sqlite_url, Path(directory), keyring, args)
        if not args.no_postgres:
            pg_url = await create_pg()
            if pg_url:
                try:
                    await run_one("postgresql", pg_url, Path(directory), keyring, args)
                finally:
                    await drop_pg(pg_url)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS: {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--reports", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-postgres", action="store_true")
    asyncio.run(main(parser.parse_args()))
