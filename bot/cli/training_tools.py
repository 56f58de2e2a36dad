"""``hapbot training export|stats``: training records as CSV, and quiz figures for HR.

The figures come only through :meth:`storage.quiz_tallies.QuizTallies.report`, which never returns
a group of fewer than five workers; this module says how many groups were left out, never which
figures they had. The export is the only place an employee number leaves the database, so only an
HR handler of the site, signed in with password and code, may run it, and each run is written to
the audit log.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.cli.signin import Prompt, ask
from bot.config import Config
from bot.preflight import faq_directory, local
from handlers.i18n import N_, Translator, load_translators
from handlers.settings import pick

if TYPE_CHECKING:
    from handlers.quiz.model import Quiz
    from storage.accounts import PasswordHasher
    from storage.crypto import KeyRing
    from storage.quiz_tallies import Tally

CSV_HEADER = ("employee_number", "quiz", "date", "passed")
MOST_MISSED = 3
QUESTION_CHARS = 40

HEADER = N_("Quiz figures for {site}, {period}. Groups of fewer than {minimum} workers are not shown.")
EVERY_MONTH = N_("every month")
QUIZ_LINE = N_("Quiz: {title} · month {month}")
TOTALS = N_(
    "Workers: {workers} · Attempts: {attempts} · Finished: {completions} · Passed: {passes} · "
    "Average score: {average}"
)
MISSED_HEADER = N_("Most missed questions:")
MISSED_LINE = N_("{rank}. {question}: missed {missed} of {answered} times ({percent})")
HIDDEN = N_("Not shown (fewer than {minimum} workers): {count} group(s).")
NOTHING = N_("No figures to show yet.")


async def run_export(
    config: Config,
    args: argparse.Namespace,
    out: TextIO,
    *,
    keyring: KeyRing | None = None,
    prompt: Prompt = ask,
    clock: Callable[[], datetime] | None = None,
    hasher: PasswordHasher | None = None,
) -> int:
    """Writes the site's training records from ``args.first`` to ``args.last`` as CSV, for an HR
    handler of that site signed in with password and code (:mod:`bot.cli.signin`); audited."""
    from bot.cli.signin import terminal_sign_in
    from bot.core import build_core, utc_now
    from storage import audit
    from storage.people import Role

    if args.first > args.last:
        out.write("hapbot: --from is after --to\n")
        return 2
    runtime = await build_core(config, keyring=keyring, clock=clock or utc_now)
    try:
        person = await terminal_sign_in(runtime, args.actor, out, prompt, hasher)
        if person is None:
            return 2
        if person.role is not Role.HANDLER or args.site not in person.sites:
            out.write(f"hapbot: {person.name} is not an HR handler of site {args.site!r} (see `hapbot hr list`)\n")
            return 2
        async with runtime.database.transaction() as session:
            entries = await runtime.services.training.between(session, args.site, args.first, args.last)
            await audit.record(session, args.actor, "training_export", None, runtime.services.clock())
    finally:
        await runtime.close()
    rows = [(e.employee_number, e.quiz, e.completed_on.isoformat(), "yes" if e.passed else "no") for e in entries]
    if args.out:
        await asyncio.to_thread(_write_file, Path(args.out), rows)
        out.write(f"{len(rows)} record(s) written to {args.out}\n")
    else:
        _write_csv(out, rows)
    return 0


def _write_file(path: Path, rows: Sequence[tuple[str, str, str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        _write_csv(handle, rows)


def _write_csv(handle: TextIO, rows: Sequence[tuple[str, str, str, str]]) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(rows)


async def run_stats(config: Config, args: argparse.Namespace, out: TextIO, *, keyring: KeyRing | None = None) -> int:
    """Prints the site's quiz figures, in ``args.lang`` (else the bot's language)."""
    from bot.core import build_core
    from handlers.quiz.check import check_quiz_directory
    from storage.quiz_tallies import MIN_WORKERS

    if args.site not in config.sites:
        out.write(f"hapbot: no site {args.site!r} in the config (known: {', '.join(sorted(config.sites))})\n")
        return 2
    language = args.lang or config.bot.default_language
    t = load_translators()["en" if language == "en" else "zh"]
    content = check_quiz_directory(faq_directory(config))  # titles and questions; broken files give ids only
    quizzes = {**content.quizzes, **content.overrides.get(args.site, {})}
    runtime = await build_core(config, keyring=keyring)
    try:
        async with runtime.database.transaction(write=False) as session:
            shown = await runtime.services.quiz_tallies.report(session, args.site, args.month)
            every = await runtime.services.quiz_tallies.all(session, args.site, args.month)
    finally:
        await runtime.close()
    site = pick(local(config.sites[args.site].name), t.language)
    out.write(t(HEADER, site=site, period=args.month or t(EVERY_MONTH), minimum=MIN_WORKERS) + "\n")
    out.write(render_figures(t, shown, quizzes))
    hidden = len(every) - len(shown)
    if hidden:
        out.write(t(HIDDEN, minimum=MIN_WORKERS, count=hidden) + "\n")
    return 0


def render_figures(t: Translator, tallies: Sequence[Tally], quizzes: Mapping[str, Quiz]) -> str:
    """One block per month and quiz: the totals, then the most missed questions."""
    wholes = [tally for tally in tallies if not tally.question]
    if not wholes:
        return t(NOTHING) + "\n"
    questions: dict[tuple[str, str], list[Tally]] = defaultdict(list)
    for tally in tallies:
        if tally.question:
            questions[(tally.month, tally.quiz)].append(tally)
    lines: list[str] = []
    for whole in sorted(wholes, key=lambda tally: (tally.month, tally.quiz), reverse=True):
        quiz = quizzes.get(whole.quiz)
        title = quiz.title(t.language) if quiz is not None else whole.quiz
        lines.append("")
        lines.append(t(QUIZ_LINE, month=whole.month, title=title))
        lines.append(
            t(
                TOTALS,
                workers=whole.workers,
                attempts=whole.attempts,
                completions=whole.completions,
                passes=whole.passes,
                average=_percent(whole.average_percent),
            )
        )
        missed = sorted(
            (tally for tally in questions[(whole.month, whole.quiz)] if tally.missed),
            key=lambda tally: (-(tally.missed_percent or 0), -tally.missed, tally.question),
        )[:MOST_MISSED]
        if missed:
            lines.append(t(MISSED_HEADER))
        for rank, tally in enumerate(missed, start=1):
            question = quiz.question(tally.question) if quiz is not None else None
            text = question.text(t.language) if question is not None else tally.question
            if len(text) > QUESTION_CHARS:
                text = text[: QUESTION_CHARS - 1] + "…"
            lines.append(
                t(
                    MISSED_LINE,
                    rank=rank,
                    question=text,
                    missed=tally.missed,
                    answered=tally.answered,
                    percent=_percent(tally.missed_percent),
                )
            )
    return "\n".join(lines) + "\n"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"
