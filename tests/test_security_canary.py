"""After a report carrying a canary, neither the database bytes nor the logs reveal it or the worker."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.core import Core, build_core
from storage.crypto import KeyRing
from storage.database import sqlite_path

from .conftest import Clock, Worker, make_config
from .flows import receipt_in, report_script

CANARY = "金丝雀灌饼在三号车间的秘密"
WORKER_NAME = "worker-id-77881234"


async def file_canary_report(runtime: Core) -> tuple[str, Worker]:
    worker = Worker(runtime, WORKER_NAME, language="zh")
    await worker.send("/start")
    for line in report_script([CANARY, f"witness {CANARY}"], notify="notify_yes"):
        await worker.send(line.get("text"), choice=line.get("choice"))
    receipt = receipt_in(worker.text)
    # Follow-up traffic that touches every sealed table: a wrong receipt, a right one, added info.
    await worker.choose("status")
    await worker.send("ABCD-EFGH-JKMN-PQRS")
    await worker.send(receipt)
    await worker.choose("add_info")
    await worker.send(f"more {CANARY}")
    return receipt, worker


def forbidden(receipt: str) -> dict[str, bytes]:
    return {
        "canary": CANARY.encode(),
        "canary fragment": CANARY[2:8].encode(),
        "worker id": WORKER_NAME.encode(),
        "receipt": receipt.encode(),
        "receipt without dashes": receipt.replace("-", "").encode(),
    }


def assert_absent(blob: bytes, receipt: str, where: str) -> None:
    for name, needle in forbidden(receipt).items():
        assert needle not in blob, f"{name} found in {where}"


async def test_sqlite_file_wal_and_logs_hold_no_canary(
    tmp_path: Path, keyring: KeyRing, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # An earlier test in this process may have run the CLI, whose logging set-up quiets the
    # libraries (bot.logs.QUIET); here even their DEBUG records are read for the canary.
    for name in ("aiosqlite", "alembic", "sqlalchemy"):
        caplog.set_level(logging.DEBUG, logger=name)
    url = f"sqlite+aiosqlite:///{tmp_path / 'hapbot.sqlite3'}"
    runtime = await build_core(make_config(url, tmp_path / "data"), keyring=keyring, clock=Clock())
    receipt, _ = await file_canary_report(runtime)
    path = sqlite_path(url)
    assert path is not None
    # Read the WAL while the engine is open (before a checkpoint folds it into the file), then after.
    wal_while_open = b"".join(p.read_bytes() for p in tmp_path.glob("hapbot.sqlite3*"))
    assert Path(f"{path}-wal").exists(), "WAL mode must be in force"
    await runtime.close()
    files = {p.name: p.read_bytes() for p in tmp_path.glob("hapbot.sqlite3*")}
    assert files["hapbot.sqlite3"], "database file is empty"
    for name, blob in {**files, "wal while open": wal_while_open}.items():
        assert_absent(blob, receipt, name)
    logged = "\n".join(record.getMessage() for record in caplog.records).encode()
    assert logged, "expected some log records at DEBUG"
    assert_absent(logged, receipt, "logs")


@pytest.mark.slow
@pytest.mark.postgres
async def test_pg_dump_and_logs_hold_no_canary(
    tmp_path: Path, keyring: KeyRing, caplog: pytest.LogCaptureFixture
) -> None:
    from .conftest import create_pg_database, drop_pg_database

    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is needed for this test (install postgresql-client)")
    caplog.set_level(logging.DEBUG)
    url = await create_pg_database()
    try:
        runtime = await build_core(make_config(url, tmp_path / "data"), keyring=keyring, clock=Clock())
        receipt, _ = await file_canary_report(runtime)
        await runtime.close()
        parsed = make_url(url)
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
             "-U", parsed.username or "postgres", parsed.database or ""],
            capture_output=True, check=True, timeout=60,
        ).stdout
        assert b"COPY public.cases" in dump and b"COPY public.conversations" in dump
        assert_absent(dump, receipt, "pg_dump")
        logged = "\n".join(record.getMessage() for record in caplog.records).encode()
        assert_absent(logged, receipt, "logs")
    finally:
        await drop_pg_database(url)
