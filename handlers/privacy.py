"""The privacy notice shown before every report, generated from the deployment's settings.

It must be short enough to read on a phone and honest about every party that can see something.
Bump ``NOTICE_VERSION`` when the meaning changes: each case records the version it agreed to.
"""

from __future__ import annotations

from .context import Context
from .events import Channel
from .settings import pick

NOTICE_VERSION = 2  # 2: states the site's case deadlines

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


def privacy_notice(ctx: Context) -> str:
    settings = ctx.services.settings
    site = ctx.site
    platform = {Channel.WECHAT: ctx.t("WeChat"), Channel.TELEGRAM: ctx.t("Telegram")}.get(ctx.incoming.channel)
    readers = ctx.t("authorised HR case handlers of {site}", site=pick(site.name, ctx.language))
    if site.has_board:
        readers += ctx.t("; if the report is about a supervisor, manager or HR, the advocacy board instead")
    parts = [
        ctx.t("Before you report, please read:"),
        ctx.t("• This service is run by {operator}.", operator=pick(settings.operator, ctx.language)),
        ctx.t("• You do not need to give your name. I never learn it unless you write it."),
        ctx.t("• Your report is stored encrypted. Only {readers} can read it, and every reading is recorded.",
              readers=readers),
        _keeping(ctx, settings.retention_days),
        # The console is local: no platform carries its messages.
        ctx.t("• {platform} can see messages while they travel to me.", platform=platform) if platform else "",
        ctx.t("• HR is alerted at a random moment within the hour, so the time does not reveal you; "
              "if you are in danger now, at once."),
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
