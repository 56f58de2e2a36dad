"""Fill an answer's site placeholders (``{hr_contact}``...) with one site's facts in one language."""

from __future__ import annotations

import re
from collections.abc import Mapping

from handlers.faq.model import LANGS, PLACEHOLDER_RE, Entry

Facts = Mapping[str, Mapping[str, str]]
"""fact name -> language -> text, as configured for one site."""

MISSING_FACT: Mapping[str, str] = {"zh": "（请向人事部询问）", "en": "(please ask HR)"}
"""Shown instead of a raw ``{name}`` if a fact is missing at run time (``faq check`` reports it first)."""

DEFAULT_FACTS: Facts = {
    "advocacy_board_name": {"zh": "员工关爱委员会", "en": "advocacy board"},
}
"""Facts with a standard wording, used wherever a site does not set its own.

``advocacy_board_name`` is the short name used inside sentences ("交给{advocacy_board_name}"); a
site whose board has another name sets it, the members and contacts stay in ``advocacy_board``."""


def fact_text(facts: Facts, name: str, lang: str) -> str:
    """The site's text for fact ``name`` in ``lang`` (else the other language, else the default); "" if none."""
    for source in (facts, DEFAULT_FACTS):
        texts = source.get(name, {})
        for candidate in (lang, *LANGS):
            value = texts.get(candidate, "").strip()
            if value:
                return value
    return ""


def fill_placeholders(text: str, lang: str, facts: Facts) -> str:
    """Replace each ``{name}`` by the fact in ``lang`` (else the other language, else a neutral note)."""

    def fact(match: re.Match[str]) -> str:
        return fact_text(facts, match.group(1), lang) or MISSING_FACT.get(lang, MISSING_FACT["en"])

    return PLACEHOLDER_RE.sub(fact, text)


def render_answer(entry: Entry, lang: str, facts: Facts) -> str:
    """The answer a worker reads: ``entry`` in ``lang`` with this site's facts filled in."""
    return fill_placeholders(entry.answer(lang), lang, facts)
