"""The case-deadline job's pass (it runs every minute) over many open cases on SQLite.

Files N open cases at one site (directly through the case repository, receipt hashing at its lowest
cost), then times: a pass with nothing due (the usual minute), the pass that queues a reminder for
every case, the pass after it (everything already recorded), and the pass that escalates them all.
The baseline is one plain ``SELECT`` of the same open cases in the same database, so the figures
read as "so many times a bare scan".

Usage: python bench/case_deadlines.py [--cases 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from bot.config import Config, load_config
from bot.core import build_core
from bot.jobs.case_deadlines import CaseDeadlineJob
from storage.crypto import KeyRing
from storage.receipts import new_receipt
from tests.conftest import QuickReceiptHasher


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def timed(run: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = await run  # type: ignore[misc]
    return time.perf_counter() - started, result


async def main(cases: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        raw = load_config(None, {}).model_dump(mode="python")
        raw["storage"]["url"] = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
        raw["bot"]["data_dir"] = Path(folder) / "data"
        raw["sites"] = {"main": {"name": "A", "hr_chats": ["telegram:-1"], "board_chats": ["telegram:-2"]}}
        clock = Clock()
        core = await build_core(Config.model_validate(raw), keyring=KeyRing.generate(), clock=clock,
                                hasher=QuickReceiptHasher())
        try:
            for start in range(0, cases, 500):
                async with core.database.transaction() as session:
                    for _ in range(start, min(cases, start + 500)):
                        await core.services.cases.create(
                            session, site="main", report={"what": ["x"], "involved": "coworker"}, contact=None,
                            receipt=new_receipt(), now=clock(),
                        )
            job = CaseDeadlineJob(core.database, core.services)

            async def bare() -> int:
                async with core.database.transaction(write=False) as session:
                    rows = await session.execute(text("SELECT id, status, next_due FROM cases WHERE status = 'new'"))
                    return len(rows.all())

            baseline, found = await timed(bare())
            assert found == cases
            idle, _ = await timed(job.run_once())
            clock.now += timedelta(days=6, hours=1)
            reminding, queued = await timed(job.run_once())
            again, none = await timed(job.run_once())
            clock.now += timedelta(days=1)
            escalating, escalated = await timed(job.run_once())
        finally:
            await core.close()
    print(f"open cases: {cases}; a bare SELECT of them: {baseline * 1000:.1f} ms")
    for name, seconds, count in (
        ("pass with nothing due", idle, 0),
        ("pass queueing every reminder", reminding, queued),
        ("pass after (all recorded)", again, none),
        ("pass escalating every case", escalating, escalated),
    ):
        print(f"{name:32s} {seconds * 1000:8.1f} ms  ({seconds / baseline:6.1f}x bare)  queued {count}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    asyncio.run(main(parser.parse_args().cases))
