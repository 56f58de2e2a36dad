"""The weekly digest's cost on SQLite: working out one site's figures over N cases (every report is
opened, as the HR/board split needs), beside listing the same cases without opening them; drawing
the chart (matplotlib's first import and a warm render apart); the PNG's size; peak RSS.

Usage: python bench/digest.py [--cases 500] [--renders 5]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Config, load_config  # noqa: E402
from bot.core import build_core  # noqa: E402
from handlers.digest import Week, digest_figures  # noqa: E402
from storage.crypto import KeyRing  # noqa: E402
from storage.receipts import ReceiptHasher, new_receipt  # noqa: E402

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CATEGORIES = ["verbal", "physical", "messages", "quid_pro_quo", "other"]


class QuickHasher(ReceiptHasher):
    def __init__(self) -> None:
        import argon2

        self._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def config_for(directory: Path) -> Config:
    config = load_config(None, {})
    raw = config.model_dump(mode="python")
    raw["storage"]["url"] = f"sqlite+aiosqlite:///{directory / 'bench.sqlite3'}"
    raw["bot"]["data_dir"] = directory
    raw["sites"]["main"]["hr_chats"] = ["telegram:-1001"]
    return Config.model_validate(raw)


async def main(cases: int, renders: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        core = await build_core(config_for(Path(folder)), keyring=KeyRing.generate(), clock=lambda: NOW,
                                hasher=QuickHasher())
        try:
            async with core.database.transaction() as session:
                for n in range(cases):
                    report = {"category": CATEGORIES[n % 5], "involved": "supervisor" if n % 7 == 0 else "coworker"}
                    at = NOW - timedelta(hours=n * 3)
                    await core.services.cases.create(
                        session, site="main", report=report, contact=None, receipt=new_receipt(), now=at
                    )
            week = Week.containing(NOW, ZoneInfo("Asia/Shanghai")).previous(ZoneInfo("Asia/Shanghai"))
            listing, figures_times = [], []
            for _ in range(5):
                async with core.database.transaction(write=False) as session:
                    start = time.perf_counter()
                    await core.services.cases.find(session, site="main")
                    listing.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    figures = await digest_figures(session, core.services, "main", week, "hr")
                    figures_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            from bot.jobs.digest_chart import digest_chart_png

            png = digest_chart_png(figures, core.services.translators, {"zh": "一号厂", "en": "Factory One"})
            first = time.perf_counter() - start
            warm = []
            for _ in range(renders):
                start = time.perf_counter()
                png = digest_chart_png(figures, core.services.translators, {"zh": "一号厂", "en": "Factory One"})
                warm.append(time.perf_counter() - start)
        finally:
            await core.close()
    listed, worked = statistics.median(listing), statistics.median(figures_times)
    print(f"cases: {cases}")
    print(f"list the site's cases (baseline): {listed * 1000:.1f} ms")
    print(f"digest figures (open every report): {worked * 1000:.1f} ms ({worked / listed:.1f}x the listing)")
    print(f"chart, first render incl. matplotlib import: {first:.2f} s")
    print(f"chart, warm render (median of {renders}): {statistics.median(warm):.2f} s; PNG {len(png) / 1024:.0f} KiB")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--renders", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.renders))
