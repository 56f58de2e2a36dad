"""Fill an answer's site placeholders (``{hr_contact}``...) with one site's facts in one language."""

from __future__ import annotations

import re
from collections.abc import Mapping

from handlers.faq.model import LANGS, PLACEHOLDER_RE, Entry

Facts = Mapping[str, Mapping[str, str]]
"""fact name -> language -> text, as configured for one site."""

MISSING_FACT: Mapping[str, str] = {"zh": "（请向人事部门询问）", "en": "(please ask HR)"}
"""Shown instead of a raw ``{name}`` if a fact is missing at run time (``faq check`` reports it first)."""


def fill_placeholders(text: str, lang: str, facts: Facts) -> str:
    """Replace each ``{name}`` by the fact in ``lang`` (else the other language, else a neutral note)."""

    def fact(match: re.Match[str]) -> str:
        texts = facts.get(match.group(1), {})
        for candidate in (lang, *LANGS):
            value = texts.get(candidate)
            if value:
                return value.strip()
        return MISSING_FACT.get(lang, MISSING_FACT["en"])

    return PLACEHOLDER_RE.sub(fact, text)


def render_answer(entry: Entry, lang: str, facts: Facts) -> str:
    """The answer a worker reads: ``entry`` in ``lang`` with this site's facts filled in."""
    return fill_placeholders(entry.answer(lang), lang, facts)
