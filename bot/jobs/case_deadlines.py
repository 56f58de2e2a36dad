"""Case deadlines: HR's chat is reminded before each deadline, a missed one is escalated to the
advocacy board, and the reporter hears (neutrally) that the case was acknowledged.

Each piece of work happens once: its key is recorded in ``case_events`` in the same transaction as
the outbox rows it queues (``storage.case_deadlines``), so a second pass, a restart or another
replica does nothing twice, and a crash before commit leaves nothing done. A closed or withdrawn
case has no deadline; a deadline met in time (acknowledged, first reply, resolved) never fires.

Who is told follows the case alerts: a reminder goes where the case's alerts go (HR, or the board
for a case about a supervisor, a manager or HR); an escalation goes to the board. Both carry the
reference, the deadline and its day, and a desk link when ``[web] public_url`` is set — nothing of
the report. An escalation marks the case (``escalated_at``, which lets the board see it on the
desk) and is audited with the actor ``system``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Services
from handlers.report import case_audience
from storage import audit
from storage.case_deadlines import DueDeadline, acknowledged_notice_key
from storage.case_index import Audience
from storage.crypto import DecryptionError
from storage.database import Database
from storage.deadline_rules import CaseDeadlines
from storage.messages import AlertAudience, DeadlineAlert, ReporterNotice

log = logging.getLogger(__name__)

SYSTEM = "system"
BATCH = 100


def audience_of(tagged: Audience | None, report: Mapping[str, object] | None) -> AlertAudience:
    """Where a case's reminders go: where its follow-ups go (``handlers.report.case_audience``), so
    a case a handler handed to the board is never named in the HR chat again."""
    if report is None and tagged not in (Audience.BOARD, Audience.RECUSED):
        log.error("a deadline reminder goes to the board: the case's report cannot be opened")
    return case_audience(tagged, report)


class CaseDeadlineJob:
    """One pass: stamp new cases' deadlines, send due reminders and escalations, and queue the
    reporter's acknowledgement notices."""

    def __init__(self, database: Database, services: Services) -> None:
        self._database = database
        self._services = services

    def _deadlines(self, site: str) -> CaseDeadlines:
        return self._services.settings.site(site).deadlines

    def _max_lead(self) -> timedelta:
        leads = [site.deadlines.remind_before for site in self._services.settings.sites.values()]
        return max([CaseDeadlines().remind_before, *leads])

    async def run_once(self) -> int:
        """Returns how many reminders, escalations and notices it queued. The scan is one read;
        the work is claimed and queued ``BATCH`` at a time, each batch its own short transaction,
        so a morning when hundreds fall due never holds the write lock for long."""
        services = self._services
        repository = services.case_deadlines
        now = services.clock()
        async with self._database.transaction(write=False) as session:
            unstamped = await repository.any_unstamped(session)
        if unstamped:  # new cases created without their site's deadlines, or from before them
            async with self._database.transaction() as session:
                await repository.stamp_missing(session, self._deadlines)
        async with self._database.transaction(write=False) as session:  # the scan holds no write lock
            due = await repository.due_deadlines(session, now, self._deadlines, self._max_lead())
            acknowledged = await repository.acknowledged_unnoticed(session, now)
        queued = 0
        for start in range(0, len(due), BATCH):
            async with self._database.transaction() as session:
                queued += await self._fire(session, due[start : start + BATCH], now)
        for start in range(0, len(acknowledged), BATCH):
            async with self._database.transaction() as session:
                cases = acknowledged[start : start + BATCH]
                keys = [(case.id, acknowledged_notice_key(case.round)) for case in cases]
                claimed = await repository.claim_many(session, keys, now)
                for case, key in zip(cases, keys, strict=True):
                    contact = await self._contact(session, case.id) if key in claimed else None
                    if contact:  # only a reporter who agreed to notices left a contact
                        await services.outbox.enqueue(session, ReporterNotice(contact, case.site, "acknowledged"), now)
                        queued += 1
        return queued

    async def _fire(self, session: AsyncSession, due: list[DueDeadline], now: datetime) -> int:
        """Claims a batch of reminders and escalations still due, and queues their notes; the
        escalated cases are marked and audited. Returns how many notes it queued."""
        services = self._services
        repository = services.case_deadlines
        batch = await repository.still_due(session, due)
        claimed = await repository.claim_many(session, [(item.case.id, item.key) for item in batch], now)
        fired = [item for item in batch if (item.case.id, item.key) in claimed]
        reminded = [item.case.id for item in fired if not item.overdue]
        reports = await services.cases.read_reports(session, reminded)
        tags = await services.cases.index.audiences(session, reminded)
        zone = ZoneInfo(services.settings.time_zone)
        for item in fired:
            case = item.case
            alert = DeadlineAlert(
                site=case.site,
                reference=case.reference,
                deadline=item.deadline.deadline.value,
                stage="missed" if item.overdue else "reminder",
                due=item.deadline.due.astimezone(zone).date().isoformat(),
                audience="board" if item.overdue else audience_of(tags.get(case.id), reports.get(case.id)),
            )
            await services.outbox.enqueue(session, alert, now)
            if item.overdue:
                await audit.record(session, SYSTEM, f"escalate:{item.deadline.deadline.value}", case.reference, now)
        await repository.mark_escalated(session, [item.case.id for item in fired if item.overdue], now)
        return len(fired)

    async def _contact(self, session: AsyncSession, case_id: str) -> str | None:
        try:
            return await self._services.cases.read_contact(session, case_id)
        except (DecryptionError, ValueError):
            log.error("an acknowledgement notice is dropped: the case's contact cannot be opened")
            return None
