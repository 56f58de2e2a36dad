"""Timed work: every job the process runs on a clock, in one list.

Each job is one module in this folder and one line in :func:`timed_jobs`. APScheduler only keeps
time (``scheduler.py``); what is due lives in our own tables and is judged against the injectable
clock, so a restart loses nothing and replicas share work by claiming rows. A new timed job —
quiz reminders, case deadlines, a broadcast — is a module here with an async ``run_once`` and a
line below; it receives what it uses in :class:`JobDeps`, never the whole process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.channels.push import PushWindow
from bot.channels.sinks import Sink
from bot.jobs.alert_routing import AlertRouter, SiteRoute
from bot.jobs.broadcast import ReminderSender
from bot.jobs.case_deadlines import CaseDeadlineJob
from bot.jobs.checkins import CheckinJob
from bot.jobs.cleaner import Cleaner
from bot.jobs.delivery import DeliveryPass
from bot.jobs.digest import DigestJob, DigestSchedules
from bot.jobs.ratelimit import RateLimiter
from bot.jobs.reminders import ReminderJob
from bot.jobs.reporter_notices import ReporterNotices
from bot.jobs.schedules import ReminderSchedules
from bot.jobs.sender import OutboxSender
from handlers.context import Services
from storage.database import Database

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Job:
    """A timed job: APScheduler calls ``run_once`` every ``every``; a run still going is not doubled."""

    name: str
    every: timedelta
    run_once: Callable[[], Awaitable[object]]
    first_after: timedelta | None = None


@dataclass(frozen=True)
class JobDeps:
    """What the timed jobs use: the store, the core's services, the platforms' sinks, alert routes,
    each channel's push window (when a job may push to a worker, by channel name), the sites'
    reminder schedules, the sites' weekly digests, the rate limiters every sender of the process shares (by platform;
    each sender keeps its own when there are none), and the event that says the process stops."""

    database: Database
    services: Services
    sinks: Mapping[str, Sink]
    routes: Mapping[str, SiteRoute]
    push_windows: Mapping[str, PushWindow]
    schedules: ReminderSchedules = field(default_factory=ReminderSchedules)
    limiters: Mapping[str, RateLimiter] | None = None
    stopping: asyncio.Event | None = None  # set when the process stops: long passes end after their batch
    digests: DigestSchedules = field(default_factory=DigestSchedules)


def build_sender(deps: JobDeps, *, concurrency: int = 4, notices: ReporterNotices | None = None) -> OutboxSender:
    """The outbox sender of this process; rows for a platform without a sink here wait for one."""
    services = deps.services
    router = AlertRouter(services.outbox, deps.routes, services.translators)
    notices = notices or ReporterNotices(services, deps.push_windows)
    return OutboxSender(
        deps.database,
        services.outbox,
        deps.sinks,
        services.clock,
        router=router,
        limiters=deps.limiters,
        concurrency=concurrency,
        hold_notice=notices.hold,
    )


def delivery_pass(deps: JobDeps) -> DeliveryPass:
    notices = ReporterNotices(deps.services, deps.push_windows)
    return DeliveryPass(deps.database, notices, build_sender(deps, notices=notices), deps.services.clock)


def reminder_job(deps: JobDeps) -> ReminderJob:
    return ReminderJob(deps.database, deps.services, deps.schedules, deps.push_windows)


def reminder_sender(deps: JobDeps) -> ReminderSender:
    schedules = deps.schedules
    return ReminderSender(
        deps.database,
        deps.services,
        deps.sinks,
        schedules=schedules,
        limiters=deps.limiters,
        batch_size=schedules.batch_size,
        lease=schedules.lease,
        stopping=deps.stopping,
    )


def timed_jobs(deps: JobDeps) -> list[Job]:
    """The process's timed jobs, in one place."""
    return [
        Job("delivery", every=SECOND, run_once=delivery_pass(deps).run_once),
        Job("cleaning", every=HOUR, first_after=MINUTE, run_once=Cleaner(deps.database, deps.services).run_once),
        Job("reminders", every=SECOND, run_once=reminder_job(deps).run_once),
        Job("reminder sends", every=SECOND, run_once=reminder_sender(deps).run_once),
        Job("weekly digest", every=MINUTE, run_once=DigestJob(deps.database, deps.services, deps.digests).run_once),
        Job("case deadlines", every=MINUTE, run_once=CaseDeadlineJob(deps.database, deps.services).run_once),
        Job("check-ins", every=MINUTE, run_once=CheckinJob(deps.database, deps.services).run_once),
    ]
