"""Retention, proven: a finished case past ``retention_days`` is crypto-shredded, and afterwards its
wrapped data key, its ciphertexts and its canaries (report text, evidence bytes, an HR reply) are
in no database file: not SQLite's file, WAL or shared memory, not a pg_dump, not PostgreSQL's own
relation files. The audit entries about it stay, and the chain still verifies. Handlers see the
cases due within a week; ``hapbot cases purge --dry-run`` lists them, ``purge`` purges, audited."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.cli.cases import run as run_cases
from bot.config import Config
from bot.core import Core
from bot.jobs.cleaner import Cleaner
from storage import audit, retention
from storage.cases import Author, CaseStatus
from storage.crypto import KeyRing
from storage.database import Database, sqlite_path
from storage.evidence import hour_number
from storage.models import AuditEntry, Case, CaseMessage, Evidence
from storage.retention import due_for_purge, reclaim_space

from .conftest import Clock
from .desk_kit import QuickPasswordHasher, enrolled_account, terminal

REPORT = "金丝雀报告：CANARY-REPORT-7f3e 在三号车间"
EVIDENCE = b"\x89PNG\r\n\x1a\nCANARY-EVIDENCE-51c2" + bytes(range(256)) * 8
REPLY = "CANARY-REPLY-a9d0 谢谢你的报告"
DAYS = 730


async def file_case(
    runtime: Core, clock: Clock, status: CaseStatus = CaseStatus.CLOSED
) -> tuple[str, dict[str, bytes]]:
    """A case with a report, an evidence file and an HR reply, left in ``status``; returns its
    reference and the bytes that must vanish with it (its wrapped key and ciphertexts)."""
    services = runtime.services
    issued = await services.cases.issue_receipt()
    async with runtime.database.transaction() as session:
        case = await services.cases.create(
            session, site="main", report={"what": REPORT}, contact=None, receipt=issued, now=clock()
        )
        draft = await services.evidence.store_draft_file(session, EVIDENCE, "image/png", hour_number(clock()) + 24)
        await services.evidence.adopt(session, case.id, [draft], clock())
        await services.cases.add_message(session, case.id, Author.HR, REPLY, clock())
        await services.cases.set_status(session, case.id, status, clock())
        await audit.record(session, "wang", "read", case.reference, clock())
    async with runtime.database.transaction(write=False) as session:
        row = await session.get(Case, case.id)
        assert row is not None
        reply = (await session.execute(select(CaseMessage.body_ct).where(CaseMessage.case_id == case.id))).scalar_one()
        evidence = (await session.execute(select(Evidence.data_ct).where(Evidence.case_id == case.id))).scalar_one()
    return case.reference, {
        "wrapped key": row.wrapped_key,
        "report ciphertext": row.report_ct,
        "reply ciphertext": reply,
        "evidence ciphertext": evidence,
    }


def plaintext_canaries() -> dict[str, bytes]:
    return {"report": REPORT.encode(), "evidence": EVIDENCE[:24], "reply": REPLY.encode(), "ascii": b"CANARY-"}


def sqlite_files(url: str) -> dict[str, bytes]:
    path = sqlite_path(url)
    assert path is not None
    return {p.name: p.read_bytes() for p in path.parent.glob(path.name + "*")}


def pg_dump(url: str) -> bytes:
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is needed for this test (install postgresql-client)")
    parsed = make_url(url)
    return subprocess.run(
        ["pg_dump", "--no-owner", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
         "-U", parsed.username or "postgres", parsed.database or ""],
        capture_output=True, check=True, timeout=60,
    ).stdout


async def pg_relation_files(database: Database) -> dict[str, bytes] | None:
    """The raw files of the case tables, their TOAST tables and indexes, when this process may read
    PostgreSQL's data directory (a server on this host); None otherwise."""
    async with database.transaction(write=False) as session:
        directory = Path((await session.execute(text("SHOW data_directory"))).scalar_one())
        paths = (await session.execute(text(
            "SELECT c.relname, pg_relation_filepath(c.oid) FROM pg_class c "
            "WHERE c.oid IN (SELECT oid FROM pg_class WHERE relname IN "
            "('cases', 'case_messages', 'evidence', 'case_receipts') "
            "UNION SELECT reltoastrelid FROM pg_class WHERE relname IN ('cases', 'case_messages', 'evidence') "
            "UNION SELECT indexrelid FROM pg_index WHERE indrelid IN "
            "(SELECT oid FROM pg_class WHERE relname IN ('cases', 'case_messages', 'evidence')))"
        ))).all()
        await session.execute(text("CHECKPOINT"))
    if not (directory.is_dir() and os.access(directory, os.R_OK | os.X_OK)):
        return None  # a server on another host, or one this user may not read
    return {name: b"".join(p.read_bytes() for p in (directory / path).parent.glob(Path(path).name + "*"))
            for name, path in paths}


def stored_forms(blob: bytes) -> list[bytes]:
    """How a value appears raw (a file) and in a pg_dump (bytea as hex)."""
    return [blob, blob.hex().encode()]


def assert_gone(files: dict[str, bytes], shredded: dict[str, bytes]) -> None:
    for where, content in files.items():
        for name, needle in {**shredded, **plaintext_canaries()}.items():
            for form in stored_forms(needle):
                assert form not in content, f"{name} still in {where}"


def assert_present(files: dict[str, bytes], shredded: dict[str, bytes]) -> None:
    """The test can fail: before the purge, each captured value is where it will be looked for."""
    blob = b"".join(files.values())
    for name, needle in shredded.items():
        assert any(form in blob for form in stored_forms(needle)), f"{name} not found before the purge"
    for name, needle in plaintext_canaries().items():
        assert needle not in blob, f"{name} in plaintext even before the purge"


async def test_a_purged_case_leaves_nothing_in_the_database_files(runtime: Core, clock: Clock) -> None:
    reference, shredded = await file_case(runtime, clock)
    kept, kept_bytes = await file_case(runtime, clock, CaseStatus.INVESTIGATING)
    database = runtime.database
    if database.dialect == "sqlite":
        assert await reclaim_space(database)
        before = sqlite_files(runtime.config.storage_url)
    else:
        before = {"pg_dump": pg_dump(runtime.config.storage_url)}
    assert_present(before, shredded)

    clock.advance(days=DAYS + 1)
    counts = await Cleaner(database, runtime.services).run_once()
    assert counts["cases"] == 1

    if database.dialect == "sqlite":
        after = sqlite_files(runtime.config.storage_url)
        assert set(after) <= {"hapbot.sqlite3", "hapbot.sqlite3-wal", "hapbot.sqlite3-shm"}
        assert after.get("hapbot.sqlite3-wal", b"") == b"", "the checkpoint emptied the WAL"
    else:
        after = {"pg_dump": pg_dump(runtime.config.storage_url)}
        relation_files = await pg_relation_files(database)
        if relation_files is not None:
            assert_present(relation_files, {"the open case's wrapped key": kept_bytes["wrapped key"]})
            after |= relation_files
    assert_gone(after, shredded)
    assert_present(after, {"the open case's wrapped key": kept_bytes["wrapped key"]})

    async with database.transaction(write=False) as session:
        actions = [(e.actor, e.action) for e in await audit.entries_for(session, reference)]
        assert await runtime.services.cases.by_reference(session, kept) is not None
    assert actions == [("wang", "read"), ("retention", "purge")], "the audit log outlives the case"
    assert (await audit.verify_chain(database)).ok


async def test_a_purge_waits_for_an_older_transaction_before_it_rewrites_the_tables(
    runtime: Core, clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A table rewrite keeps the rows a still-open older transaction might see (an auto-analyze, a long
    read): the purge waits for it to end, and says so when it does not within the wait."""
    database = runtime.database
    if database.dialect == "sqlite":
        pytest.skip("SQLite has no concurrent snapshots to wait for; its checkpoint is tested above")
    _reference, shredded = await file_case(runtime, clock)
    clock.advance(days=DAYS + 1)

    async def older_reader() -> AsyncConnection:
        connection = await database.engine.connect()
        await connection.execution_options(isolation_level="REPEATABLE READ")
        await connection.begin()
        await connection.execute(text("SELECT 1"))  # a snapshot from before the purge, on no case table
        return connection

    reader = await older_reader()

    async def finish_later() -> None:
        await asyncio.sleep(0.5)
        await reader.rollback()
        await reader.close()

    finishing = asyncio.create_task(finish_later())
    assert (await Cleaner(database, runtime.services).run_once())["cases"] == 1
    await finishing
    files = await pg_relation_files(database)
    if files is None:
        pytest.skip("PostgreSQL's data directory is not readable here")
    assert_gone(files, shredded)

    # One that stays open past the wait: the purge says so, and the next rewrite finishes the job.
    _reference, shredded = await file_case(runtime, clock)
    clock.advance(days=DAYS + 1)
    monkeypatch.setattr(retention, "PG_SNAPSHOT_WAIT_SECONDS", 0.3)
    reader = await older_reader()
    cleaner = Cleaner(database, runtime.services)
    try:
        with caplog.at_level(logging.WARNING, logger="storage.retention"):
            assert (await cleaner.run_once())["cases"] == 1
        assert "a transaction older than it was still open" in caplog.text
    finally:
        await reader.rollback()
        await reader.close()
    assert (await cleaner.run_once())["cases"] == 0  # nothing more to purge: the owed rewrite is done anyway
    files = await pg_relation_files(database)
    assert files is not None
    assert_gone(files, shredded)


async def test_cases_due_within_a_week_are_listed_for_the_desk(runtime: Core, clock: Clock) -> None:
    closed_at = clock()
    closed, _ = await file_case(runtime, clock)
    clock.advance(days=2)
    withdrawn, _ = await file_case(runtime, clock, CaseStatus.WITHDRAWN)
    await file_case(runtime, clock, CaseStatus.INVESTIGATING)
    async with runtime.database.transaction(write=False) as session:
        assert await due_for_purge(session, closed_at + timedelta(days=DAYS - 8), DAYS) == []
        week_before = await due_for_purge(session, closed_at + timedelta(days=DAYS - 6), DAYS)
        both = await due_for_purge(session, closed_at + timedelta(days=DAYS - 4), DAYS)
    assert [(case.reference, case.status) for case in week_before] == [(closed, CaseStatus.CLOSED)]
    closed_hour = closed_at.replace(minute=0, second=0)
    assert week_before[0].purge_after.replace(tzinfo=UTC) == closed_hour + timedelta(days=DAYS)
    assert [case.reference for case in both] == [closed, withdrawn]


async def test_cases_purge_dry_run_lists_then_purge_purges_audited_as_the_signed_in_account(
    runtime: Core, config: Config, keyring: KeyRing, clock: Clock
) -> None:
    clock.now = datetime.now(UTC) - timedelta(days=DAYS + 3)
    reference, _ = await file_case(runtime, clock)
    clock.now = datetime.now(UTC) - timedelta(days=DAYS - 3)
    soon, _ = await file_case(runtime, clock)
    clock.now = datetime.now(UTC)
    wang = await enrolled_account(runtime, clock, "wang")

    async def purge(*options: str) -> tuple[int, str]:
        out = io.StringIO()
        args = argparse.Namespace(actor="wang", cases_command="purge", dry_run="--dry-run" in options)
        code = await run_cases(config, args, out, keyring=keyring, prompt=terminal(wang, clock), clock=clock,
                               hasher=QuickPasswordHasher())
        return code, out.getvalue()

    code, listed = await purge("--dry-run")
    assert code == 0
    assert listed.splitlines()[0].startswith(f"{reference}  closed     last changed ")
    assert "would purge" in listed and soon not in listed and REPORT not in listed
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.cases.by_reference(session, reference) is not None
    code, purged = await purge()
    assert code == 0 and f"{reference}  closed" in purged and "1 finished case(s) past 730 days: purged" in purged
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.cases.by_reference(session, reference) is None
        assert await runtime.services.cases.by_reference(session, soon) is not None
        entries = [(e.actor, e.action) for e in await audit.entries_for(session, reference)]
        dry_runs = (await session.execute(select(AuditEntry.actor).where(AuditEntry.action == "purge:dry-run"))).all()
    assert entries == [("wang", "read"), ("wang", "purge")] and len(dry_runs) == 1
    assert (await audit.verify_chain(runtime.database)).ok


async def test_only_a_signed_in_account_may_purge(
    runtime: Core, config: Config, keyring: KeyRing, clock: Clock
) -> None:
    clock.now = datetime.now(UTC) - timedelta(days=DAYS + 3)
    reference, _ = await file_case(runtime, clock)  # past retention: a purge would take it
    clock.now = datetime.now(UTC)
    wang = await enrolled_account(runtime, clock, "wang")
    out = io.StringIO()
    args = argparse.Namespace(actor="wang", cases_command="purge", dry_run=False)
    assert await run_cases(config, args, out, keyring=keyring, prompt=terminal(wang, clock, code="000000"),
                           clock=clock, hasher=QuickPasswordHasher()) == 2
    assert "sign-in refused" in out.getvalue() and "purged" not in out.getvalue()
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.cases.by_reference(session, reference) is not None
