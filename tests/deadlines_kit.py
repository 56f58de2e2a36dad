"""What deadline and check-in tests share: a report filed at the north site (HR chat -1001, board
chat -1002), the HR desk, one pass of the deadline jobs, and what reached each chat."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.core import Core
from bot.jobs import JobDeps, delivery_pass
from bot.jobs.alert_routing import routes_from_config
from bot.jobs.case_deadlines import CaseDeadlineJob
from bot.jobs.checkins import CheckinJob
from bot.jobs.ratelimit import RateLimiter
from bot.serve import push_windows
from handlers.hr import CaseDesk, desk_for
from storage import audit
from storage.cases import CaseStatus, CaseView
from storage.people import Person, Role

from .flows import receipt_in, reference_in, report_script
from .reminders_kit import RecordingSink

HR_CHAT = "-1001"
BOARD_CHAT = "-1002"


async def file_report(worker: Any, *, notify: str = "notify_no", involved: str = "coworker") -> tuple[str, str]:
    """Files a report at the worker's site; returns (receipt, reference)."""
    await worker.send("/start")
    for line in report_script(["The cook keeps cornering me"], notify=notify, involved=involved):
        await worker.send(line.get("text"), choice=line.get("choice"))
    return receipt_in(worker.text), reference_in(worker.text)


PEOPLE = {
    "wang": Person("acct-wang", "wang", Role.HANDLER, frozenset({"main", "north"})),
    "li": Person("acct-li", "li", Role.BOARD, frozenset()),
}
CLOSING_OUTCOME = "Looked into with both sides; the line leader was warned."


class DeskAs:
    """The HR desk acting as a person named ``wang`` (a handler) or ``li`` (a board member); each
    call runs its own transaction, as the desk's pages do. Closing writes an outcome."""

    def __init__(self, desk: CaseDesk) -> None:
        self.desk = desk

    async def read(self, name: str, reference: str, now: datetime) -> None:
        await self.desk.open(PEOPLE[name], reference, now)

    async def reply(self, name: str, reference: str, text: str, now: datetime) -> None:
        await self.desk.reply(PEOPLE[name], reference, text, now)

    async def set_status(self, name: str, reference: str, status: CaseStatus, now: datetime) -> None:
        outcome = CLOSING_OUTCOME if status is CaseStatus.CLOSED else ""
        await self.desk.set_status(PEOPLE[name], reference, status, now, outcome=outcome)


def desk(runtime: Core) -> DeskAs:
    services = runtime.services
    return DeskAs(desk_for(runtime.database, services.cases, services.evidence, services.outbox))


async def case(runtime: Core, reference: str) -> CaseView:
    async with runtime.database.transaction(write=False) as session:
        found = await runtime.services.cases.by_reference(session, reference)
    assert found is not None
    return found


async def audit_actions(runtime: Core, reference: str) -> list[tuple[str, str]]:
    async with runtime.database.transaction(write=False) as session:
        return [(entry.actor, entry.action) for entry in await audit.entries_for(session, reference)]


class Pass:
    """The deadline, check-in and delivery jobs of one process, delivering into recording sinks."""

    def __init__(self, runtime: Core, sinks: Mapping[str, Any] | None = None) -> None:
        self.runtime = runtime
        self.sinks = dict(sinks or {"telegram": RecordingSink()})
        # No rate limits: the test's clock, not real seconds, says when things are due.
        unlimited = {platform: RateLimiter(time.monotonic) for platform in ("telegram", "wechat", "wecom")}
        deps = JobDeps(
            runtime.database,
            runtime.services,
            self.sinks,
            routes_from_config(runtime.config),
            push_windows(),
            limiters=unlimited,
        )
        self.deadlines = CaseDeadlineJob(runtime.database, runtime.services)
        self.checkins = CheckinJob(runtime.database, runtime.services)
        self.delivery = delivery_pass(deps)

    async def run(self) -> int:
        """One tick of each job, then delivery of everything due; returns how many messages went out."""
        await self.deadlines.run_once()
        await self.checkins.run_once()
        sent = 0
        while delivered := await self.delivery.run_once():
            sent += delivered
        return sent

    def texts(self, chat: str) -> list[str]:
        sink = self.sinks["telegram"]
        assert isinstance(sink, RecordingSink)
        return sink.texts(chat)

    def deadline_texts(self, chat: str) -> list[str]:
        return [text for text in self.texts(chat) if "Deadline" in text]
