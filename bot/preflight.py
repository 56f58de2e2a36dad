"""The start-up check that ``hapbot check-config`` and ``hapbot run`` share.

Whatever would stop ``run`` must already stop ``check-config``, with the same one-line message
and no traceback: the person deploying the bot is HR or IT staff at a factory, who should learn
from one line which key to add, not from a stack of Python frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.config import Config, ConfigError, LocalText

FactsBySite = dict[str, dict[str, dict[str, str]]]
MAX_PROBLEMS_NAMED = 3


def local(text: LocalText) -> dict[str, str]:
    """A text given once for both languages, or per language."""
    return {"zh": text, "en": text} if isinstance(text, str) else {str(k): v for k, v in text.items()}


def site_facts(config: Config) -> FactsBySite:
    """Every site's facts as the FAQ fills them in, the site's name included."""
    return {
        site_id: {"site_name": local(site.name), **{name: local(value) for name, value in site.facts.items()}}
        for site_id, site in config.sites.items()
    }


def faq_directory(config: Config) -> Path:
    from faq import CONTENT_DIR

    return config.bot.faq_dir or CONTENT_DIR


def check_startup(config: Config) -> None:
    """Raises :class:`ConfigError` with one line per problem that would stop ``hapbot run``."""
    from handlers.faq.check import MissingFact, check_directory
    from handlers.quiz.check import check_quiz_directory

    directory = faq_directory(config)
    if not directory.is_dir():
        raise ConfigError(f"bot.faq_dir: {directory} is not a folder; point it at the FAQ content folder")
    problems = check_directory(directory, site_facts(config)).problems
    quiz_problems = check_quiz_directory(directory).problems
    if not problems and not quiz_problems:
        return
    missing: dict[str, dict[str, str]] = {}
    others = []
    for problem in problems:
        if isinstance(problem, MissingFact) and problem.site:
            missing.setdefault(problem.site, {}).setdefault(problem.fact, str(problem))
        else:
            others.append(problem)
    lines = [_missing_facts_line(site, facts) for site, facts in sorted(missing.items())]
    if others:
        lines.append(f"faq: the FAQ content has {_named(others)}; run `hapbot faq check`")
    if quiz_problems:
        lines.append(f"quizzes: the quiz files have {_named(quiz_problems)}; run `hapbot faq check`")
    raise ConfigError("\n".join(lines))


def _named(problems: Sequence[object]) -> str:
    """The count, the first few problems and how many more, for one line of the start-up check."""
    named = "; ".join(str(problem) for problem in problems[:MAX_PROBLEMS_NAMED])
    more = f" and {len(problems) - MAX_PROBLEMS_NAMED} more" if len(problems) > MAX_PROBLEMS_NAMED else ""
    return f"{len(problems)} problem(s): {named}{more}"


def _missing_facts_line(site: str, facts: Mapping[str, str]) -> str:
    names = ", ".join(sorted(facts))
    return (
        f"sites.{site}.facts: missing {names}, which the FAQ answers use; add them under "
        f"[sites.{site}.facts] (see config.example.toml)"
    )
