"""What the weekly digest says: its text (Chinese, then English, in one message, like alerts) and
the labels of its chart. Every word comes from the catalog; every number from a protected
:class:`~handlers.digest.DigestFigures`, so nothing here can show a group under 5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .digest import COMBINED, Breakdown, DigestFigures, Group
from .i18n import LANGUAGES, N_, Language, Translator
from .settings import LocalText, pick

SMALL = "<5"
MARK = "📊"
TITLE = N_("Weekly digest: {site}, {week}")
BOARD_TITLE = N_("Advocacy board weekly digest: {site}, {week}")
WEEK = N_("week {number} of {year}")
RECEIVED = N_("New reports this week")
OPEN_BY_STATUS = N_("Open reports by status")
OPEN_BY_AGE = N_("Open reports by age")
CLOSED = N_("Closed this week")
DEADLINES = N_("Deadlines due this week")
RETALIATION = N_("Retaliation reported at check-ins this week")
TRAINING = N_("Refresher quizzes in {month}: {completions} completed, {passes} passed ({quizzes} quizzes)")
TRAINING_HIDDEN = N_("{hidden} quizzes taken by fewer than 5 workers are not counted.")
RECORDS = N_("Training records kept this week: {count}")
BREAKDOWN_HIDDEN = N_("not broken down: a group would be under 5")
COMBINED_LABEL = N_("{labels} together")
ALL = N_("All")
FOOTER = N_(
    "Numbers under 5 show as <5 and small groups are merged, so no one can be picked out. "
    "No case numbers or dates are shown; details are in the HR desk."
)

LABELS: Mapping[str, str] = {
    "verbal": N_("Words"),
    "physical": N_("Physical"),
    "messages": N_("Messages or pictures"),
    "quid_pro_quo": N_("Favours demanded"),
    "other": N_("Other"),
    "received": N_("Received"),
    "acknowledged": N_("Acknowledged"),
    "investigating": N_("Investigating"),
    "action_taken": N_("Action taken"),
    "no_case_found": N_("No case found"),
    "closed": N_("Closed"),
    "withdrawn": N_("Withdrawn"),
    "0-7": N_("Up to 7 days"),
    "8-30": N_("8 to 30 days"),
    "31-90": N_("31 to 90 days"),
    "90+": N_("Over 90 days"),
    "acknowledge:met": N_("Acknowledged in time"),
    "acknowledge:missed": N_("Acknowledgement missed"),
    "feedback:met": N_("First reply in time"),
    "feedback:missed": N_("First reply missed"),
    "resolve:met": N_("Resolved in time"),
    "resolve:missed": N_("Resolution missed"),
}


def _number(value: int | None) -> str:
    return SMALL if value is None else str(value)


def group_label(t: Translator, group: Group) -> str:
    if group.key != COMBINED:
        return t(LABELS[group.key])
    separator = "、" if t.language == "zh" else ", "
    return t(COMBINED_LABEL, labels=separator.join(t(LABELS[key]) for key in group.members))


def week_text(t: Translator, figures: DigestFigures) -> str:
    return t(WEEK, number=figures.week.number, year=figures.week.year)


def _brackets(t: Translator, text: str) -> str:
    return f"（{text}）" if t.language == "zh" else f" ({text})"


def _breakdown(t: Translator, title: str, breakdown: Breakdown) -> str:
    separator = "：" if t.language == "zh" else ": "
    line = f"{title}{separator}{_number(breakdown.total)}"
    if breakdown.total is None:
        return line
    if not breakdown.groups:
        return line + _brackets(t, t(BREAKDOWN_HIDDEN))
    parts = " · ".join(f"{group_label(t, group)} {group.value}" for group in breakdown.groups)
    return line + _brackets(t, parts)


def digest_block(t: Translator, site_name: str, figures: DigestFigures) -> str:
    """The digest in one language: its title line, one line per figure, and the footnote."""
    title = BOARD_TITLE if figures.audience == "board" else TITLE
    separator = "：" if t.language == "zh" else ": "
    lines = [
        f"{MARK} {t(title, site=site_name, week=week_text(t, figures))}",
        _breakdown(t, t(RECEIVED), figures.received),
        _breakdown(t, t(OPEN_BY_STATUS), figures.open_by_status),
        _breakdown(t, t(OPEN_BY_AGE), figures.open_by_age),
        _breakdown(t, t(CLOSED), figures.closed),
        _breakdown(t, t(DEADLINES), figures.deadlines),
        f"{t(RETALIATION)}{separator}{_number(figures.retaliation)}",
    ]
    training = figures.training
    if training is not None:
        lines.append(
            t(
                TRAINING,
                month=training.month,
                completions=training.completions,
                passes=training.passes,
                quizzes=training.quizzes,
            )
        )
        if training.hidden:
            lines.append(t(TRAINING_HIDDEN, hidden=training.hidden))
        lines.append(t(RECORDS, count=_number(training.records)))
    lines.append(t(FOOTER))
    return "\n".join(lines)


def digest_text(translators: Mapping[Language, Translator], site_name: LocalText, figures: DigestFigures) -> str:
    """The digest in both languages, Chinese first; identical blocks are shown once."""
    blocks = [digest_block(translators[language], pick(site_name, language), figures) for language in LANGUAGES]
    return "\n\n".join(dict.fromkeys(blocks))


@dataclass(frozen=True)
class Bar:
    """One bar: its label and value (None: under 5, drawn as "<5" with no bar)."""

    label: str
    value: int | None


@dataclass(frozen=True)
class Panel:
    title: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class ChartSpec:
    """A chart as words and numbers, for any renderer: a title, panels of bars and a footnote."""

    title: str
    panels: tuple[Panel, ...]
    note: str


def _panel(t: Translator, title: str, breakdown: Breakdown) -> Panel:
    title = f"{title}{'：' if t.language == 'zh' else ': '}{_number(breakdown.total)}"
    if breakdown.total is None:
        return Panel(title, (Bar(t(ALL), None),))
    if not breakdown.groups:
        return Panel(title + _brackets(t, t(BREAKDOWN_HIDDEN)), (Bar(t(ALL), breakdown.total),))
    return Panel(title, tuple(Bar(group_label(t, group), group.value) for group in breakdown.groups))


def _count_panel(t: Translator, title: str, value: int | None) -> Panel:
    return Panel(f"{title}{'：' if t.language == 'zh' else ': '}{_number(value)}", (Bar(t(ALL), value),))


def chart_spec(t: Translator, site_label: str, figures: DigestFigures) -> ChartSpec:
    """The chart of a digest in one language; ``site_label`` is the site's name (or its id when
    the chart's font cannot draw the name)."""
    panels = (
        _panel(t, t(RECEIVED), figures.received),
        _panel(t, t(OPEN_BY_STATUS), figures.open_by_status),
        _panel(t, t(OPEN_BY_AGE), figures.open_by_age),
        _panel(t, t(CLOSED), figures.closed),
        _panel(t, t(DEADLINES), figures.deadlines),
        _count_panel(t, t(RETALIATION), figures.retaliation),
    )
    heading = BOARD_TITLE if figures.audience == "board" else TITLE
    return ChartSpec(t(heading, site=site_label, week=week_text(t, figures)), panels, t(FOOTER))


def fixed_labels(t: Translator) -> list[str]:
    """Every fixed word the digest's chart can show in this language (for the font's test)."""
    words = [t(text) for text in LABELS.values()]
    words += [t(text) for text in (RECEIVED, OPEN_BY_STATUS, OPEN_BY_AGE, CLOSED, RETALIATION)]
    words += [t(text) for text in (BREAKDOWN_HIDDEN, ALL, FOOTER)]
    week = t(WEEK, number=53, year=2026)
    words += [
        t(DEADLINES, acknowledge=7, feedback=14, resolve=90),
        t(TITLE, site="", week=week),
        t(BOARD_TITLE, site="", week=week),
    ]
    words += [t(COMBINED_LABEL, labels="、".join(t(LABELS[key]) for key in LABELS)), SMALL, "0123456789: ()·、"]
    return words
