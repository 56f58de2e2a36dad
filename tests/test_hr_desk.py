"""The HR desk's rules on SQLite and PostgreSQL: who sees which case, what is audited (refusals
too, surviving the refused transaction's rollback), statuses and outcomes, notes the reporter never
sees, and a list that opens no report."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from bot.core import Core
from bot.logs import QUIET
from handlers.hr import CaseNotFound, NotPermitted, OutcomeRequired, index_cases_for_the_desk
from storage import audit
from storage.case_index import ListQuery, SortOrder
from storage.case_status import OPEN_STATUSES
from storage.cases import CaseStatus
from storage.models import AuditEntry, Case, CaseNote

from .conftest import Clock, Worker
from .desk_kit import LI, WANG, ZHAO, desk, new_case, picture
from .flows import receipt_in, reference_in, report_script

CANARY = "CANARY-7f3e-cornered-behind-the-boiler"


async def trail(runtime: Core, reference: str) -> list[tuple[str, str]]:
    async with runtime.database.transaction(write=False) as session:
        return [(entry.actor, entry.action) for entry in await audit.entries_for(session, reference)]


async def listed(runtime: Core, person: object, clock: Clock, **query: object) -> list[str]:
    page = (await desk(runtime).list_cases(person, ListQuery(**query), clock())).page  # type: ignore[arg-type]
    return [case.reference for case in page.cases]


async def test_role_separation_matrix(runtime: Core, clock: Clock) -> None:
    _, main_hr = await new_case(runtime, clock(), site="main", photo=picture(1))
    _, north_hr = await new_case(runtime, clock(), site="north", photo=picture(2))
    _, main_board = await new_case(runtime, clock(), site="main", involved="supervisor", photo=picture(3))
    hr = desk(runtime)
    assert await listed(runtime, WANG, clock) == [main_hr]
    assert await listed(runtime, ZHAO, clock) == [north_hr]
    assert await listed(runtime, LI, clock) == [main_board]
    refused = [(WANG, north_hr), (WANG, main_board), (ZHAO, main_hr), (LI, main_hr), (LI, north_hr)]
    for person, reference in refused:
        with pytest.raises(CaseNotFound):
            await hr.open(person, reference, clock())
        with pytest.raises(CaseNotFound):
            await hr.evidence(person, reference, 1, clock())
        with pytest.raises(CaseNotFound):
            await hr.reply(person, reference, "hello", clock())
    assert (await hr.open(WANG, main_hr, clock())).report["what"] == ["The cook keeps cornering me"]
    assert (await hr.evidence(LI, main_board, 1, clock())) == ("image/jpeg", picture(3))
    # Recusal: the handler declares a conflict; the case leaves every handler and reaches the board.
    await hr.recuse(WANG, main_hr, clock())
    assert await listed(runtime, WANG, clock) == []
    assert sorted(await listed(runtime, LI, clock)) == sorted([main_board, main_hr])
    with pytest.raises(CaseNotFound):
        await hr.open(WANG, main_hr, clock())
    assert (await hr.open(LI, main_hr, clock())).case.reference == main_hr


async def test_unknown_and_forbidden_cases_are_refused_alike_and_refusals_survive_rollback(
    runtime: Core, clock: Clock
) -> None:
    _, board_case = await new_case(runtime, clock(), involved="supervisor")
    hr = desk(runtime)
    errors = []
    for reference in (board_case, "HAP-000000"):
        with pytest.raises(CaseNotFound) as raised:
            await hr.open(WANG, reference, clock())
        errors.append((type(raised.value), raised.value.args == (reference,)))
    assert errors[0] == errors[1]
    with pytest.raises(CaseNotFound):
        await hr.reply(WANG, board_case, "this must not be stored", clock())
    assert await trail(runtime, board_case) == [("Wang", "refused:read"), ("Wang", "refused:reply")]
    assert await trail(runtime, "HAP-000000") == [("Wang", "refused:read")]
    async with runtime.database.transaction(write=False) as session:
        case_id = (await session.execute(select(Case.id).where(Case.reference == board_case))).scalar_one()
        assert await runtime.services.cases.messages(session, case_id) == [], "the refused reply rolled back"
    with pytest.raises(NotPermitted):
        await hr.set_status(LI, board_case, CaseStatus.WITHDRAWN, clock())
    assert ("Li", "refused:status:withdrawn") in await trail(runtime, board_case)


async def test_every_action_is_audited(runtime: Core, clock: Clock) -> None:
    _, reference = await new_case(runtime, clock(), involved="supervisor", photo=picture())
    hr = desk(runtime)
    steps = [
        hr.list_cases(LI, ListQuery(), clock()),
        hr.open(LI, reference, clock()),
        hr.evidence(LI, reference, 1, clock()),
        hr.reply(LI, reference, "We have your report.", clock()),
        hr.note(LI, reference, "Talk to the line leader first.", clock()),
        hr.assign(LI, reference, LI, clock()),
        hr.set_status(LI, reference, CaseStatus.INVESTIGATING, clock()),
        hr.set_status(LI, reference, CaseStatus.CLOSED, clock(), outcome="Warning issued; training repeated."),
    ]
    for step in steps:  # each a second apart, so the trail's order is the order of the steps
        clock.advance(seconds=1)
        await step
    clock.advance(seconds=1)
    entries = await hr.audit_trail(LI, reference, clock())
    assert [(e.actor, e.action) for e in entries] == [
        ("Li", "read"),
        ("Li", "download"),
        ("Li", "reply"),
        ("Li", "note"),
        ("Li", "assign"),
        ("Li", "status:investigating"),
        ("Li", "status:closed"),
        ("Li", "audit"),
    ]
    async with runtime.database.transaction(write=False) as session:
        lists = (await session.execute(select(AuditEntry.action).where(AuditEntry.case_reference.is_(None)))).all()
    assert [row.action for row in lists] == ["list"]
    clock.advance(seconds=1)
    with pytest.raises(CaseNotFound):  # a handler reads no board case's trail, and is recorded trying
        await hr.audit_trail(WANG, reference, clock())
    assert (await trail(runtime, reference))[-1] == ("Wang", "refused:audit")


async def test_closing_needs_a_written_outcome_which_is_sealed(runtime: Core, clock: Clock, database_url: str) -> None:
    _, reference = await new_case(runtime, clock())
    hr = desk(runtime)
    with pytest.raises(OutcomeRequired):
        await hr.set_status(WANG, reference, CaseStatus.CLOSED, clock(), outcome="   ")
    assert (await hr.open(WANG, reference, clock())).case.status is CaseStatus.ACKNOWLEDGED
    await hr.set_status(WANG, reference, CaseStatus.CLOSED, clock(), outcome=f"Outcome {CANARY}")
    file = await hr.open(WANG, reference, clock())
    assert file.case.status is CaseStatus.CLOSED and file.outcome == f"Outcome {CANARY}"
    async with runtime.database.transaction(write=False) as session:
        sealed = (await session.execute(select(Case.outcome_ct).where(Case.reference == reference))).scalar_one()
    assert sealed is not None and CANARY.encode() not in sealed
    with pytest.raises(NotPermitted):
        await hr.set_status(WANG, reference, CaseStatus.RECEIVED, clock())


async def test_withdrawn_stays_withdrawn(runtime: Core, clock: Clock) -> None:
    _, reference = await new_case(runtime, clock())
    async with runtime.database.transaction() as session:
        await session.execute(update(Case).where(Case.reference == reference).values(status="withdrawn"))
    with pytest.raises(NotPermitted):
        await desk(runtime).set_status(WANG, reference, CaseStatus.INVESTIGATING, clock())


async def test_notes_are_never_shown_to_the_reporter_and_replies_are_after_the_receipt(
    runtime: Core, clock: Clock
) -> None:
    mei = Worker(runtime, "mei")
    await mei.send("/start")
    for line in report_script(["The cook keeps cornering me"]):
        await mei.send(line.get("text"), choice=line.get("choice"))
    receipt, reference = receipt_in(mei.text), reference_in(mei.text)
    hr = desk(runtime)
    await hr.note(WANG, reference, f"Internal: {CANARY}", clock())
    await hr.reply(WANG, reference, "Can we talk on Tuesday?", clock())
    await mei.choose("status")
    await mei.send(receipt)
    assert "Tuesday" in mei.text and CANARY not in mei.text
    async with runtime.database.transaction(write=False) as session:
        bodies = (await session.execute(select(CaseNote.body_ct, CaseNote.author_ct))).all()
    assert bodies and all(CANARY.encode() not in body and b"Wang" not in author for body, author in bodies)


async def test_no_case_content_in_logs_or_audit(
    runtime: Core, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in QUIET:  # as in production: libraries that log parameters stay at WARNING
        caplog.set_level(logging.WARNING, logger=name)
    _, reference = await new_case(runtime, clock(), story=f"Story {CANARY}", photo=picture())
    hr = desk(runtime)
    await hr.open(WANG, reference, clock())
    await hr.reply(WANG, reference, f"Reply {CANARY}", clock())
    await hr.note(WANG, reference, f"Note {CANARY}", clock())
    await hr.set_status(WANG, reference, CaseStatus.CLOSED, clock(), outcome=f"Outcome {CANARY}")
    with pytest.raises(CaseNotFound):
        await hr.open(WANG, CANARY, clock())
    assert CANARY not in caplog.text and "CANARY" not in caplog.text
    async with runtime.database.transaction(write=False) as session:
        rows = (await session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.case_reference))).all()
    assert rows and not any("CANARY" in str(value).upper() for row in rows for value in row)


async def test_the_list_opens_no_report(runtime: Core, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    for urgency in ("normal", "danger_now", "soon"):
        await new_case(runtime, clock(), urgency=urgency, category="physical")
        clock.advance(hours=2)
    _, other = await new_case(runtime, clock(), category="messages")

    def no_opening(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the list opened a report")

    monkeypatch.setattr(runtime.services.cases, "read_report", no_opening)
    monkeypatch.setattr(runtime.crypto, "unwrap_data_key", no_opening)
    page = (await desk(runtime).list_cases(WANG, ListQuery(sort=SortOrder.URGENCY), clock())).page
    assert [case.urgency for case in page.cases] == ["danger_now", "soon", "normal", "normal"]
    assert {case.category for case in page.cases} == {"physical", "messages"}
    assert await listed(runtime, WANG, clock, category="messages") == [other]
    assert page.counts == {"received": 4, "overdue": 0}


async def test_filters_mine_overdue_and_pages(runtime: Core, clock: Clock) -> None:
    references = []
    for _ in range(5):
        references.append((await new_case(runtime, clock()))[1])
        clock.advance(hours=1)
    hr = desk(runtime)
    await hr.assign(WANG, references[1], WANG, clock())
    async with runtime.database.transaction() as session:
        await session.execute(
            update(Case).where(Case.reference == references[3]).values(next_due=clock() - timedelta(hours=1))
        )
    assert await listed(runtime, WANG, clock, assignee=WANG.account_id) == [references[1]]
    assert await listed(runtime, WANG, clock, overdue=True) == [references[3]]
    first = (await hr.list_cases(WANG, ListQuery(per_page=2, page=1), clock())).page
    last = (await hr.list_cases(WANG, ListQuery(per_page=2, page=3), clock())).page
    assert (first.total, first.pages, [c.reference for c in first.cases]) == (5, 3, references[:2])
    assert [c.reference for c in last.cases] == references[4:]
    assert (await hr.list_cases(WANG, ListQuery(per_page=2, page=1), clock())).page.cases[1].assignee == "Wang"
    await hr.set_status(WANG, references[0], CaseStatus.CLOSED, clock(), outcome="done")
    assert references[0] not in await listed(runtime, WANG, clock, statuses=OPEN_STATUSES)


async def test_cases_from_before_the_desk_are_indexed_and_old_statuses_read(runtime: Core, clock: Clock) -> None:
    _, hr_case = await new_case(runtime, clock())
    _, board_case = await new_case(runtime, clock(), involved="supervisor")
    async with runtime.database.transaction() as session:
        await session.execute(update(Case).values(audience_tag=None, category_tag=None, urgency_tag=None))
        await session.execute(text("UPDATE cases SET status = 'new' WHERE reference = :r"), {"r": hr_case})
        await session.execute(text("UPDATE cases SET status = 'resolved' WHERE reference = :r"), {"r": board_case})
    assert await listed(runtime, WANG, clock) == [] and await listed(runtime, LI, clock) == []
    assert (await desk(runtime).list_cases(WANG, ListQuery(), clock())).unreadable == sorted([hr_case, board_case])
    assert await index_cases_for_the_desk(runtime.database, runtime.services.cases, batch=1) == 2
    assert await listed(runtime, WANG, clock) == [hr_case]
    assert await listed(runtime, LI, clock, statuses=frozenset({CaseStatus.ACTION_TAKEN})) == [board_case]
    assert (await desk(runtime).open(WANG, hr_case, clock())).case.status is CaseStatus.ACKNOWLEDGED


async def test_a_case_that_cannot_be_opened_does_not_stop_the_others_being_indexed(
    runtime: Core, clock: Clock
) -> None:
    for _ in range(3):
        await new_case(runtime, clock())
    async with runtime.database.transaction() as session:
        await session.execute(update(Case).values(audience_tag=None, category_tag=None, urgency_tag=None))
        first = (await session.execute(select(Case.id).order_by(Case.id).limit(1))).scalar_one()
        await session.execute(update(Case).where(Case.id == first).values(report_ct=b"damaged"))
    assert await index_cases_for_the_desk(runtime.database, runtime.services.cases, batch=1) == 2
    assert len(await listed(runtime, WANG, clock)) == 2


async def test_the_list_columns_hold_keyed_tags_not_values(runtime: Core, clock: Clock) -> None:
    _, reference = await new_case(
        runtime, clock(), involved="supervisor", category="quid_pro_quo", urgency="danger_now"
    )
    await desk(runtime).assign(LI, reference, LI, clock())
    async with runtime.database.transaction(write=False) as session:
        row = (await session.execute(text("SELECT * FROM cases"))).mappings().one()
    stored = {str(value).lower() for value in row.values() if not isinstance(value, bytes | memoryview)}
    for value in ("board", "hr", "quid_pro_quo", "danger_now", "supervisor", "acct-li", "li"):
        assert not any(value == column or f"'{value}'" in column for column in stored), value
    assert row["audience_tag"] == runtime.crypto.desk_tag("audience", "board")
    assert row["category_tag"] != runtime.crypto.desk_tag("urgency", "quid_pro_quo"), "each field has its own tags"
    assert b"Li" not in bytes(row["assignee_ct"]), "the assignee's name is sealed"


async def test_a_board_member_cannot_take_an_escalated_hr_case_from_its_handlers(runtime: Core, clock: Clock) -> None:
    """Board members see escalated HR cases; "I am involved" is a handler's step, refused to them
    even when posted directly, so the site's handlers keep the case."""
    _, reference = await new_case(runtime, clock(), site="main")
    async with runtime.database.transaction() as session:  # what a missed deadline does
        case = await runtime.services.cases.by_reference(session, reference)
        assert case is not None
        await runtime.services.case_deadlines.mark_escalated(session, [case.id], clock())
    hr = desk(runtime)
    assert (await hr.open(LI, reference, clock())).case.reference == reference
    with pytest.raises(NotPermitted):
        await hr.recuse(LI, reference, clock())
    assert (await hr.open(WANG, reference, clock())).case.reference == reference
