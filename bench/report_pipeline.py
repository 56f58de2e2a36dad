"""The conversation core on SQLite and PostgreSQL, beside bare transactions, in two processes.

For each database, two child processes take turns (A B A B …), so both see the same load:

* **core**: the bot's core (dispatcher: lock, unseal, intake and route, seal, commit) with the FAQ
  loaded and receipts hashed with argon2id at full strength, driven through the console channel
  by many workers at once, with realistic traffic: per 100 messages, 10 new workers' first
  messages, 60 draft messages, 5 submits, 5 status lookups with a real receipt, 20 FAQ questions
  (workers are brought to their step between rounds, not timed);
* **bare**: the baseline, a bare write transaction per message with the same per-worker lock and a
  one-row upsert of the same size, no crypto, no routing, as many workers at once.

Prints messages/s, p50/p99 latency per message over at least ``--samples`` messages a side, the
ratio, each child's VmRSS and peak (VmHWM), the PRAGMAs or server settings in force, whole reports
per second (13 messages from /start to the receipt, submit included, 8 reporters at a time), the
receipt-hash time, and the load average.

Usage: python bench/report_pipeline.py [--samples 1000] [--round 200] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from steady import like_hapbot_run  # noqa: E402
from telegram_updates import (  # noqa: E402
    DRAFT_MESSAGES_PER_WORKER,
    MIX,
    QUESTIONS,
    Child,
    load_average,
    memory_kib,
    percentile,
)

PG_URL = os.environ.get("HAPBOT_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
Message = tuple[str, str, str | None, str | None]  # (kind, worker, text, choice)


def plan_for(count: int) -> dict[str, int]:
    plan = {kind: count * share // 100 for kind, share in MIX.items()}
    plan["draft"] += count - sum(plan.values())
    return plan


class CoreSide:
    """The core through console channels, and workers standing at every step the mix needs."""

    def __init__(self, url: str, directory: str) -> None:
        self.url, self.directory = url, directory
        self.random = random.Random(11)
        self.serial = 0
        self.drafting: dict[str, int] = {}
        self.reviewing: list[str] = []
        self.asking_faq: list[str] = []
        self.receipts: list[str] = []
        self.channels: dict[str, Any] = {}

    async def start(self) -> dict[str, Any]:
        from bot.config import Config
        from bot.core import build_core, load_faq
        from storage.crypto import KeyRing

        config = Config.model_validate({"storage": {"url": self.url}, "bot": {"data_dir": self.directory}})
        self.core = await build_core(config, keyring=KeyRing.generate(), faq=load_faq(config))
        return {"settings": await self.core.database.pragmas()}

    def _channel(self, user: str) -> Any:
        from bot.channels.console import ConsoleChannel

        if user not in self.channels:
            core = self.core
            self.channels[user] = ConsoleChannel(core.dispatcher, core.crypto, core.services.clock, user=user)
        return self.channels[user]

    def _new(self) -> str:
        self.serial += 1
        return f"w{self.serial}"

    async def send(self, user: str, text: str | None, choice: str | None) -> str:
        """One message; returns the replies' text (after a receipt, the delivery is confirmed)."""
        from tests.flows import RECEIPT_LINE

        channel = self._channel(user)
        outcome = await channel.send(text, choice)
        if outcome.needs_delivery_confirmation:
            await self.core.dispatcher.confirm_delivery(channel.user_key)
        shown = "\n".join(reply.text for reply in outcome.replies)
        if outcome.needs_delivery_confirmation:
            self.receipts += RECEIPT_LINE.findall(shown)[-1:]
        return shown

    async def _walk(self, scripts: dict[str, list[dict[str, str]]]) -> None:
        async def walk(user: str, script: list[dict[str, str]]) -> None:
            for step in script:
                await self.send(user, step.get("text"), step.get("choice"))

        await asyncio.gather(*(walk(user, script) for user, script in scripts.items()))

    async def prepare(self, plan: dict[str, int]) -> list[Message]:
        """Brings workers to their step (untimed); returns the round's messages, shuffled."""
        from tests.flows import report_script

        report = [{"text": "/start"}, *report_script(["组长在车间里动手动脚"])]
        scripts: dict[str, list[dict[str, str]]] = {}
        while sum(self.drafting.values()) < plan["draft"]:
            user = self._new()
            scripts[user] = [{"text": "/start"}, {"choice": "report"}, {"choice": "agree"}]
            self.drafting[user] = DRAFT_MESSAGES_PER_WORKER
        reviewers = [self._new() for _ in range(max(0, plan["submit"] - len(self.reviewing)))]
        for user in reviewers:
            scripts[user] = report[:-1]
        for _ in range(0 if self.receipts else max(1, plan["status"])):
            scripts[self._new()] = report
        for _ in range(max(0, plan["faq"] // 4 + 1 - len(self.asking_faq))):
            user = self._new()
            scripts[user] = [{"text": "/start"}, {"text": "/faq"}]
            self.asking_faq.append(user)
        lookers = [self._new() for _ in range(plan["status"])]
        scripts.update({user: [{"text": "/start"}, {"text": "/status"}] for user in lookers})
        await self._walk(scripts)
        self.reviewing += reviewers
        drafters = [user for user, left in self.drafting.items() for _ in range(left)]
        self.random.shuffle(drafters)
        messages: list[Message] = [("new", self._new(), "/start", None) for _ in range(plan["new"])]
        for user in drafters[: plan["draft"]]:
            self.drafting[user] -= 1
            messages.append(("draft", user, f"他又说了那些话（{self.drafting[user]}）", None))
        self.drafting = {user: left for user, left in self.drafting.items() if left > 0}
        submitters, self.reviewing = self.reviewing[: plan["submit"]], self.reviewing[plan["submit"] :]
        messages += [("submit", user, None, "submit") for user in submitters]
        messages += [("status", user, self.random.choice(self.receipts), None) for user in lookers]
        messages += [("faq", self.random.choice(self.asking_faq), self.random.choice(QUESTIONS), None)
                     for _ in range(plan["faq"])]
        self.random.shuffle(messages)
        return messages

    async def round(self, count: int) -> tuple[list[float], float]:
        messages = await self.prepare(plan_for(count))
        per_worker: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            per_worker[message[1]].append(message)
        latencies: list[float] = []

        async def talk(items: list[Message]) -> None:
            for _, user, text, choice in items:
                started = time.perf_counter()
                await self.send(user, text, choice)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(talk(items) for items in per_worker.values()))
        return latencies, time.perf_counter() - started

    async def reports(self, count: int, concurrency: int) -> float:
        """Whole reports/s, from /start to the receipt, ``concurrency`` reporters at a time."""
        from tests.flows import report_script

        script = [{"text": "/start"}, *report_script(["组长在车间里动手动脚"])]
        queue = [self._new() for _ in range(count)]

        async def reporter() -> None:
            while queue:
                user = queue.pop()
                for step in script:
                    await self.send(user, step.get("text"), step.get("choice"))

        started = time.perf_counter()
        await asyncio.gather(*(reporter() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


class BareSide:
    """Bare write transactions: the per-worker lock and a one-row upsert, nothing else."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.payload = secrets.token_bytes(600)

    async def start(self) -> dict[str, Any]:
        from sqlalchemy import text

        from storage.database import Database

        self.database = Database(self.url)
        blob = "BYTEA" if self.database.dialect == "postgresql" else "BLOB"
        async with self.database.transaction() as session:
            await session.execute(text(f"CREATE TABLE IF NOT EXISTS bench_rows (k VARCHAR(64) PRIMARY KEY, v {blob})"))
        return {"settings": {}}

    async def round(self, count: int) -> tuple[list[float], float]:
        from sqlalchemy import text

        workers = max(1, count * 40 // 100)  # about as many workers at once as the core side has
        latencies: list[float] = []

        async def talk(user_key: str, messages: int) -> None:
            for _ in range(messages):
                started = time.perf_counter()
                async with self.database.transaction() as session:
                    await self.database.lock_user(session, user_key)
                    await session.execute(
                        text("INSERT INTO bench_rows (k, v) VALUES (:k, :v) ON CONFLICT (k) DO UPDATE SET v = :v"),
                        {"k": user_key, "v": self.payload},
                    )
                latencies.append(time.perf_counter() - started)

        shares = [count // workers + (1 if index < count % workers else 0) for index in range(workers)]
        started = time.perf_counter()
        await asyncio.gather(*(talk(f"bare{index}", share) for index, share in enumerate(shares)))
        return latencies, time.perf_counter() - started


async def child(role: str, database: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        if role == "core":
            like_hapbot_run(directory)
        side: CoreSide | BareSide = CoreSide(database, directory) if role == "core" else BareSide(database)
        ready = await side.start()
        print(json.dumps({**ready, **memory_kib()}), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            request = json.loads(line)
            if request.get("reports"):
                assert isinstance(side, CoreSide)
                rate = await side.reports(request["reports"], request["concurrency"])
                print(json.dumps({"rate": rate, **memory_kib()}), flush=True)
                continue
            latencies, elapsed = await side.round(request["count"])
            print(json.dumps({"latencies": latencies, "elapsed": elapsed, **memory_kib()}), flush=True)


def describe(latencies: list[float], elapsed: float) -> str:
    return (f"{len(latencies) / elapsed:8.0f} messages/s   p50 {statistics.median(latencies) * 1000:7.1f} ms"
            f"   p99 {percentile(latencies, 0.99) * 1000:7.1f} ms")


async def compare(name: str, url: str, args: argparse.Namespace) -> None:
    core, ready = await Child.start("core", url, __file__)
    bare, _ = await Child.start("bare", url, __file__)
    results: dict[str, tuple[list[float], float]] = {"core": ([], 0.0), "bare": ([], 0.0)}
    last: dict[str, dict[str, Any]] = {}
    try:
        for _ in range(-(-args.samples // args.round)):
            for role, side in (("core", core), ("bare", bare)):
                answer = await side.ask({"count": args.round})
                latencies, elapsed = results[role]
                results[role] = (latencies + answer["latencies"], elapsed + answer["elapsed"])
                last[role] = answer
        reports = await core.ask({"reports": args.reports, "concurrency": args.concurrency})
    finally:
        await core.stop()
        await bare.stop()
    core_rate = len(results["core"][0]) / results["core"][1]
    bare_rate = len(results["bare"][0]) / results["bare"][1]
    print(f"[{name}] settings: " + ", ".join(f"{k}={v}" for k, v in ready["settings"].items()))
    print(f"[{name}] {len(results['core'][0])} messages a side, rounds of {args.round} alternating, "
          f"load {load_average()}")
    print(f"[{name}]   bare transactions (lock + upsert): {describe(*results['bare'])}")
    print(f"[{name}]   the core, mixed traffic          : {describe(*results['core'])}"
          f"   core/bare = {core_rate / bare_rate:.3f}")
    print(f"[{name}] whole reports/s (13 messages, submit with argon2id, {args.concurrency} at a time):"
          f" {reports['rate']:6.2f}")
    print(f"[{name}] RSS: core process idle {ready['VmRSS'] / 1024:.0f} MiB, now {reports['VmRSS'] / 1024:.0f} MiB,"
          f" peak {reports['VmHWM'] / 1024:.0f} MiB; bare process peak {last['bare']['VmHWM'] / 1024:.0f} MiB")


async def create_pg() -> str | None:
    import asyncpg
    from sqlalchemy.engine import make_url

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
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=5)
    await connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    await connection.close()


async def main(args: argparse.Namespace) -> None:
    from storage.receipts import ReceiptHasher, new_receipt

    print(f"load average at start: {load_average()}   cores: {os.cpu_count()}")
    hasher = ReceiptHasher()
    samples = []
    for _ in range(10):
        receipt = new_receipt()
        started = time.perf_counter()
        hasher.hash(receipt, "0" * 32)
        samples.append(time.perf_counter() - started)
    print(f"receipt hash ({hasher!r}): median {statistics.median(samples) * 1000:.1f} ms")
    with tempfile.TemporaryDirectory() as directory:
        await compare("sqlite", f"sqlite+aiosqlite:///{Path(directory) / 'bench.sqlite3'}", args)
    if not args.no_postgres:
        pg_url = await create_pg()
        if pg_url:
            try:
                await compare("postgresql", pg_url, args)
            finally:
                await drop_pg(pg_url)
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1000, help="timed messages per database and side")
    parser.add_argument("--round", type=int, default=200, help="messages per round (rounds alternate core/bare)")
    parser.add_argument("--reports", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--child", choices=["core", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        asyncio.run(child(arguments.child, arguments.database))
    else:
        asyncio.run(main(arguments))
