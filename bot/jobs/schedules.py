"""From the config to occasions: when each site's schedules fire, who is eligible, what is said.

Occasion ids say what they are, so nothing about an occasion needs storing besides its times:
``training:<site>:<day>``, ``quiz:<site>:<day>``, ``onboarding:<site>:<day>:day3`` (or ``day30``)
and ``<name>:<site>`` for an announcement added with ``hapbot remind add``. Every time is the
site's own (``[sites.<id>.reminders] time_zone``); stored times are UTC.

The onboarding welcome (day 0) is said in the conversation when a worker turns reminders on; the
later steps are daily occasions, each for the subscribers who joined that many days before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Config, OnboardingSchedule, QuizSchedule, SiteSection, TrainingSchedule
from bot.preflight import local
from handlers import reminder_texts as texts
from handlers.i18n import Translator
from handlers.reminder_rules import QuietHours, at_local, parse_clock, parse_quiet, parse_rule, zone
from handlers.settings import pick
from storage.reminders import Occasion
from storage.subscriptions import Subscription

TRAINING = "training"
QUIZ = "quiz"
ONBOARDING = "onboarding"
RESERVED = frozenset({TRAINING, QUIZ, ONBOARDING})
ONBOARDING_STEPS = (3, 30)
ONBOARDING_VALID = timedelta(days=2)


@dataclass(frozen=True)
class SitePlan:
    """One site's reminder settings, read once from the config."""

    site: str
    tz: ZoneInfo
    quiet: QuietHours
    template_id: str | None
    training: TrainingSchedule | None
    quiz: QuizSchedule | None
    onboarding: OnboardingSchedule
    place: Mapping[str, str] = field(default_factory=dict)
    advocacy_board: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, site_id: str, site: SiteSection) -> SitePlan:
        reminders = site.reminders
        training = reminders.training
        place = local(training.place) if training and training.place else local(site.facts.get("training_place", ""))
        return cls(
            site=site_id,
            tz=zone(reminders.time_zone),
            quiet=parse_quiet(reminders.quiet_hours),
            template_id=reminders.wechat_template_id or None,
            training=training,
            quiz=reminders.quiz,
            onboarding=reminders.onboarding,
            place={k: v for k, v in place.items() if v},
            advocacy_board={k: v for k, v in local(site.facts.get("advocacy_board", "")).items() if v},
        )


@dataclass(frozen=True)
class ReminderSchedules:
    """Every site's plan and the process-wide reminder settings."""

    sites: Mapping[str, SitePlan] = field(default_factory=dict)
    grace: timedelta = timedelta(hours=6)
    batch_size: int = 200
    lease: timedelta = timedelta(seconds=120)

    @classmethod
    def from_config(cls, config: Config) -> ReminderSchedules:
        section = config.reminders
        return cls(
            sites={site_id: SitePlan.from_config(site_id, site) for site_id, site in config.sites.items()},
            grace=timedelta(hours=section.grace_hours),
            batch_size=section.batch_size,
            lease=timedelta(seconds=section.send_lease_seconds),
        )


@dataclass(frozen=True)
class Described:
    """What an occasion id says: its schedule, site, day (None for announcements) and onboarding step."""

    schedule: str
    site: str
    day: date | None = None
    step: int = 0


def describe(occasion_id: str) -> Described:
    parts = occasion_id.split(":")
    schedule, site = parts[0], parts[1] if len(parts) > 1 else ""
    if schedule in RESERVED and len(parts) >= 3:
        step = int(parts[3].removeprefix("day")) if schedule == ONBOARDING and len(parts) > 3 else 0
        return Described(schedule, site, date.fromisoformat(parts[2]), step)
    return Described(schedule, site)


def announcement_id(name: str, site: str) -> str:
    return f"{name}:{site}"


def occasions_between(plan: SitePlan, start: datetime, end: datetime) -> list[Occasion]:
    """The occasions of the site's schedules due from ``start`` to ``end``."""
    tz = plan.tz
    first = (start.astimezone(tz) - timedelta(days=1)).date()
    last = (end.astimezone(tz) + timedelta(days=31)).date()
    found: list[Occasion] = []
    if plan.training is not None:
        training = plan.training
        days = set(training.dates)
        if training.rule:
            days.update(parse_rule(training.rule).dates(first, last + timedelta(days=training.remind_days_before)))
        begins = parse_clock(training.at)
        send = parse_clock(training.send_at)
        for day in sorted(days):
            starts = at_local(day, begins, tz)
            due = at_local(day - timedelta(days=training.remind_days_before), send, tz)
            found.append(Occasion(f"{TRAINING}:{plan.site}:{day.isoformat()}", TRAINING, plan.site, due, starts))
    if plan.quiz is not None:
        quiz = plan.quiz
        send = parse_clock(quiz.send_at)
        for day in parse_rule(quiz.rule).dates(first, last):
            due = at_local(day, send, tz)
            ends = due + timedelta(days=quiz.valid_days)
            found.append(Occasion(f"{QUIZ}:{plan.site}:{day.isoformat()}", QUIZ, plan.site, due, ends))
    if plan.onboarding.enabled:
        send = parse_clock(plan.onboarding.send_at)
        day = first
        while day <= (end.astimezone(tz)).date():
            due = at_local(day, send, tz)
            for step in ONBOARDING_STEPS:
                occasion_id = f"{ONBOARDING}:{plan.site}:{day.isoformat()}:day{step}"
                found.append(Occasion(occasion_id, ONBOARDING, plan.site, due, due + ONBOARDING_VALID))
            day += timedelta(days=1)
    return [occasion for occasion in found if start <= occasion.due_at <= end]


def eligible(occasion: Occasion, subscription: Subscription, plan: SitePlan) -> bool:
    """Whether the subscriber gets the occasion: same site, and for an onboarding step, joined
    exactly that many days before (site time)."""
    if subscription.site != occasion.site:
        return False
    described = describe(occasion.id)
    if described.schedule != ONBOARDING or described.day is None:
        return True
    joined = datetime.fromtimestamp(subscription.joined_hour * 3600, plan.tz).date()
    return joined == described.day - timedelta(days=described.step)


def quiet_of(subscription: Subscription, plan: SitePlan) -> QuietHours:
    if subscription.quiet:
        try:
            return parse_quiet(subscription.quiet)
        except ValueError:
            return plan.quiet
    return plan.quiet


def allowed_time(moment: datetime, quiet: QuietHours, tz: ZoneInfo) -> datetime:
    """``moment``, or the end of the quiet hours it falls in (site time)."""
    return quiet.next_allowed(moment.astimezone(tz))


@dataclass(frozen=True)
class Withheld:
    """Why a reminder may not reach a worker now: dropped for ``reason``, or (``later`` set) not
    before the end of her quiet hours."""

    reason: str
    later: datetime | None = None


def withheld(
    occasion: Occasion | None, subscription: Subscription | None, sites: Mapping[str, SitePlan], now: datetime
) -> Withheld | None:
    """What stops a reminder of ``occasion`` reaching this subscriber at ``now``, or None when
    nothing does. Asked when a due reminder is settled and again when a queued one is sent, since
    a row may wait long in between (she may have turned reminders off, the occasion ended, night
    fallen)."""
    if occasion is None:
        return Withheld("unknown_occasion")
    if now >= occasion.ends_at:
        return Withheld("expired")
    if subscription is None:
        return Withheld("unsubscribed")
    plan = sites.get(subscription.site)
    if plan is None:
        return Withheld("unknown_site")
    allowed = allowed_time(now, quiet_of(subscription, plan), plan.tz)
    if allowed <= now:
        return None
    if allowed >= occasion.ends_at:
        return Withheld("quiet")
    return Withheld("quiet_moved", allowed.astimezone(UTC))


def wording(t: Translator, occasion: Occasion, plan: SitePlan | None, language: str) -> texts.Wording:
    """What the occasion says to a worker reading ``language``."""
    described = describe(occasion.id)
    if described.schedule == TRAINING and plan is not None and plan.training is not None:
        starts = occasion.ends_at.astimezone(plan.tz)
        return texts.compose(t, texts.training(t, starts, pick(plan.place, language) if plan.place else ""))
    if described.schedule == QUIZ and plan is not None:
        quiz_id = plan.quiz.quiz if plan.quiz is not None else ""
        return texts.compose(t, t(texts.MONTHLY_QUIZ), f"quiz:{quiz_id}" if quiz_id else "quiz")
    if described.schedule == ONBOARDING and plan is not None:
        if described.step == ONBOARDING_STEPS[0]:
            return texts.compose(t, t(texts.ONBOARDING_QUIZ), f"quiz:{plan.onboarding.quiz}")
        board = pick(plan.advocacy_board, language) if plan.advocacy_board else ""
        return texts.compose(t, t(texts.ONBOARDING_HELP, advocacy_board=board))
    content = occasion.content
    body = pick(content.texts, language) if content is not None else ""
    return texts.compose(t, t(texts.ANNOUNCEMENT, text=body), content.opens if content is not None else "")
