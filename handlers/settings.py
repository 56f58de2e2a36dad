"""What handlers need to know about the deployment, free of the config file's format.

``bot/`` builds these from the validated config; handlers never import ``bot``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from storage.deadline_rules import CaseDeadlines

LocalText = Mapping[str, str]  # language -> text


def pick(text: LocalText, language: str) -> str:
    """The text in ``language``, else Chinese, else any."""
    return text.get(language) or text.get("zh") or next(iter(text.values()), "")


@dataclass(frozen=True)
class ReminderRules:
    """What the conversation shows of a site's reminders: its default quiet hours (site time) and
    the quiz a candidate link and the onboarding open."""

    quiet_hours: str = "22:00-07:00"
    onboarding_quiz: str = "onboarding"


@dataclass(frozen=True)
class SiteInfo:
    id: str
    name: LocalText
    contacts: Mapping[str, LocalText] = field(default_factory=dict)
    facts: Mapping[str, LocalText] = field(default_factory=dict)
    emergency_phone: str | None = None
    has_board: bool = False
    operator: LocalText | None = None
    """Who operates the bot for this site, named in the privacy notice; None: ``Settings.operator``."""
    reminders: ReminderRules = field(default_factory=ReminderRules)
    deadlines: CaseDeadlines = field(default_factory=CaseDeadlines)


@dataclass(frozen=True)
class Settings:
    operator: LocalText
    default_language: str
    default_site: str
    sites: Mapping[str, SiteInfo]
    draft_ttl: timedelta = timedelta(hours=24)
    conversation_ttl: timedelta = timedelta(days=30)
    retention_days: int = 730
    status_session_ttl: timedelta = timedelta(minutes=10)
    alert_max_delay: timedelta = timedelta(hours=1)
    training_retention_days: int = 1095
    time_zone: str = "Asia/Shanghai"  # the days and months of training records and quiz figures

    def site(self, site_id: str | None) -> SiteInfo:
        return self.sites.get(site_id or "", self.sites[self.default_site])
