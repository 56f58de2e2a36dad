"""The FAQ's value types: an entry in two languages and a problem found while loading content.

They are immutable so that a loaded snapshot can be shared by every request and thread
while a reload builds the next one beside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

LANGS: tuple[str, ...] = ("zh", "en")
"""Languages every entry must have, in the order admins write them (Chinese first)."""

PLACEHOLDER_RE = re.compile(r"\{([a-z][a-z0-9_]*)\}")
"""A site fact in answer text, such as ``{hr_contact}``."""


@dataclass(frozen=True)
class Problem:
    """Something wrong in a content file, worded for an HR admin who is not a programmer."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Entry:
    """One FAQ topic: answers, the ways workers ask for it, and topics to offer next."""

    id: str
    titles: Mapping[str, str]
    answers: Mapping[str, str]
    questions: Mapping[str, tuple[str, ...]]
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    related: tuple[str, ...] = ()
    source: Path = Path()
    answer_lines: Mapping[str, int] = field(default_factory=dict)
    """Line of each language's answer in ``source``, so checks can point at it."""

    def title(self, lang: str) -> str:
        """Title in ``lang``, falling back to Chinese so a worker never sees an empty heading."""
        return self.titles.get(lang) or self.titles.get(LANGS[0], self.id)

    def answer(self, lang: str) -> str:
        """Raw answer in ``lang`` (placeholders not yet filled; see ``render_answer``)."""
        return self.answers.get(lang) or self.answers.get(LANGS[0], "")

    def placeholders(self, lang: str) -> tuple[str, ...]:
        """Names of the site facts the answer in ``lang`` needs, in order of first use."""
        seen: dict[str, None] = {}
        for name in PLACEHOLDER_RE.findall(self.answer(lang)):
            seen.setdefault(name, None)
        return tuple(seen)
