"""Retaliation check-ins on SQLite and PostgreSQL with a hand-moved clock: 30, 60 and 90 days
after a case closes its reporter (if they agreed to notices) gets one neutral notice each; after
the receipt they are asked whether anything happened to them because of the report; yes reopens
the case as urgent and alerts at once (the board for a case about a supervisor), no changes nothing."""

from __future__ import annotations

from bot.core import Core
from storage.cases import CaseStatus
from storage.deadline_rules import Deadline, next_deadline

from .conftest import Clock, Worker
from .deadlines_kit import BOARD_CHAT, HR_CHAT, Pass, audit_actions, case, desk, file_report

QUESTION = "Has anything happened to you because of the report?"


async def close(runtime: Core, reference: str, clock: Clock) -> None:
    await desk(runtime).set_status("wang", reference, CaseStatus.CLOSED, clock())


async def test_one_neutral_check_in_at_30_60_and_90_days_and_no_changes_nothing(runtime: Core, clock: Clock) -> None:
    mei = Worker(runtime, "mei", site="north")
    receipt, reference = await file_report(mei, notify="notify_yes")
    clock.advance(days=1)
    await close(runtime, reference, clock)
    jobs = Pass(runtime)
    await jobs.run()
    clock.advance(days=29, hours=23)
    assert await jobs.checkins.run_once() == 0, "not before 30 days"
    clock.advance(hours=2)
    assert [await jobs.checkins.run_once(), await jobs.checkins.run_once()] == [1, 0]

    await jobs.run()
    await mei.send("hello")
    assert "You have a new message about your report" in mei.text and "cook" not in mei.text
    await mei.choose("status")
    await mei.send(receipt)
    assert QUESTION in mei.text and {"harm_yes", "harm_no"} <= set(mei.choices)
    closed_before = await case(runtime, reference)
    await mei.choose("harm_no")
    assert "Thank you" in mei.text and "Status: Closed" in mei.text
    assert await case(runtime, reference) == closed_before, "no records nothing"
    assert [action for actor, action in await audit_actions(runtime, reference) if actor == "reporter"] == []

    made = []
    for _ in range(3):  # days 61, 91, 121
        clock.advance(days=30)
        made += [await jobs.checkins.run_once(), await jobs.checkins.run_once()]
    assert made == [1, 0, 1, 0, 0, 0], "one more at 60 and at 90 days, each once, none after"
    await mei.choose("menu")
    await mei.choose("status")
    await mei.send(receipt)
    assert QUESTION not in mei.text, "the last check-in was 30 days ago"


async def test_yes_reopens_as_urgent_and_alerts_the_board_at_once(runtime: Core, clock: Clock) -> None:
    mei = Worker(runtime, "mei", site="north")
    receipt, reference = await file_report(mei, notify="notify_yes", involved="supervisor")
    jobs = Pass(runtime)
    clock.advance(hours=2)
    await jobs.run()  # the report's own alert
    await desk(runtime).set_status("li", reference, CaseStatus.CLOSED, clock())
    clock.advance(days=30)
    await jobs.run()
    before = len(jobs.texts(BOARD_CHAT))
    await mei.choose("status")
    await mei.send(receipt)
    assert QUESTION in mei.text
    await mei.choose("harm_yes")
    assert "open again as urgent" in mei.text
    reopened = await case(runtime, reference)
    assert reopened.status is CaseStatus.RECEIVED and reopened.urgent and reopened.round == 2
    upcoming = next_deadline(reopened)
    assert upcoming is not None and upcoming.deadline is Deadline.ACKNOWLEDGE and upcoming.due > clock()
    await jobs.run()  # the same moment: the alert is not delayed
    alerts = jobs.texts(BOARD_CHAT)[before:]
    assert len(alerts) == 1 and reference in alerts[0] and "🆘" in alerts[0]
    assert "something happened to them because of the report" in alerts[0]
    assert [text for text in jobs.texts(HR_CHAT) if reference in text] == [], "a case about a supervisor"
    assert ("reporter", "reopen:retaliation") in await audit_actions(runtime, reference)
    await mei.choose("menu")
    await mei.choose("status")
    await mei.send(receipt)
    assert QUESTION not in mei.text, "an open case is not checked in on"


async def test_a_reporter_who_did_not_agree_to_notices_gets_nothing_pushed(runtime: Core, clock: Clock) -> None:
    mei = Worker(runtime, "mei", site="north")
    receipt, reference = await file_report(mei, notify="notify_no")
    await close(runtime, reference, clock)
    jobs = Pass(runtime)
    clock.advance(days=30, hours=1)
    assert await jobs.checkins.run_once() == 0
    await jobs.run()
    await mei.send("hello")
    assert "new message" not in mei.text
    # Checking on their own, they are still asked.
    await mei.choose("status")
    await mei.send(receipt)
    assert QUESTION in mei.text


async def test_a_case_reopened_by_hr_is_not_checked_in_on(runtime: Core, clock: Clock) -> None:
    mei = Worker(runtime, "mei", site="north")
    _, reference = await file_report(mei, notify="notify_yes")
    await close(runtime, reference, clock)
    clock.advance(days=10)
    await desk(runtime).set_status("wang", reference, CaseStatus.INVESTIGATING, clock())
    clock.advance(days=100)
    assert await Pass(runtime).checkins.run_once() == 0
    assert (await case(runtime, reference)).closed_at is None
