"""The privacy notice shown before every report, generated from the deployment's settings.

It must be short enough to read on a phone and honest about every party that can see something.
Bump ``NOTICE_VERSION`` when the meaning changes: each case records the version it agreed to.
"""

from __future__ import annotations

from datetime import timedelta

from .context import Context
from .events import Channel
from .faq.render import fact_text
from .settings import Settings, SiteInfo, pick

NOTICE_VERSION = 3
"""2: states the site's case deadlines; 3: one block says who runs the service and who reads which report
(the board by its configured name)."""

_CHINESE_NUMBERS = "一两三四五六七八九十"
"""How a count of years reads in Chinese ("两年", not "2年"); retention is at most ten years."""


def _keeping(ctx: Context, days: int) -> str:
    """The retention line in whole years when the setting is a multiple of 365 days (730 -> two years)."""
    if days % 365:
        return ctx.t("• It is kept for {days} days after the case is closed, then deleted.", days=days)
    years = days // 365
    if years == 1:
        return ctx.t("• It is kept for one year after the case is closed, then deleted.")
    spoken = _CHINESE_NUMBERS[years - 1] if ctx.language == "zh" and years <= len(_CHINESE_NUMBERS) else str(years)
    return ctx.t("• It is kept for {years} years after the case is closed, then deleted.", years=spoken)


def _deadlines(ctx: Context) -> str:
    """The site's case deadlines, with the numbers from its config, and who is told when one is missed."""
    deadlines = ctx.site.deadlines
    line = ctx.t(
        "• HR must confirm it within {acknowledge} days, write to you within {feedback} days and finish "
        "within {resolve} days.",
        acknowledge=deadlines.acknowledge_days,
        feedback=deadlines.feedback_days,
        resolve=deadlines.resolve_days,
    )
    if ctx.site.has_board:
        space = "" if ctx.language == "zh" else " "  # Chinese sentences follow each other without one
        line += space + ctx.t("If a deadline is missed, the advocacy board is told.")
    return line


def _alert_timing(ctx: Context, delay: timedelta) -> str:
    """When the readers are told of a new report, as ``enqueue_alert`` does it (``[hr] alert_max_delay_minutes``)."""
    minutes = int(delay.total_seconds() // 60)
    if not minutes:
        return ctx.t("• The readers are alerted as soon as you submit your report.")
    return ctx.t(
        "• The readers are alerted at a random moment within {minutes} minutes, so the time does not reveal you; "
        "if you are in danger now, at once.",
        minutes=minutes,
    )


def operator_name(settings: Settings, site: SiteInfo, language: str) -> str:
    """Who operates the bot for ``site``: the site's own operator if configured, else the deployment's."""
    return pick(site.operator or settings.operator, language)


def who_reads(ctx: Context) -> list[str]:
    """Who runs the service and who can read which report, in one place (the desk enforces it:
    ``handlers.hr.CaseDesk`` and ``alert_audience``; every list and read is written to the audit log)."""
    site = ctx.site
    language = ctx.language
    board = fact_text(site.facts, "advocacy_board_name", language)
    return [
        ctx.t("Who runs this service and who reads your report:"),
        ctx.t("• This service is run by {operator}.", operator=operator_name(ctx.services.settings, site, language)),
        ctx.t(
            "• A report about a co-worker or anyone else is read by the HR case handlers of {site}.",
            site=pick(site.name, language),
        ),
        ctx.t(
            "• A report about a supervisor, a manager or someone in HR goes to the {board} instead. "
            "HR cannot list it or open it.",
            board=board,
        ),
        ctx.t("• Every time someone lists or opens reports, it is logged."),
    ]


def privacy_notice(ctx: Context) -> str:
    settings = ctx.services.settings
    platform = {Channel.WECHAT: ctx.t("WeChat"), Channel.TELEGRAM: ctx.t("Telegram")}.get(ctx.incoming.channel)
    parts = [
        ctx.t("Before you report, please read:"),
        *who_reads(ctx),
        ctx.t("• You do not need to give your name. I never learn it unless you write it."),
        ctx.t("• Your report is stored encrypted. In the case desk, only the readers above can open it."),
        _keeping(ctx, settings.retention_days),
        # The console is local: no platform carries its messages.
        ctx.t("• {platform} can see messages while they travel to me.", platform=platform) if platform else "",
        _alert_timing(ctx, settings.alert_max_delay),
        ctx.t("• You get a secret receipt to follow up. You can withdraw your report at any time."),
        _deadlines(ctx),
        ctx.t("Do you want to continue?"),
    ]
    return "\n".join(part for part in parts if part)


def quiz_notice(ctx: Context) -> str:
    """What a quiz keeps, in one line under the list of quizzes."""
    return ctx.t(
        "Your answers are not linked to your name or to any report. They are kept with this chat "
        "while you use it (at most {days} days after your last message). HR sees only totals, and "
        "only for groups of at least 5 people.",
        days=ctx.services.settings.conversation_ttl.days,
    )


def training_notice(ctx: Context) -> str:
    """What recording a completion keeps, for how long, and that saying no changes nothing."""
    return "\n".join(
        [
            ctx.t("To record that you completed this quiz, type your employee number."),
            ctx.t(
                "• Kept: your employee number, the quiz, the date (not the time) and whether you passed, "
                "for {days} days, for HR's training records only.",
                days=ctx.services.settings.training_retention_days,
            ),
            ctx.t("• It is kept apart from this chat and from any report: nothing else you did here is linked to it."),
            ctx.t("• You do not have to. Choose No thanks and nothing changes."),
        ]
    )
