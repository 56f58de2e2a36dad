"""What a reminder says, in the worker's language: neutral words that start with "Training
reminder" and never mention a report, because a reminder shows on lock screens and shared phones.

The reminder jobs compose pushed, template and held reminders here (``bot`` builds nothing of its
own), and the conversation uses the same words for the welcome of a new subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .i18n import N_, Translator

TRAINING = N_("Training reminder: refresher training on {date} at {time}, {place}.")
MONTHLY_QUIZ = N_("Training reminder: this month's refresher quiz is ready; it takes about three minutes.")
ONBOARDING_QUIZ = N_("Training reminder: a short quiz for new colleagues is ready; it takes about three minutes.")
ONBOARDING_HELP = N_(
    "Training reminder: one month in. If anyone makes you uncomfortable at work or in the dormitory — "
    "with words, messages, pictures or touch — you can get help here, anonymously, at any time "
    "(send 菜单 / menu). The advocacy board: {advocacy_board}."
)
ANNOUNCEMENT = N_("Training reminder: {text}")
QUIZ_HINT = N_("Send 测验 (quiz) to start.")
FAQ_HINT = N_("Send 问答 (faq) to read more.")
STOP_HINT = N_("Send 退订 (stop) to turn reminders off.")
TEMPLATE_TITLE = N_("Training reminder")
QUIZ_BUTTON = N_("Start the quiz")
FAQ_BUTTON = N_("Read more")
DATE = N_("{day} {month}")
TO_BE_ANNOUNCED = N_("the place shown on the notice board")
MONTHS = (
    N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"),
    N_("July"), N_("August"), N_("September"), N_("October"), N_("November"), N_("December"),
)
WELCOME_SUMMARY = N_(
    "Welcome. The policy in short: sexual harassment — words, messages, pictures or touch that someone "
    "does not want — is not tolerated here, by anyone, at work or in the dormitory. You can report it "
    "anonymously here at any time (举报 / report); every report is looked into in confidence, and nobody "
    "may be punished for reporting. Questions: 问答 / faq."
)


@dataclass(frozen=True)
class Wording:
    """One reminder in one language: its text (hint lines included) and what it opens."""

    text: str
    choice: str = ""  # a choice id the reminder opens ("" for none): quiz, quiz:<id>, faq:<entry>
    label: str = ""


def local_date(t: Translator, moment: datetime) -> str:
    return t(DATE, day=moment.day, month=t(MONTHS[moment.month - 1]))


def opening(t: Translator, opens: str) -> Wording:
    """The hint line and button of what a reminder opens (a quiz, the quiz menu, an FAQ entry)."""
    if opens == "quiz" or opens.startswith("quiz:"):
        return Wording(t(QUIZ_HINT), opens, t(QUIZ_BUTTON))
    if opens.startswith("faq"):
        return Wording(t(FAQ_HINT), opens, t(FAQ_BUTTON))
    return Wording("")


def compose(t: Translator, body: str, opens: str = "", *, stop_hint: bool = True) -> Wording:
    """A reminder: its body, the line of what it opens, and how to stop reminders."""
    open_line = opening(t, opens)
    lines = [body, open_line.text, t(STOP_HINT) if stop_hint else ""]
    return Wording("\n".join(line for line in lines if line), open_line.choice, open_line.label)


def training(t: Translator, start: datetime, place: str) -> str:
    """The body of a training reminder; ``start`` in the site's time."""
    return t(TRAINING, date=local_date(t, start), time=f"{start:%H:%M}", place=place or t(TO_BE_ANNOUNCED))
