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
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Services
from handlers.report import alert_audience
from storage import audit
from storage.case_deadlines import DueDeadline, acknowledged_notice_key
from storage.crypto import DecryptionError
from storage.database import Database
from storage.deadline_rules import CaseDeadlines
from storage.messages import AlertAudience, DeadlineAlert, ReporterNotice

log = logging.getLogger(__name__)

SYSTEM = "system"


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
        """Returns how many reminders, escalations and notices it queued."""
        services = self._services
        repository = services.case_deadlines
        now = services.clock()
        queued = 0
        async with self._database.transaction() as session:
            await repository.stamp_missing(session, self._deadlines)
            for item in await repository.due_deadlines(session, now, self._deadlines, self._max_lead()):
                queued += await self._fire(session, item)
            for case in await repository.acknowledged_unnoticed(session, now):
                if not await repository.claim(session, case.id, acknowledged_notice_key(case.round), now):
                    continue
                contact = await self._contact(session, case.id)
                if contact:  # only a reporter who agreed to notices left a contact
                    await services.outbox.enqueue(session, ReporterNotice(contact, case.site, "acknowledged"), now)
                    queued += 1
        return queued

    async def _fire(self, session: AsyncSession, item: DueDeadline) -> int:
        services = self._services
        now = services.clock()
        case = item.case
        if not await services.case_deadlines.claim(session, case.id, item.key, now):
            return 0
        audience: AlertAudience = "board" if item.overdue else await self._audience(session, case.id)
        alert = DeadlineAlert(
            site=case.site,
            reference=case.reference,
            deadline=item.deadline.deadline.value,
            stage="missed" if item.overdue else "reminder",
            due=item.deadline.due.astimezone(ZoneInfo(services.settings.time_zone)).date().isoformat(),
            audience=audience,
        )
        await services.outbox.enqueue(session, alert, now)
        if item.overdue:
            await services.case_deadlines.mark_escalated(session, case.id, now)
            await audit.record(session, SYSTEM, f"escalate:{item.deadline.deadline.value}", case.reference, now)
        return 1

    async def _audience(self, session: AsyncSession, case_id: str) -> AlertAudience:
        """Where the case's alerts go; a report this process cannot open is treated as the board's,
        so a case about HR is never named in an HR chat."""
        try:
            return alert_audience(await self._services.cases.read_report(session, case_id))
        except (DecryptionError, ValueError):
            log.error("a deadline reminder goes to the board: the case's report cannot be opened")
            return "board"

    async def _contact(self, session: AsyncSession, case_id: str) -> str | None:
        try:
            return await self._services.cases.read_contact(session, case_id)
        except (DecryptionError, ValueError):
            log.error("an acknowledgement notice is dropped: the case's contact cannot be opened")
            return None
