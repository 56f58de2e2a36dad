"""Training records (opt-in, sealed, apart from everything) and the quiz figures HR may read.

A canary typed as an employee number is absent from the database bytes (SQLite file and WAL,
pg_dump) and from the logs; the records table has no column that could join it to a worker's
pseudonym or to a case; figures of groups smaller than five workers are never shown.
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.cli.training_tools import run_export, run_stats
from bot.core import Core, build_core
from bot.jobs.cleaner import Cleaner
from handlers.quiz.library import QuizLibrary
from storage.crypto import KeyRing
from storage.database import sqlite_path
from storage.people import Role
from storage.quiz_tallies import MIN_WORKERS

from .conftest import Clock, Worker, make_config
from .desk_kit import QuickPasswordHasher, enrolled_account, terminal
from .quizzes import question_at, right_index, wrong_index
from .test_schema_unlinkability import CASE_WORDS, is_pseudonym, live_schema

CANARY = "EMP-CANARY-77310"


async def finish_onboarding(worker: Worker, library: QuizLibrary, *, wrong: int = 0, language: str = "en") -> None:
    """Takes the onboarding quiz from the menu to the score, missing the first ``wrong`` questions."""
    await worker.choose("quiz")
    await worker.choose("quiz_take:onboarding")
    for number in range(5):
        question = question_at(library, worker.text)
        shown = [c for c in worker.last.replies[-1].choices if c.id.startswith("quiz:")]
        labels = [c.label for c in shown]
        pick = wrong_index(question, labels, language) if number < wrong else right_index(question, labels, language)
        await worker.choose(shown[pick].id)
    assert "quiz_retry" in worker.choices, "the score is shown"


async def test_recording_is_opt_in_and_declining_changes_nothing(
    worker: Worker, quiz_library: QuizLibrary, runtime: Core
) -> None:
    await worker.send("/start")
    await finish_onboarding(worker, quiz_library)
    assert not any("employee number" in reply.text for reply in worker.last.replies), "never asked unless chosen"
    await worker.choose("training_record")
    assert "type your employee number" in worker.text and "for 1095 days" in worker.text
    assert "apart from this chat and from any report" in worker.text
    await worker.choose("training_no")
    assert "Nothing was recorded" in worker.text and "training_record" in worker.choices

    await worker.choose("training_record")
    await worker.send("not a number!")
    assert "does not look like an employee number" in worker.text
    await worker.send("ｅｍｐ 00１２")
    assert "Employee number: EMP0012" in worker.text and "Result: passed" in worker.text
    assert "Date: 2026-03-02" in worker.text
    await worker.choose("training_no")
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.training.between(session, "main", date(2026, 1, 1), date(2026, 12, 31)) == []

    await worker.choose("training_record")
    await worker.send("EMP0012")
    await worker.choose("training_save")
    assert "Recorded" in worker.text and "training_record" not in worker.choices
    async with runtime.database.transaction(write=False) as session:
        records = await runtime.services.training.between(session, "main", date(2026, 3, 1), date(2026, 3, 31))
        document = await runtime.services.conversations.load(session, worker.user_key)
    assert [(r.employee_number, r.quiz, r.completed_on, r.passed) for r in records] == [
        ("EMP0012", "onboarding", date(2026, 3, 2), True)
    ]
    assert document is not None and "EMP0012" not in str(document), "the number is not kept in the chat"


async def test_a_typed_number_is_dropped_when_the_worker_leaves_before_confirming(
    worker: Worker, quiz_library: QuizLibrary, runtime: Core
) -> None:
    await worker.send("/start")
    await finish_onboarding(worker, quiz_library)
    await worker.choose("training_record")
    await worker.send("EMP0099")
    await worker.send("菜单")
    async with runtime.database.transaction(write=False) as session:
        document = await runtime.services.conversations.load(session, worker.user_key)
    assert document is not None and "EMP0099" not in str(document)


async def test_the_day_is_the_site_s_local_day(runtime: Core, clock: Clock, quiz_library: QuizLibrary) -> None:
    clock.now = clock.now.replace(hour=20)  # 20:00 UTC is 04:00 the next day in Shanghai
    worker = Worker(runtime, "late-shift")
    await worker.send("/start")
    await finish_onboarding(worker, quiz_library, wrong=2)
    await worker.choose("training_record")
    await worker.send("A-1001")
    assert "Date: 2026-03-03" in worker.text and "Result: not passed" in worker.text


async def test_export_writes_csv_for_a_signed_in_hr_handler_of_the_site_only_and_is_audited(
    runtime: Core, keyring: KeyRing, quiz_library: QuizLibrary, tmp_path: Path, clock: Clock
) -> None:
    for number, name in enumerate(("EMP-1", "EMP-2")):
        worker = Worker(runtime, f"exporter-{number}")
        await worker.send("/start")
        await finish_onboarding(worker, quiz_library, wrong=number * 3)
        await worker.choose("training_record")
        await worker.send(name)
        await worker.choose("training_save")
    config = runtime.config
    li = await enrolled_account(runtime, clock, "Ms Li", Role.HANDLER, ("main",))
    board = await enrolled_account(runtime, clock, "Mr Board", Role.BOARD, ())
    signed = {"keyring": keyring, "clock": clock, "hasher": QuickPasswordHasher()}
    args = argparse.Namespace(actor="Ms Li", site="main", first=date(2026, 3, 1), last=date(2026, 3, 31), out=None)
    out = io.StringIO()
    assert await run_export(config, args, out, prompt=terminal(li, clock), **signed) == 0
    assert out.getvalue().splitlines() == [
        "employee_number,quiz,date,passed",
        "EMP-1,onboarding,2026-03-02,yes",
        "EMP-2,onboarding,2026-03-02,no",
    ]
    written = tmp_path / "records.csv"
    args.out = str(written)
    assert await run_export(config, args, io.StringIO(), prompt=terminal(li, clock), **signed) == 0
    assert written.read_text(encoding="utf-8").count("\n") == 3
    assert (await _audit_actions(runtime)).count(("Ms Li", "training_export")) == 2, "every export is audited"

    refused = io.StringIO()
    assert await run_export(config, args, refused, prompt=terminal(li, clock, code="000000"), **signed) == 2
    assert "sign-in refused" in refused.getvalue() and "EMP-1" not in refused.getvalue()
    args.actor = "Mr Board"
    not_hr = io.StringIO()
    assert await run_export(config, args, not_hr, prompt=terminal(board, clock), **signed) == 2
    assert "is not an HR handler of site 'main'" in not_hr.getvalue() and "EMP-1" not in not_hr.getvalue()

    args = argparse.Namespace(actor="Ms Li", site="north", first=date(2026, 3, 1), last=date(2026, 3, 31), out=None)
    other_site = io.StringIO()
    assert await run_export(config, args, other_site, prompt=terminal(li, clock), **signed) == 2
    assert "is not an HR handler of site 'north'" in other_site.getvalue()
    assert (await _audit_actions(runtime)).count(("Ms Li", "training_export")) == 2


async def _audit_actions(runtime: Core) -> list[tuple[str, str]]:
    from sqlalchemy import text

    async with runtime.database.transaction(write=False) as session:
        rows = await session.execute(text("SELECT actor, action FROM audit_log"))
        return [(str(actor), str(action)) for actor, action in rows]


async def test_records_past_their_retention_are_deleted(
    runtime: Core, clock: Clock, quiz_library: QuizLibrary
) -> None:
    worker = Worker(runtime, "old-record")
    await worker.send("/start")
    await finish_onboarding(worker, quiz_library)
    await worker.choose("training_record")
    await worker.send("EMP-OLD")
    await worker.choose("training_save")
    counts = await Cleaner(runtime.database, runtime.services).run_once()
    assert counts["training_records"] == 0
    clock.advance(days=runtime.services.settings.training_retention_days + 1)
    counts = await Cleaner(runtime.database, runtime.services).run_once()
    assert counts["training_records"] == 1


async def test_the_records_table_cannot_be_joined_to_a_worker_or_a_case(runtime: Core) -> None:
    tables, foreign_keys = await live_schema(runtime)
    assert {c["name"] for c in tables["training_records"]} == {
        "id", "site", "quiz", "completed_on", "passed", "employee_ct"
    }
    for table in ("training_records", "quiz_tallies"):
        names = [c["name"] for c in tables[table]]
        assert not [n for n in names if is_pseudonym(n) or any(word in n for word in CASE_WORDS)], table
        assert not [n for n in names if n.endswith(("_at", "_time", "hour"))], f"{table} keeps no time of day"
        assert foreign_keys[table] == [], table


# --- the canary ---------------------------------------------------------------------------------------


async def record_canary(runtime: Core, library: QuizLibrary) -> None:
    worker = Worker(runtime, "canary-worker", language="zh")
    await worker.send("/start")
    await finish_onboarding(worker, library, language="zh")
    await worker.choose("training_record")
    await worker.send(CANARY.lower())
    assert CANARY in worker.text
    await worker.choose("training_save")
    async with runtime.database.transaction(write=False) as session:
        records = await runtime.services.training.between(session, "main", date(2026, 3, 2), date(2026, 3, 2))
    assert [r.employee_number for r in records] == [CANARY]


def assert_no_canary(blob: bytes, where: str) -> None:
    for needle in (CANARY.encode(), CANARY.lower().encode(), CANARY.encode("utf-16-le"), b"CANARY-7731"):
        assert needle not in blob, f"the employee number is readable in {where}"


async def test_sqlite_file_wal_and_logs_hold_no_employee_number(
    tmp_path: Path, keyring: KeyRing, quiz_library: QuizLibrary, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"sqlite+aiosqlite:///{tmp_path / 'hapbot.sqlite3'}"
    config = make_config(url, tmp_path / "data")
    runtime = await build_core(config, keyring=keyring, clock=Clock(), quizzes=quiz_library)
    await record_canary(runtime, quiz_library)
    path = sqlite_path(url)
    assert path is not None
    wal_while_open = b"".join(p.read_bytes() for p in tmp_path.glob("hapbot.sqlite3*"))
    assert Path(f"{path}-wal").exists()
    await runtime.close()
    files = {p.name: p.read_bytes() for p in tmp_path.glob("hapbot.sqlite3*")}
    for name, blob in {**files, "wal while open": wal_while_open}.items():
        assert_no_canary(blob, name)
    assert_no_canary("\n".join(record.getMessage() for record in caplog.records).encode(), "logs")


@pytest.mark.postgres
async def test_pg_dump_and_logs_hold_no_employee_number(
    tmp_path: Path, keyring: KeyRing, quiz_library: QuizLibrary, caplog: pytest.LogCaptureFixture
) -> None:
    from .conftest import create_pg_database, drop_pg_database

    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is needed for this test (install postgresql-client)")
    caplog.set_level(logging.DEBUG)
    url = await create_pg_database()
    try:
        config = make_config(url, tmp_path / "data")
        runtime = await build_core(config, keyring=keyring, clock=Clock(), quizzes=quiz_library)
        await record_canary(runtime, quiz_library)
        await runtime.close()
        parsed = make_url(url)
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
             "-U", parsed.username or "postgres", parsed.database or ""],
            capture_output=True, check=True, timeout=60,
        ).stdout
        assert b"COPY public.training_records" in dump and b"COPY public.quiz_tallies" in dump
        assert_no_canary(dump, "pg_dump")
        assert_no_canary("\n".join(r.getMessage() for r in caplog.records).encode(), "logs")
    finally:
        await drop_pg_database(url)


# --- figures for HR -----------------------------------------------------------------------------------


async def stats(runtime: Core, keyring: KeyRing, lang: str, month: str | None = "2026-03") -> str:
    out = io.StringIO()
    args = argparse.Namespace(site="main", month=month, lang=lang)
    assert await run_stats(runtime.config, args, out, keyring=keyring) == 0
    return out.getvalue()


async def test_groups_of_fewer_than_five_workers_are_not_shown(
    runtime: Core, keyring: KeyRing, quiz_library: QuizLibrary
) -> None:
    for number in range(MIN_WORKERS - 1):
        worker = Worker(runtime, f"figures-{number}")
        await worker.send("/start")
        await finish_onboarding(worker, quiz_library, wrong=1)
        await worker.choose("quiz_retry")  # a retry is another attempt, not another worker
        for _ in range(5):
            shown = [c for c in worker.last.replies[-1].choices if c.id.startswith("quiz:")]
            question = question_at(quiz_library, worker.text)
            await worker.choose(shown[right_index(question, [c.label for c in shown], "en")].id)
    async with runtime.database.transaction(write=False) as session:
        every = await runtime.services.quiz_tallies.all(session, "main", "2026-03")
        assert await runtime.services.quiz_tallies.report(session, "main", "2026-03") == []
    whole = next(t for t in every if t.question == "")
    assert (whole.workers, whole.attempts, whole.completions) == (4, 8, 8), "workers are counted once each"
    shown = await stats(runtime, keyring, "en")
    assert "No figures to show yet." in shown and "Not shown (fewer than 5 workers): 6 group(s)." in shown
    assert "Starter quiz" not in shown

    worker = Worker(runtime, "figures-5")
    await worker.send("/start")
    await finish_onboarding(worker, quiz_library, wrong=2)
    shown = await stats(runtime, keyring, "en")
    assert "Quiz: Starter quiz for new staff · month 2026-03" in shown
    assert "Workers: 5 · Attempts: 9 · Finished: 9 · Passed: 8 · Average score:" in shown
    assert "Most missed questions:" in shown and "1. Someone keeps telling you dirty jokes" in shown
    assert "missed 5 of 9 times (56%)" in shown
    assert "Not shown" not in shown

    chinese = await stats(runtime, keyring, "zh", month=None)
    assert "一号厂的测验数据（所有月份）" in chinese and "测验：新员工入门小测验 · 月份 2026-03" in chinese
    assert "人数：5" in chinese and "答错最多的题目：" in chinese
    other = await stats(runtime, keyring, "en", month="2026-04")
    assert "No figures to show yet." in other
