"""One reminder to 10,000 subscribed workers through the real PTB Application against the Bot API
emulator (run in its own process, enforcing the same flood limits), with the Telegram rate limit
set to 200 messages a second.

Prints the achieved rate as a fraction of the limit (first to last accepted send, as the emulator
saw them; aim >= 0.9), duplicates (workers who got it more than once: 0 without a crash), 429s,
the time to plan the occasion (one due row per worker) and to settle it into the outbox, and the
peak RSS of this process, which runs the whole bot side: core, APScheduler ticking the reminder
job and sender, PTB and its HTTP pool.

Usage: python bench/broadcast.py [--workers 10000] [--rate 200] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.channels.telegram.setup import build_application
from bot.channels.telegram.sink import TelegramSink
from bot.config import Config, load_config
from bot.core import Core, build_core
from bot.jobs import SECOND, Job, JobDeps, reminder_job, reminder_sender
from bot.jobs.broadcast import SENDS_AT_ONCE
from bot.jobs.scheduler import run_due_work
from bot.jobs.schedules import ReminderSchedules
from bot.serve import push_windows, rate_limiters
from storage.crypto import KeyRing
from storage.reminders import Content, Occasion
from storage.subscriptions import Subscription
from tests.telegram_emulator import EmulatorProcess, RemoteEmulator

FACTS = ("advocacy_board", "counselling_service", "handbook_location", "hr_contact", "training_schedule")
OCCASION = "bench:main"
CONCURRENCY = SENDS_AT_ONCE


def bench_config(url: str, data_dir: Path, emu: RemoteEmulator, rate: int) -> Config:
    raw = load_config(None, {}).model_dump(mode="python")
    raw["storage"]["url"] = url
    raw["bot"]["data_dir"] = data_dir
    raw["sites"] = {
        "main": {
            "name": {"zh": "一号厂", "en": "Factory One"},
            "facts": {key: key for key in FACTS},
            "reminders": {"onboarding": {"enabled": False}},
        }
    }
    raw["reminders"] = {"batch_size": rate, "send_lease_seconds": 120, "grace_hours": 6}
    raw["telegram"] = {
        "enabled": True,
        "token": emu.token,
        "api_base_url": emu.base_url,
        "api_file_url": emu.base_file_url,
        "messages_per_second": rate,
    }
    return Config.model_validate(raw)


async def subscribe(core: Core, ids: list[int]) -> None:
    store = core.services.reminders.subscriptions
    for start in range(0, len(ids), 2000):
        async with core.database.transaction() as session:
            chunk = ids[start : start + 2000]
            await store.save_many(session, [Subscription(f"telegram:{i}", "main", "zh", 0) for i in chunk])


async def bare_ptb_rate(config: Config, emu: RemoteEmulator, messages: int, concurrency: int) -> float:
    """The baseline: the same PTB Application sending to the same emulator, as many at a time as
    the reminder sender, with no database, no limiter and no bookkeeping. Under the limit it is
    the ceiling this machine allows right now (other work on it counts)."""
    ids = emu.create_started_users(messages)
    application = build_application(config.telegram)
    await application.initialize()
    gate = asyncio.Semaphore(concurrency)

    async def one(chat: int) -> None:
        async with gate:
            await application.bot.send_message(chat_id=chat, text="培训提醒：基准测试")

    started = time.perf_counter()
    await asyncio.gather(*(one(chat) for chat in ids))
    elapsed = time.perf_counter() - started
    await application.shutdown()
    return messages / elapsed


async def sent_so_far(core: Core) -> int:
    async with core.database.transaction(write=False) as session:
        return (await core.services.reminders.book.counts(session)).get(OCCASION, {}).get("sent", 0)


async def broadcast(core: Core, emu: RemoteEmulator, workers: int, rate: int) -> None:
    config = core.config
    emu.enforce_flood_limits(enabled=False)
    baseline = await bare_ptb_rate(config, emu, min(workers, 2000), CONCURRENCY)
    emu.clear_calls()
    emu.enforce_flood_limits(overall=(rate, 1.0))
    ids = emu.create_started_users(workers)
    await subscribe(core, ids)
    application = build_application(config.telegram)
    await application.initialize()
    stop = asyncio.Event()
    deps = JobDeps(
        core.database,
        core.services,
        {"telegram": TelegramSink(application.bot)},
        {},
        push_windows(),
        ReminderSchedules.from_config(config),
        rate_limiters(config),
        stop,
    )
    job, sender = reminder_job(deps), reminder_sender(deps)
    now = core.services.clock()
    text = "周五下午三点消防演练，请到食堂二楼集合。"
    content = Content({"zh": text, "en": text})
    occasion = Occasion(OCCASION, "bench", "main", now, now + timedelta(hours=6), content=content)
    async with core.database.transaction() as session:
        await core.services.reminders.book.add_occasion(session, occasion)

    started = time.perf_counter()
    planned = await job.plan_due(core.services.clock())
    plan_seconds = time.perf_counter() - started
    started = time.perf_counter()
    while await job.settle_due(core.services.clock()):
        pass
    settle_seconds = time.perf_counter() - started

    jobs = [Job("reminders", every=SECOND, run_once=job.run_once), Job("sends", every=SECOND, run_once=sender.run_once)]
    ticking = asyncio.create_task(run_due_work(jobs, stop))
    deadline = time.monotonic() + workers / rate * 3 + 60
    while await sent_so_far(core) < workers and time.monotonic() < deadline:  # noqa: ASYNC110 (polls the store)
        await asyncio.sleep(0.5)
    stop.set()
    await ticking
    await application.shutdown()

    calls = emu.calls("sendMessage")
    accepted = [call for call in calls if call["ok"]]
    refused = [call for call in calls if call["error_code"] == 429]
    per_chat = Counter(str(call["params"]["chat_id"]) for call in accepted)
    duplicates = sum(n - 1 for n in per_chat.values())
    times = sorted(call["wall_time"] for call in accepted)
    achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    ceiling = min(rate, baseline)
    print(f"workers {workers}, planned {planned}, delivered to {len(per_chat)}, limit {rate} msgs/s")
    print(f"bare PTB sends       {baseline:8.1f} msgs/s ({CONCURRENCY} at a time, no limit: the ceiling here now)")
    print(f"achieved rate        {achieved:8.1f} msgs/s = {achieved / rate:.2f} of the limit, "
          f"{achieved / ceiling:.2f} of min(limit, bare PTB)")
    print(f"duplicates           {duplicates:8d}")
    print(f"429 answers          {len(refused):8d}")
    print(f"time to plan         {plan_seconds:8.2f} s ({workers / plan_seconds:,.0f} workers/s)")
    print(f"time to settle       {settle_seconds:8.2f} s (due rows into outbox pushes)")
    print(f"peak RSS             {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MiB")


async def main(args: argparse.Namespace) -> None:
    with EmulatorProcess() as process, tempfile.TemporaryDirectory() as tmp:
        emu = process.emulator
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        if args.postgres:
            from tests.conftest import create_pg_database, drop_pg_database

            url = await create_pg_database()
        core = await build_core(bench_config(url, Path(tmp), emu, args.rate), keyring=KeyRing.generate())
        print(f"database {core.database.dialect}")
        try:
            await broadcast(core, emu, args.workers, args.rate)
        finally:
            await core.close()
            if args.postgres:
                await drop_pg_database(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL at HAPBOT_TEST_PG instead of SQLite")
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    asyncio.run(main(parser.parse_args()))
