"""Verifying a long audit chain: appends N entries through ``storage.audit.record`` (in batches of
one transaction each, as the commit hook chains them), then runs ``storage.audit.verify_chain``
over the whole chain and prints entries per second for both, and the baseline of merely reading
the same rows in position order (so the cost of hashing and MACs shows as a ratio).

Usage: python bench/audit_verify.py [--entries 100000] [--batch 1000] [--postgres URL]
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

from sqlalchemy import select, text

from storage import audit
from storage.database import Database
from storage.migrate import upgrade_to_head
from storage.models import AuditEntry

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def bench(url: str, key_dir: Path, entries: int, batch: int) -> None:
    database = Database(url)
    try:
        await upgrade_to_head(database)
        if database.dialect == "postgresql":
            async with database.transaction() as session:
                await session.execute(text("TRUNCATE audit_log, audit_chain_head"))
        await audit.open_chain(database, key_dir / "audit.key")
        started = time.perf_counter()
        for first in range(0, entries, batch):
            async with database.transaction() as session:
                for n in range(first, min(first + batch, entries)):
                    at = T0 + timedelta(seconds=n)
                    await audit.record(session, f"hr-{n % 7}", "read", f"HAP-{n % 999999:06d}", at)
        appended = time.perf_counter() - started
        started = time.perf_counter()
        async with database.transaction(write=False) as session:
            stream = await session.stream(
                select(AuditEntry.position, AuditEntry.entry_hash, AuditEntry.mac)
                .order_by(AuditEntry.position)
                .execution_options(yield_per=audit.VERIFY_BATCH)
            )
            read = sum([1 async for _ in stream])
        reading = time.perf_counter() - started
        started = time.perf_counter()
        verdict = await audit.verify_chain(database)
        verifying = time.perf_counter() - started
    finally:
        await database.dispose()
    assert verdict.ok and verdict.entries == entries == read, verdict.describe()
    print(f"database: {database.dialect}; entries: {entries}")
    print(f"append (batches of {batch}): {entries / appended:,.0f} entries/s")
    print(f"read only (baseline):        {entries / reading:,.0f} entries/s")
    print(f"verify_chain:                {entries / verifying:,.0f} entries/s "
          f"({verifying:.2f} s; {verifying / reading:.1f}x the plain read)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (its audit tables are emptied)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.postgres or f"sqlite+aiosqlite:///{Path(directory) / 'bench.sqlite3'}"
        asyncio.run(bench(url, Path(directory) / "keys", args.entries, args.batch))


if __name__ == "__main__":
    main()
