"""The quiz's value types: a quiz of questions, each with 2-4 options, one of them right.

Immutable, like the FAQ's entries, so a loaded set of quizzes can be shared by every request while
a reload builds the next one beside it. Every question carries a fingerprint of its content: an
attempt remembers the fingerprints it started with, so an edit made while a worker is mid-quiz
never changes the questions (or the right answers) of that worker's attempt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from handlers.faq.model import LANGS, Problem

MIN_OPTIONS = 2
MAX_OPTIONS = 4
MAX_QUESTIONS = 20
DEFAULT_PASS_PERCENT = 80

__all__ = ["LANGS", "Option", "Problem", "Question", "Quiz", "QuizContent", "fingerprint"]


def fingerprint(value: object) -> str:
    """A short hash of JSON-able content: equal content, equal fingerprint."""
    data = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


def _local(texts: Mapping[str, str], lang: str) -> str:
    return texts.get(lang) or texts.get(LANGS[0], "")


@dataclass(frozen=True)
class Option:
    """One answer to choose; ``texts`` by language."""

    texts: Mapping[str, str]
    correct: bool = False

    def text(self, lang: str) -> str:
        return _local(self.texts, lang)


@dataclass(frozen=True)
class Question:
    """One question: what is asked, the options (one right), why, and the FAQ topic it teaches.

    ``true_false`` questions keep their options in order (True, then False); others are shuffled
    for every attempt.
    """

    id: str
    texts: Mapping[str, str]
    options: tuple[Option, ...]
    explanations: Mapping[str, str]
    teaches: str
    true_false: bool = False
    line: int = 1

    def text(self, lang: str) -> str:
        return _local(self.texts, lang)

    def explanation(self, lang: str) -> str:
        return _local(self.explanations, lang)

    @property
    def right(self) -> int:
        """The index (in the file's order) of the right option."""
        return next(index for index, option in enumerate(self.options) if option.correct)

    @property
    def fingerprint(self) -> str:
        return fingerprint(
            {
                "id": self.id,
                "texts": dict(self.texts),
                "options": [[dict(o.texts), o.correct] for o in self.options],
                "explanations": dict(self.explanations),
                "teaches": self.teaches,
                "true_false": self.true_false,
            }
        )


@dataclass(frozen=True)
class Quiz:
    """A quiz file: its title, the topic it teaches, its questions in order and its pass mark."""

    id: str
    titles: Mapping[str, str]
    teaches: str
    questions: tuple[Question, ...]
    pass_mark: int
    order: int = 100
    source: Path = Path()

    def title(self, lang: str) -> str:
        return _local(self.titles, lang) or self.id

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


@dataclass(frozen=True)
class QuizContent:
    """Everything read from ``quizzes/`` and ``sites/<site>/quizzes/``; no problems means servable."""

    quizzes: Mapping[str, Quiz] = field(default_factory=dict)
    overrides: Mapping[str, Mapping[str, Quiz]] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
