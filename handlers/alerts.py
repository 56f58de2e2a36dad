"""The text of a content-free case alert, as HR and advocacy-board chats read it.

An alert says that there is something to look at, never what: site, reference, category and
urgency (or, for a later change, that the reporter added information or withdrew). It never
carries report text or anything about the reporter, because group chats are read on shared
phones, forwarded and kept by the platform. HR groups mix Chinese and English speakers, so one
message carries both languages, Chinese first; when the two read the same (no translation yet),
the text appears once.
"""

from __future__ import annotations

from collections.abc import Mapping

from .events import Alert
from .i18n import LANGUAGES, N_, Language, Translator
from .report import CATEGORIES
from .settings import LocalText, pick

NEW_REPORT = N_("New report at {site}")
REPORT_UPDATE = N_("Report update at {site}")
REFERENCE = N_("Reference: {reference}")
TYPE = N_("Type: {value}")
URGENCY_LINE = N_("Urgency: {value}")
NOT_GIVEN = N_("Not given")

UPDATES = {
    "added_information": N_("The reporter added information."),
    "withdrawn": N_("The reporter withdrew the report."),
    "retaliation": N_(
        "The reporter says something happened to them because of the report. The case is open again, urgent."
    ),
}
URGENCY = {
    "danger_now": N_("In danger now: act at once"),
    "soon": N_("Please act soon (within days)"),
    "normal": N_("Not urgent"),
}
MARKS = {"danger_now": "🆘", "soon": "🔔", "normal": "🔔"}
UPDATE_MARK = "📝"


def _block(t: Translator, site_name: str, alert: Alert) -> str:
    """The alert in one language."""
    reference = t(REFERENCE, reference=alert.reference)
    update = UPDATES.get(alert.category)
    if update is not None:
        mark = MARKS["danger_now"] if alert.urgency == "danger_now" else UPDATE_MARK
        return "\n".join([f"{mark} {t(REPORT_UPDATE, site=site_name)}", reference, t(update)])
    category = t(CATEGORIES.get(alert.category, NOT_GIVEN))
    urgency = t(URGENCY.get(alert.urgency, NOT_GIVEN))
    return "\n".join(
        [
            f"{MARKS.get(alert.urgency, '🔔')} {t(NEW_REPORT, site=site_name)}",
            reference,
            t(TYPE, value=category),
            t(URGENCY_LINE, value=urgency),
        ]
    )


def case_link(desk_url: str, reference: str) -> str:
    """The case's page on the HR desk: the desk's public address and the reference, nothing else."""
    return f"{desk_url.rstrip('/')}/desk/cases/{reference}"


def alert_text(
    translators: Mapping[Language, Translator], site_name: LocalText, alert: Alert, *, link: str = ""
) -> str:
    """Both languages in one message, Chinese first; identical blocks are shown once. ``link`` (the
    case on the HR desk, which asks who is reading before it shows anything) ends the message."""
    blocks = [_block(translators[language], pick(site_name, language), alert) for language in LANGUAGES]
    text = "\n\n".join(dict.fromkeys(blocks))
    return f"{text}\n\n🔗 {link}" if link else text
