"""What HR and board chats read about a case's deadline: the reference, which deadline and when,
and a link to the desk when the deployment has a public address. Never anything of the report.

Like the case alerts, one message carries both languages, Chinese first.
"""

from __future__ import annotations

from collections.abc import Mapping

from storage.messages import DeadlineAlert

from .i18n import LANGUAGES, N_, Language, Translator
from .settings import LocalText, pick

REMINDER = N_("⏰ Deadline soon at {site}")
MISSED = N_("⚠️ Deadline missed at {site}: escalated to the advocacy board")
REFERENCE = N_("Reference: {reference}")
DEADLINES = {
    "acknowledge": N_("Acknowledge the report by {due}"),
    "feedback": N_("First reply to the reporter by {due}"),
    "resolve": N_("Resolve the case by {due}"),
}
DESK_LINK = N_("Open it on the desk: {url}")


def desk_link(public_url: str | None, reference: str) -> str | None:
    """The case's page on the HR desk, or None when the desk has no public address."""
    return f"{public_url.rstrip('/')}/desk/cases/{reference}" if public_url else None


def _block(t: Translator, site_name: str, alert: DeadlineAlert, link: str | None) -> str:
    heading = REMINDER if alert.stage == "reminder" else MISSED
    lines = [
        t(heading, site=site_name),
        t(REFERENCE, reference=alert.reference),
        t(DEADLINES[alert.deadline], due=alert.due),
    ]
    if link:
        lines.append(t(DESK_LINK, url=link))
    return "\n".join(lines)


def deadline_text(
    translators: Mapping[Language, Translator], site_name: LocalText, alert: DeadlineAlert, public_url: str | None
) -> str:
    """Both languages in one message, Chinese first; identical blocks are shown once."""
    link = desk_link(public_url, alert.reference)
    blocks = [_block(translators[language], pick(site_name, language), alert, link) for language in LANGUAGES]
    return "\n\n".join(dict.fromkeys(blocks))
