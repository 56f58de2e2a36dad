"""Checks that need the sites' facts: every placeholder filled, every answer within WeChat's limit.

Kept apart from the loader because the facts come from the sites' configuration, not from
``faq/``, and ``hapbot faq check`` may run where no configuration is present.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from handlers.faq.loader import Content, load_content
from handlers.faq.model import LANGS, PLACEHOLDER_RE, Entry, Problem
from handlers.faq.render import DEFAULT_FACTS, fill_placeholders
from handlers.faq.yamlsource import find_line

FactsBySite = Mapping[str, Mapping[str, Mapping[str, str]]]
"""site id -> fact name -> language -> text."""

MAX_ANSWER_BYTES = 2048
"""WeChat's limit for one text message, in UTF-8 bytes."""

STANDARD_PLACEHOLDERS: tuple[str, ...] = (
    "site_name",
    "operator",
    "hr_contact",
    "advocacy_board",
    "training_schedule",
    "handbook_location",
    "counselling_service",
)
"""Facts every site is expected to configure; used when no site facts are given to the check."""

ASSUMED_FILL_BYTES = 300
LOOKALIKE_RE = re.compile(r"[{\uff5b]\s*[A-Za-z][A-Za-z0-9_ ]*\s*[}\uff5d]")
"""Something an admin meant as a placeholder: braces (ASCII, or the full-width ones a Chinese input
method types) around a name; anything of that shape that is not ``PLACEHOLDER_RE`` is a typo."""
"""Room left for each fact when checking answer length without the sites' real facts."""


@dataclass(frozen=True)
class MissingFact(Problem):
    """A placeholder a site does not fill: a configuration problem as much as a content one, so the
    start-up check can tell the operator which ``[sites.<id>.facts]`` keys to add."""

    site: str = ""
    fact: str = ""


def check_directory(directory: Path, facts_by_site: FactsBySite | None = None) -> Content:
    """Load ``directory`` and add the fact checks; the returned problems are everything to fix."""
    content = load_content(directory)
    extra = list(check_facts(content, facts_by_site))
    if not extra:
        return content
    return Content(content.entries, content.overrides, content.synonyms, (*content.problems, *extra))


def _effective_entries(content: Content, site: str | None) -> Iterator[Entry]:
    overrides = content.overrides.get(site, {}) if site is not None else {}
    for entry_id, entry in content.entries.items():
        yield overrides.get(entry_id, entry)


def check_facts(content: Content, facts_by_site: FactsBySite | None) -> Iterator[Problem]:
    """Placeholders no site fills and answers that would exceed ``MAX_ANSWER_BYTES`` once filled."""
    if facts_by_site is None:
        assumed = {name: {lang: "x" * ASSUMED_FILL_BYTES for lang in LANGS} for name in STANDARD_PLACEHOLDERS}
        sites: Mapping[str, Mapping[str, Mapping[str, str]]] = {"": assumed}
        entries_per_site = {"": [*content.entries.values(), *_all_overrides(content)]}
    else:
        sites = facts_by_site
        entries_per_site = {site: list(_effective_entries(content, site)) for site in sites}
        for site in content.overrides:
            if site not in sites:
                for entry in content.overrides[site].values():
                    yield Problem(
                        entry.source,
                        1,
                        f"folder sites/{site}/ does not match any configured site "
                        f"({', '.join(sorted(sites)) or 'none configured'}); "
                        "rename the folder to the site id",
                    )
    reported: set[tuple[Path, str, str]] = set()
    for site, facts in sites.items():
        for entry in entries_per_site[site]:
            for lang in LANGS:
                yield from _check_answer(entry, lang, site, facts, reported)


def _all_overrides(content: Content) -> Iterator[Entry]:
    for site_entries in content.overrides.values():
        yield from site_entries.values()


def _check_answer(
    entry: Entry,
    lang: str,
    site: str,
    facts: Mapping[str, Mapping[str, str]],
    reported: set[tuple[Path, str, str]],
) -> Iterator[Problem]:
    answer_line = entry.answer_lines.get(f"answer:{lang}", 1)
    for match in LOOKALIKE_RE.finditer(entry.answer(lang)):
        text = match.group(0)
        key = (entry.source, lang, f"#lookalike:{text}")
        if PLACEHOLDER_RE.fullmatch(text) or key in reported:
            continue
        reported.add(key)
        yield Problem(
            entry.source,
            find_line(entry.source, text, answer_line),
            f"{text} ({lang}) looks like a fact placeholder but is not one, so workers would read it as it "
            "is: write it with ASCII braces, in lower case and without spaces, like {hr_contact}",
        )
    for name in entry.placeholders(lang):
        if facts.get(name, {}).get(lang, "").strip() or name in DEFAULT_FACTS:
            continue
        key = (entry.source, lang, name)
        if key in reported:
            continue
        reported.add(key)
        line = find_line(entry.source, "{" + name + "}", answer_line)
        where = f"site '{site}'" if site else "the standard site facts"
        known = ", ".join(sorted(facts)) or "none"
        yield MissingFact(
            entry.source,
            line,
            f"placeholder {{{name}}} ({lang}) is not filled by {where}; fix its spelling "
            f"(known: {known}) or add the fact '{name}' to the site configuration",
            site=site,
            fact=name,
        )
    size = len(fill_placeholders(entry.answer(lang), lang, facts).encode("utf-8"))
    key = (entry.source, lang, "#size")
    if size > MAX_ANSWER_BYTES and key not in reported:
        reported.add(key)
        yield Problem(
            entry.source,
            answer_line,
            f"the {lang} answer is {size} bytes with the longest site facts filled in; WeChat allows "
            f"{MAX_ANSWER_BYTES} bytes (about 680 Chinese characters): "
            "shorten it or move part of it to a related entry",
        )
