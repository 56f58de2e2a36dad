"""HR reads and answers cases through audited commands; the reporter sees a neutral notice at
their next message and the content only with the receipt."""

from __future__ import annotations

import argparse
import io
import json

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.cases import run as run_cases
from bot.config import Config
from bot.core import Core, build_core
from bot.jobs.cleaner import Cleaner
from bot.jobs.reporter_notices import ReporterNotices
from bot.serve import push_windows
from handlers.faq.service import LibraryFaqService
from handlers.hr import CaseNotFound, UnreadableCase
from storage import audit
from storage.case_index import ListQuery
from storage.cases import CaseStatus
from storage.crypto import KeyRing
from storage.database import short_hash
from storage.models import AuditEntry, Case
from storage.people import Role

from .conftest import Clock, Worker
from .desk_kit import LI, WANG, QuickPasswordHasher, desk, enrolled_account, terminal
from .flows import receipt_in, reference_in, report_script


async def file_report(worker: Worker, notify: str = "notify_yes") -> tuple[str, str]:
    await worker.send("/start")
    for line in report_script(["The cook keeps cornering me"], notify=notify):
        await worker.send(line.get("text"), choice=line.get("choice"))
    return receipt_in(worker.text), reference_in(worker.text)


async def test_reply_reaches_the_reporter_as_a_neutral_notice_then_content_with_the_receipt(
    runtime: Core, clock: Clock
) -> None:
    mei = Worker(runtime, "mei")
    receipt, reference = await file_report(mei)
    await desk(runtime).reply(WANG, reference, "Thank you. Can we talk on Tuesday? Reply here.", clock())
    async with runtime.database.transaction() as session:
        routed = await ReporterNotices(runtime.services, push_windows()).route_due(session, clock())
    assert routed == 1
    clock.advance(minutes=5)
    await mei.send("hello")
    assert "You have a new message about your report" in mei.last.replies[0].text
    assert "Tuesday" not in mei.text, "the content waits for the receipt"
    await mei.send("hello again")
    assert "new message" not in mei.text, "a notice is shown once"
    await mei.choose("status")
    await mei.send(receipt)
    assert "Tuesday" in mei.text and "HR has seen it" in mei.text


async def test_no_notice_without_consent(runtime: Core, clock: Clock) -> None:
    mei = Worker(runtime, "mei")
    _, reference = await file_report(mei, notify="notify_no")
    await desk(runtime).reply(WANG, reference, "A reply", clock())
    async with runtime.database.transaction() as session:
        assert await ReporterNotices(runtime.services, push_windows()).route_due(session, clock()) == 0
    await mei.send("hello")
    assert "new message" not in mei.text


async def test_every_read_and_change_is_audited(runtime: Core, clock: Clock) -> None:
    _, reference = await file_report(Worker(runtime, "mei"), notify="notify_no")
    hr = desk(runtime)
    listed = await hr.list_cases(WANG, ListQuery(), clock())
    assert [c.reference for c in listed.page.cases] == [reference] and listed.unreadable == []
    clock.advance(seconds=1)
    file = await hr.open(WANG, reference, clock())
    assert file.report["what"] == ["The cook keeps cornering me"]
    assert file.case.status is CaseStatus.ACKNOWLEDGED
    clock.advance(seconds=1)
    await hr.set_status(WANG, reference, CaseStatus.INVESTIGATING, clock())
    async with runtime.database.transaction(write=False) as session:
        trail = await audit.entries_for(session, reference)
    assert [(e.actor, e.action) for e in trail] == [("Wang", "read"), ("Wang", "status:investigating")]


async def test_cases_cli_signs_in_and_shows_a_case_only_to_its_role(
    runtime: Core, config: Config, keyring: KeyRing, clock: Clock
) -> None:
    _, reference = await file_report(Worker(runtime, "mei"), notify="notify_no")
    wang = await enrolled_account(runtime, clock, "wang")
    li = await enrolled_account(runtime, clock, "li", Role.BOARD, ())
    quick = QuickPasswordHasher()
    out = io.StringIO()
    show = argparse.Namespace(actor="wang", cases_command="show", reference=reference.lower())
    assert await run_cases(config, show, out, keyring=keyring, prompt=terminal(wang, clock), clock=clock,
                           hasher=quick) == 0
    shown = json.loads(out.getvalue())
    assert shown["reference"] == reference and shown["report"]["what"] == ["The cook keeps cornering me"]

    wrong_code = io.StringIO()
    assert await run_cases(config, show, wrong_code, keyring=keyring, prompt=terminal(wang, clock, code="000000"),
                           clock=clock, hasher=quick) == 2
    assert wrong_code.getvalue() == "hapbot: sign-in refused: the name, the password or the code is not right\n"
    stranger = argparse.Namespace(actor="eve", cases_command="show", reference=reference)
    refused = io.StringIO()
    assert await run_cases(config, stranger, refused, keyring=keyring, prompt=terminal(wang, clock), clock=clock,
                           hasher=quick) == 2
    assert "sign-in refused" in refused.getvalue() and "cook" not in refused.getvalue()
    as_board = argparse.Namespace(actor="li", cases_command="show", reference=reference)
    board_out = io.StringIO()
    assert await run_cases(config, as_board, board_out, keyring=keyring, prompt=terminal(li, clock), clock=clock,
                           hasher=quick) == 2
    assert board_out.getvalue() == f"hapbot: no case {reference!r}\n"

    def no_terminal(question: str, secret: bool) -> str:
        raise EOFError

    cancelled = io.StringIO()
    assert await run_cases(config, show, cancelled, keyring=keyring, prompt=no_terminal, clock=clock,
                           hasher=quick) == 2
    assert cancelled.getvalue().startswith("hapbot: sign-in cancelled") and "cook" not in cancelled.getvalue()
    async with runtime.database.transaction(write=False) as session:
        trail = [(e.actor, e.action) for e in await audit_entries(session)]
    # The refusal carries the desk's action name ("read"), the same from the page and the terminal.
    assert sorted(trail) == sorted([
        ("wang", "cli:login"), ("wang", "read"), ("wang", "cli:login_failed"),
        ("(unknown account)", "cli:login_failed"), ("li", "cli:login"), ("li", "refused:read"),
    ])


async def test_hr_cannot_see_reports_about_hr_or_managers_and_the_board_can(runtime: Core, clock: Clock) -> None:
    ordinary = Worker(runtime, "a")
    _, hr_case = await file_report(ordinary, notify="notify_no")
    about_manager = Worker(runtime, "b")
    await about_manager.send("/start")
    for line in report_script(["My manager"], involved="supervisor"):
        await about_manager.send(line.get("text"), choice=line.get("choice"))
    board_case = reference_in(about_manager.text)
    hr = desk(runtime)
    assert [c.reference for c in (await hr.list_cases(WANG, ListQuery(), clock())).page.cases] == [hr_case]
    assert [c.reference for c in (await hr.list_cases(LI, ListQuery(), clock())).page.cases] == [board_case]
    with pytest.raises(CaseNotFound):
        await hr.open(WANG, board_case, clock())
    with pytest.raises(CaseNotFound):
        await hr.reply(LI, hr_case, "hello", clock())
    assert (await hr.open(LI, board_case, clock())).report["what"] == ["My manager"]


async def test_finished_cases_are_deleted_after_the_retention_period(runtime: Core, clock: Clock) -> None:
    receipt, reference = await file_report(Worker(runtime, "mei"), notify="notify_no")
    _, open_reference = await file_report(Worker(runtime, "lin"), notify="notify_no")
    await desk(runtime).set_status(WANG, reference, CaseStatus.CLOSED, clock(), outcome="Spoken to; resolved.")
    await desk(runtime).reply(WANG, reference, "Closed, thank you.", clock())
    retention = runtime.services.settings.retention_days
    clock.advance(days=retention - 1)
    await Cleaner(runtime.database, runtime.services).run_once()
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.cases.by_reference(session, reference) is not None
    clock.advance(days=2)
    counts = await Cleaner(runtime.database, runtime.services).run_once()
    assert counts["cases"] == 1
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.cases.by_reference(session, reference) is None
        assert await runtime.services.cases.by_reference(session, open_reference) is not None, "open cases stay"
    reader = Worker(runtime, "reader")
    await reader.choose("status")
    await reader.send(receipt)
    assert "No report matches" in reader.text


async def test_cases_that_cannot_be_opened_are_listed_and_refused_plainly_and_never_hide_the_rest(
    runtime: Core, config: Config, keyring: KeyRing, clock: Clock
) -> None:
    """The list opens no report, so a damaged case is listed like the others and fails only when
    opened; a row of a status newer code wrote is listed apart by its label."""
    wang = await enrolled_account(runtime, clock, "wang")
    references = [(await file_report(Worker(runtime, name), notify="notify_no"))[1] for name in "abcd"]
    async with runtime.database.transaction() as session:
        rows = {row.reference: row for row in (await session.execute(Case.__table__.select())).all()}
        damaged_id, odd_id = rows[references[1]].id, rows[references[3]].id
        damaged = await session.get(Case, damaged_id)
        assert damaged is not None
        damaged.wrapped_key = damaged.wrapped_key[:-1] + bytes([damaged.wrapped_key[-1] ^ 1])
        odd = await session.get(Case, odd_id)
        assert odd is not None
        odd.status, odd.reference = "escalated", "??"  # newer code's status, and a reference we cannot use
    listing = io.StringIO()
    every = argparse.Namespace(actor="wang", cases_command="list", site=None, all=True)
    assert await run_cases(config, every, listing, keyring=keyring, prompt=terminal(wang, clock), clock=clock,
                           hasher=QuickPasswordHasher()) == 0
    lines = listing.getvalue().splitlines()
    firsts = [line.split()[0] for line in lines]
    assert sorted(firsts[:3]) == sorted(references[:3]) and firsts[3:] == [f"#{short_hash(odd_id)}"]
    assert "cannot be opened" in lines[3] and odd_id not in listing.getvalue()

    shown = io.StringIO()
    show = argparse.Namespace(actor="wang", cases_command="show", reference=references[1])
    assert await run_cases(config, show, shown, keyring=keyring, prompt=terminal(wang, clock), clock=clock,
                           hasher=QuickPasswordHasher()) == 2
    assert shown.getvalue().startswith(f"hapbot: case {references[1]}: cannot be opened with the keys in use")
    assert len(shown.getvalue().splitlines()) == 1


async def test_a_replica_on_old_keys_lists_a_case_sealed_after_rotation_but_cannot_open_it(
    config: Config, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService
) -> None:
    old = await build_core(config, keyring=keyring, clock=clock, faq=faq_service)
    new = await build_core(config, keyring=keyring.with_new_master_key(), clock=clock, faq=faq_service)
    try:
        _, before = await file_report(Worker(old, "before"), notify="notify_no")
        _, after = await file_report(Worker(new, "after"), notify="notify_no")
        listing = await desk(old).list_cases(WANG, ListQuery(), clock())
        assert sorted(case.reference for case in listing.page.cases) == sorted([before, after])
        with pytest.raises(UnreadableCase):
            await desk(old).open(WANG, after, clock())
        async with old.database.transaction(write=False) as session:
            trail = [(e.actor, e.action) for e in await audit.entries_for(session, after)]
        assert trail == [("Wang", "unreadable:read")], "the failed opening is on record, apart from refusals"
        assert (await desk(new).open(WANG, after, clock())).case.reference == after
    finally:
        await old.close()
        await new.close()


async def audit_entries(session: AsyncSession) -> list[AuditEntry]:
    return list((await session.execute(select(AuditEntry))).scalars())
