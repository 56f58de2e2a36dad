"""Retaliation check-ins: 30, 60 and 90 days after a case closes, its reporter is asked, neutrally,
to check their case; the status flow then asks whether anything happened to them because of the
report (``handlers/status.py``).

Only a reporter who agreed to notices left a contact, and only they get a push; the contact stays
sealed under the case's key and travels only inside the sealed outbox row. On a channel that may
not push now (WeChat past 48 hours, the console) the notice waits for the worker's next message
(``bot/jobs/reporter_notices.py``). Each check-in is recorded once (``case_events``, state
``asked``); when the process was down past several, they are recorded together and pushed once.
"""

from __future__ import annotations

import logging

from handlers.context import Services
from storage.case_deadlines import ASKED, checkin_key
from storage.crypto import DecryptionError
from storage.database import Database
from storage.messages import ReporterNotice

log = logging.getLogger(__name__)

BATCH = 100


class CheckinJob:
    def __init__(self, database: Database, services: Services) -> None:
        self._database = database
        self._services = services

    async def run_once(self) -> int:
        """Records due check-ins and queues their notices; returns how many notices it queued."""
        services = self._services
        repository = services.case_deadlines
        now = services.clock()
        queued = 0
        async with self._database.transaction(write=False) as session:
            due = await repository.due_checkins(session, now)
        for start in range(0, len(due), BATCH):
            async with self._database.transaction() as session:
                batch = await repository.still_closed(session, due[start : start + BATCH])
                wanted = [(item.case.id, key) for item in batch for key in item.keys]
                claimed = await repository.claim_many(session, wanted, now, ASKED)
                for item in batch:
                    case = item.case
                    if (case.id, checkin_key(case.round, item.days)) not in claimed:
                        continue
                    try:
                        contact = await services.cases.read_contact(session, case.id)
                    except (DecryptionError, ValueError):
                        log.error("a check-in notice is dropped: the case's contact cannot be opened")
                        continue
                    if contact:
                        await services.outbox.enqueue(session, ReporterNotice(contact, case.site, "checkin"), now)
                        queued += 1
        return queued
