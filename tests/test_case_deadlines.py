"""Case deadlines on SQLite and PostgreSQL with a hand-moved clock: HR's chat is reminded a day
before each deadline, a missed one escalates to the board once (flag set, audited as "system"),
a deadline met in time and a closed or withdrawn case fire nothing, a restart or a second replica
fires nothing twice, and the reporter hears neutrally that the case was acknowledged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.core import Core, build_core
from handlers.hr import CaseNotFound
from storage.case_index import ListQuery, SortOrder
from storage.cases import CaseStatus
from storage.crypto import KeyRing
from storage.deadline_rules import MET, MISSED, CaseDeadlines, Deadline, next_deadline, outcome
from storage.outbox import as_utc

from .conftest import Clock, Worker, make_config
from .deadlines_kit import BOARD_CHAT, HR_CHAT, PEOPLE, Pass, audit_actions, case, desk, file_report


async def test_a_reminder_before_each_deadline_and_an_escalation_after_a_missed_one_each_once(
    runtime: Core, clock: Clock
) -> None:
    _, reference = await file_report(Worker(runtime, "mei", site="north"))
    jobs = Pass(runtime)
    await jobs.run()
    assert jobs.deadline_texts(HR_CHAT) == [] and jobs.deadline_texts(BOARD_CHAT) == []
    opened = await case(runtime, reference)
    upcoming = next_deadline(opened)
    assert upcoming is not None and upcoming.deadline is Deadline.ACKNOWLEDGE
    # Filed 2 March at 17:30 in Shanghai: due at 18:00 there on 9 March, whatever the hour of the report.
    assert upcoming.due == datetime(2026, 3, 9, 10, tzinfo=UTC) and as_utc(opened.created_at).hour == 9

    clock.advance(days=6, hours=1)  # within a day of acknowledging
    await jobs.run()
    await jobs.run()
    [reminder] = jobs.deadline_texts(HR_CHAT)
    assert reference in reminder and "Acknowledge the report by" in reminder and "cook" not in reminder
    assert jobs.deadline_texts(BOARD_CHAT) == []
    assert not (await case(runtime, reference)).escalated

    clock.advance(days=1)  # the acknowledgement deadline has passed
    await jobs.run()
    await jobs.run()
    [escalation] = jobs.deadline_texts(BOARD_CHAT)
    assert reference in escalation and "escalated to the advocacy board" in escalation
    assert len(jobs.deadline_texts(HR_CHAT)) == 1, "the escalation goes to the board, not HR"
    escalated = await case(runtime, reference)
    assert escalated.escalated and escalated.escalated_at == clock()
    assert ("system", "escalate:acknowledge") in await audit_actions(runtime, reference)

    # HR acknowledges and writes before the feedback deadline: its reminder came, no escalation follows.
    await desk(runtime).read("wang", reference, clock())
    clock.advance(days=6)  # 15 March, 10:30 UTC: within a day of the first-feedback deadline (16 March, 10:00)
    await jobs.run()
    assert any("First reply to the reporter by" in text for text in jobs.deadline_texts(HR_CHAT))
    await desk(runtime).reply("wang", reference, "We are looking into it.", clock())
    clock.advance(days=30)
    await jobs.run()
    assert len(jobs.deadline_texts(BOARD_CHAT)) == 1, "a deadline met in time never escalates"
    following = next_deadline(await case(runtime, reference))
    assert following is not None and following.deadline is Deadline.RESOLVE

    # Resolved before the resolution deadline: nothing more, however long we wait.
    clock.advance(days=46)  # 30 May, 10:30 UTC: within a day of resolving (31 May, 18:00 in Shanghai)
    await jobs.run()
    assert any("Resolve the case by" in text for text in jobs.deadline_texts(HR_CHAT))
    await desk(runtime).set_status("wang", reference, CaseStatus.CLOSED, clock())
    assert next_deadline(await case(runtime, reference)) is None
    hr_before, board_before = len(jobs.deadline_texts(HR_CHAT)), len(jobs.deadline_texts(BOARD_CHAT))
    clock.advance(days=20)
    await jobs.run()
    assert (len(jobs.deadline_texts(HR_CHAT)), len(jobs.deadline_texts(BOARD_CHAT))) == (hr_before, board_before)
    assert [action for actor, action in await audit_actions(runtime, reference) if actor == "system"] == [
        "escalate:acknowledge"
    ]


async def test_closed_and_withdrawn_cases_fire_nothing(runtime: Core, clock: Clock) -> None:
    _, closed = await file_report(Worker(runtime, "mei", site="north"))
    ling = Worker(runtime, "ling", site="north")
    receipt, withdrawn = await file_report(ling)
    await desk(runtime).set_status("wang", closed, CaseStatus.CLOSED, clock())
    await ling.choose("status")
    await ling.send(receipt)
    await ling.choose("withdraw")
    await ling.choose("withdraw_yes")
    assert (await case(runtime, withdrawn)).status is CaseStatus.WITHDRAWN
    jobs = Pass(runtime)
    for days in (6.5, 7.5, 13.5, 14.5, 89.5, 91):
        clock.advance(days=days)
        await jobs.run()
    assert jobs.deadline_texts(HR_CHAT) == [] and jobs.deadline_texts(BOARD_CHAT) == []
    assert not (await case(runtime, closed)).escalated and not (await case(runtime, withdrawn)).escalated


async def test_a_case_about_a_supervisor_is_never_named_in_the_hr_chat(runtime: Core, clock: Clock) -> None:
    _, reference = await file_report(Worker(runtime, "mei", site="north"), involved="supervisor")
    jobs = Pass(runtime)
    clock.advance(days=6, hours=1)
    await jobs.run()
    clock.advance(days=1)
    await jobs.run()
    assert [text for text in jobs.texts(HR_CHAT) if reference in text] == []
    board = jobs.deadline_texts(BOARD_CHAT)
    assert len(board) == 2 and "Deadline soon" in board[0] and "escalated" in board[1]


async def test_a_case_handed_to_the_board_by_a_conflicted_handler_is_never_named_in_the_hr_chat_again(
    runtime: Core, clock: Clock
) -> None:
    """Declaring oneself involved changes only the case's tag (its report still says co-worker):
    the reminders must follow the tag, as the reporter's follow-ups do."""
    _, reference = await file_report(Worker(runtime, "mei", site="north"))
    await desk(runtime).desk.recuse(PEOPLE["wang"], reference, clock())
    jobs = Pass(runtime)
    await jobs.run()
    clock.advance(days=6, hours=1)  # within a day of the acknowledgement deadline
    await jobs.run()
    assert [text for text in jobs.texts(HR_CHAT) if reference in text and "Deadline" in text] == []
    board = jobs.deadline_texts(BOARD_CHAT)
    assert len(board) == 1 and "Deadline soon" in board[0] and reference in board[0]


async def test_a_restart_and_a_second_replica_fire_nothing_twice(runtime: Core, clock: Clock, keyring: KeyRing) -> None:
    _, reference = await file_report(Worker(runtime, "mei", site="north"))
    first = Pass(runtime)
    clock.advance(days=6, hours=1)
    await first.run()
    assert len(first.deadline_texts(HR_CHAT)) == 1
    # The process stops and two replicas start on the same database, ticking together.
    replicas = [await build_core(runtime.config, keyring=keyring, clock=clock) for _ in range(2)]
    try:
        jobs = [Pass(replica) for replica in replicas]
        await asyncio.gather(*(job.run() for job in jobs))
        assert sum(len(job.deadline_texts(HR_CHAT)) for job in jobs) == 0, "the reminder was already sent"
        clock.advance(days=1)
        queued = await asyncio.gather(*(job.deadlines.run_once() for job in jobs))
        assert sorted(queued) == [0, 1], "two replicas ticking together: one escalates"
        await asyncio.gather(*(job.run() for job in jobs))
        escalations = [text for job in jobs for text in job.deadline_texts(BOARD_CHAT)]
        assert len(escalations) == 1 and reference in escalations[0]
    finally:
        for replica in replicas:
            await replica.close()
    assert [a for actor, a in await audit_actions(runtime, reference) if actor == "system"] == ["escalate:acknowledge"]


async def test_a_reminder_queued_but_not_yet_sent_survives_a_restart(
    runtime: Core, clock: Clock, keyring: KeyRing
) -> None:
    """The job committed the reminder to the outbox, then the process died before sending it."""
    _, reference = await file_report(Worker(runtime, "mei", site="north"))
    clock.advance(days=6, hours=1)
    assert await Pass(runtime).deadlines.run_once() == 1
    restarted = await build_core(runtime.config, keyring=keyring, clock=clock)
    try:
        jobs = Pass(restarted)
        await jobs.run()
        await jobs.run()
        [reminder] = jobs.deadline_texts(HR_CHAT)
        assert reference in reminder
    finally:
        await restarted.close()


async def test_escalated_cases_are_flagged_and_the_desk_sorts_overdue_first(runtime: Core, clock: Clock) -> None:
    _, older = await file_report(Worker(runtime, "mei", site="north"))
    clock.advance(days=3)
    _, newer = await file_report(Worker(runtime, "ling", site="north"))
    await desk(runtime).read("wang", older, clock())  # acknowledged: its next deadline is day 14
    clock.advance(days=8)  # day 11: newer's acknowledgement (due day 10) is overdue; older's feedback is due day 14
    await Pass(runtime).run()
    async with runtime.database.transaction(write=False) as session:
        views, _ = await runtime.services.cases.find_listing(session, by_deadline=True)
    assert [view.reference for view in views] == [newer, older]
    assert views[0].escalated and not views[1].escalated
    assert views[0].next_due is not None and views[0].next_due < clock()


async def test_an_escalated_case_reaches_the_board_on_the_desk_first_by_deadline(runtime: Core, clock: Clock) -> None:
    """Before its deadline the board cannot see an HR case; once escalated it lists it (overdue
    first, flagged) and opens it, and the handler keeps it too."""
    _, older = await file_report(Worker(runtime, "mei", site="north"))
    clock.advance(days=3)
    _, newer = await file_report(Worker(runtime, "ling", site="north"))
    hr = desk(runtime)
    board, handler = PEOPLE["li"], PEOPLE["wang"]
    deadline_first = ListQuery(sort=SortOrder.DEADLINE)
    assert (await hr.desk.list_cases(board, deadline_first, clock())).page.cases == []
    with pytest.raises(CaseNotFound):
        await hr.desk.open(board, newer, clock())
    await hr.read("wang", older, clock())
    clock.advance(days=8)  # newer's acknowledgement is overdue and escalated; older is not
    await Pass(runtime).run()

    seen = (await hr.desk.list_cases(board, deadline_first, clock())).page.cases
    assert [(case.reference, case.escalated) for case in seen] == [(newer, True)]
    assert seen[0].next_due is not None and seen[0].next_due < clock()
    handled = (await hr.desk.list_cases(handler, deadline_first, clock())).page.cases
    assert [case.reference for case in handled] == [newer, older], "overdue first"
    overdue = (await hr.desk.list_cases(handler, ListQuery(overdue=True), clock())).page
    assert [case.reference for case in overdue.cases] == [newer] and overdue.counts["overdue"] == 1
    assert (await hr.desk.open(board, newer, clock())).escalated_at is not None


async def test_the_reporter_hears_neutrally_once_that_the_case_was_acknowledged(runtime: Core, clock: Clock) -> None:
    mei = Worker(runtime, "mei", site="north")
    receipt, reference = await file_report(mei, notify="notify_yes")
    ling = Worker(runtime, "ling", site="north")
    _, quiet = await file_report(ling)
    await desk(runtime).read("wang", reference, clock())
    await desk(runtime).read("wang", quiet, clock())
    jobs = Pass(runtime)
    await jobs.run()
    await jobs.run()
    clock.advance(minutes=5)
    await mei.send("hello")
    assert "You have a new message about your report" in mei.text
    assert "cook" not in mei.text
    await mei.send("hello again")
    assert "new message" not in mei.text, "the notice comes once"
    await ling.send("hello")
    assert "new message" not in ling.text, "no notice without agreeing to notices"
    await mei.choose("status")
    await mei.send(receipt)
    assert "HR has seen it" in mei.text


@pytest.mark.parametrize(
    ("status", "acknowledged", "fed_back", "expected"),
    [
        ("new", False, False, Deadline.ACKNOWLEDGE),
        ("received", False, False, Deadline.ACKNOWLEDGE),  # the desk's name for a new case
        ("acknowledged", False, False, Deadline.FEEDBACK),  # a status past "new" meets the first
        ("investigating", True, True, Deadline.RESOLVE),
        ("new", False, True, Deadline.ACKNOWLEDGE),
        ("action_taken", True, True, None),
        ("no_case_found", True, False, None),
        ("closed", False, False, None),
        ("withdrawn", False, False, None),
    ],
)
def test_the_next_deadline_is_the_earliest_unmet_one(
    status: str, acknowledged: bool, fed_back: bool, expected: Deadline | None
) -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    due = CaseDeadlines(acknowledge_days=2, feedback_days=10, resolve_days=60, time_zone="UTC").due_from(start)
    case = SimpleNamespace(
        status=status,
        acknowledge_due=due[Deadline.ACKNOWLEDGE],
        feedback_due=due[Deadline.FEEDBACK],
        resolve_due=due[Deadline.RESOLVE],
        acknowledged_at=start if acknowledged else None,
        first_feedback_at=start if fed_back else None,
    )
    found = next_deadline(case)
    assert (found.deadline if found else None) is expected
    if found is not None:
        days = {"acknowledge": 2, "feedback": 10, "resolve": 60}[found.deadline]
        assert found.due == datetime(2026, 3, 2, 18, tzinfo=UTC) + timedelta(days=days)


def test_every_report_of_one_day_has_the_same_due_times_at_the_end_of_the_working_day() -> None:
    deadlines = CaseDeadlines(acknowledge_days=7)
    shanghai_day = [datetime(2026, 3, 1, 16, 5, tzinfo=UTC), datetime(2026, 3, 2, 15, 55, tzinfo=UTC)]
    dues = {deadlines.due_from(moment)[Deadline.ACKNOWLEDGE] for moment in shanghai_day}
    assert dues == {datetime(2026, 3, 9, 10, tzinfo=UTC)}, "2 March in Shanghai, 18:00 there a week later"
    assert deadlines.due_from(datetime(2026, 3, 2, 16, 5, tzinfo=UTC))[Deadline.ACKNOWLEDGE].day == 10


async def test_a_pass_that_dies_before_committing_leaves_nothing_done_and_the_next_fires_once(
    runtime: Core, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, reference = await file_report(Worker(runtime, "mei", site="north"))
    clock.advance(days=7, hours=1)  # the acknowledgement deadline has passed
    outbox = runtime.services.outbox
    enqueue = outbox.enqueue

    async def dies(*args: object, **kwargs: object) -> str:
        raise RuntimeError("the process is killed here")

    monkeypatch.setattr(outbox, "enqueue", dies)
    jobs = Pass(runtime)
    with pytest.raises(RuntimeError):
        await jobs.deadlines.run_once()
    assert not (await case(runtime, reference)).escalated, "the claim rolled back with the alert"
    assert await audit_actions(runtime, reference) == []
    monkeypatch.setattr(outbox, "enqueue", enqueue)
    await jobs.run()
    await jobs.run()
    assert len(jobs.deadline_texts(BOARD_CHAT)) == 1 and (await case(runtime, reference)).escalated


def test_a_deadline_is_met_by_its_act_in_time_and_missed_when_late_or_escalated() -> None:
    """What the weekly digest counts: the act (or an outcome closing the case) by the due time
    meets a deadline; late, never, or escalated misses it; a withdrawn case counts for neither."""
    due = datetime(2026, 2, 25, 10, tzinfo=UTC)

    def view(status: str = "acknowledged", acknowledged: datetime | None = None, closed: datetime | None = None):
        return SimpleNamespace(
            status=status,
            acknowledge_due=due,
            feedback_due=due,
            resolve_due=None,
            acknowledged_at=acknowledged,
            first_feedback_at=None,
            closed_at=closed,
        )

    early, late = due - timedelta(days=1), due + timedelta(hours=1)
    assert outcome(view(acknowledged=early), Deadline.ACKNOWLEDGE, escalated=False) == MET
    assert outcome(view(acknowledged=late), Deadline.ACKNOWLEDGE, escalated=False) == MISSED
    assert outcome(view(acknowledged=early), Deadline.ACKNOWLEDGE, escalated=True) == MISSED
    assert outcome(view("new"), Deadline.ACKNOWLEDGE, escalated=False) == MISSED
    assert outcome(view(acknowledged=early), Deadline.FEEDBACK, escalated=False) == MISSED
    assert outcome(view("resolved", early, closed=early), Deadline.FEEDBACK, escalated=False) == MET
    assert outcome(view("resolved", early, closed=late), Deadline.FEEDBACK, escalated=False) == MISSED
    assert outcome(view("withdrawn", early), Deadline.ACKNOWLEDGE, escalated=True) is None
    assert outcome(view(acknowledged=early), Deadline.RESOLVE, escalated=False) is None  # no due time


async def test_the_longest_allowed_reminder_never_names_a_late_evening_report_at_once(
    database_url: str, tmp_path: Path, keyring: KeyRing, clock: Clock, faq_service: object,
    quiz_library: object, receipt_hasher: object,
) -> None:
    """acknowledge_days = 1 allows a reminder at most 18 hours before: a report at 23:50 in Shanghai is
    due at 18:00 the next day, so its reminder comes at midnight, never in the minute after the report
    (which would tell the HR chat when it arrived, before the alert's random delay hides it)."""
    north = {
        "name": {"zh": "北厂", "en": "North Plant"},
        "hr_chats": ["telegram:-1001"],
        "board_chats": ["telegram:-1002"],
        "deadlines": {"acknowledge_days": 1, "remind_before_hours": 18},
    }
    config = make_config(database_url, tmp_path / "data", main={"name": "Main"}, north=north)
    core = await build_core(
        config, keyring=keyring, clock=clock, faq=faq_service, quizzes=quiz_library, hasher=receipt_hasher
    )
    try:
        clock.now = datetime(2026, 3, 2, 15, 50, tzinfo=UTC)  # 23:50 in Shanghai
        _, reference = await file_report(Worker(core, "mei", site="north"))
        jobs = Pass(core)
        clock.now += timedelta(minutes=1)
        await jobs.run()
        assert not [text for text in jobs.texts(HR_CHAT) if reference in text and "⏰" in text]
        clock.now = datetime(2026, 3, 2, 16, 1, tzinfo=UTC)  # 00:01 in Shanghai
        await jobs.run()
        assert len([text for text in jobs.texts(HR_CHAT) if reference in text and "⏰" in text]) == 1
    finally:
        await core.close()
