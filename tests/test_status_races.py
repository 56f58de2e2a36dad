"""The reporter's status session against what HR does meanwhile, and what her withdrawal keeps.

A status session lasts minutes: HR may close the case while she is at the "withdraw?" or "what do
you want to add?" question. Her late answer must not overwrite HR's outcome (which would also end
the retaliation check-ins that follow an outcome), and a withdrawal, her act, is kept to the hour
like her other acts, not as an acknowledgement to the second."""

from __future__ import annotations

from bot.core import Core
from storage.cases import CaseStatus

from .conftest import Clock, Worker
from .deadlines_kit import case, desk, file_report


async def _at_case(runtime: Core, name: str, clock: Clock | None = None, **later: float) -> tuple[Worker, str]:
    """A filed report, and its reporter back at her case (``later`` after filing, on ``clock``)."""
    worker = Worker(runtime, name, site="north")
    receipt, reference = await file_report(worker)
    if clock is not None:
        clock.advance(**later)
    await worker.choose("status")
    await worker.send(receipt)
    return worker, reference


async def test_a_withdrawal_confirmed_after_hr_closed_the_case_leaves_hrs_outcome(runtime: Core, clock: Clock) -> None:
    ling, reference = await _at_case(runtime, "ling")
    await ling.choose("withdraw")  # asked to confirm
    await desk(runtime).set_status("wang", reference, CaseStatus.CLOSED, clock())
    await ling.choose("withdraw_yes")
    assert (await case(runtime, reference)).status is CaseStatus.CLOSED
    assert "closed in the meantime" in ling.text and "withdrawn" not in ling.text.lower()
    assert "withdraw" not in ling.choices, "a closed case offers no withdrawal"


async def test_information_sent_after_hr_closed_the_case_is_not_added_and_she_is_told(
    runtime: Core, clock: Clock
) -> None:
    mei, reference = await _at_case(runtime, "mei")
    await mei.choose("add_info")
    await desk(runtime).set_status("wang", reference, CaseStatus.CLOSED, clock())
    await mei.send("He did it again on Monday")
    found = await case(runtime, reference)
    async with runtime.database.transaction(write=False) as session:
        messages = await runtime.services.cases.messages(session, found.id)
    assert found.status is CaseStatus.CLOSED and messages == []
    assert "closed in the meantime" in mei.text and "new report" in mei.text


async def test_a_withdrawal_is_no_acknowledgement_and_keeps_her_time_to_the_hour(runtime: Core, clock: Clock) -> None:
    clock.advance(minutes=17, seconds=3)
    ling, reference = await _at_case(runtime, "ling", clock, hours=3, minutes=41, seconds=29)
    await ling.choose("withdraw")
    await ling.choose("withdraw_yes")
    withdrawn = await case(runtime, reference)
    assert withdrawn.status is CaseStatus.WITHDRAWN
    assert withdrawn.acknowledged_at is None, "HR never acknowledged it; the second she withdrew is not kept"
    assert (withdrawn.updated_at.minute, withdrawn.updated_at.second) == (0, 0)
