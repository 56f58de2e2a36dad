"""Quiz helpers shared by the quiz tests: which shown option is right, from the quiz files themselves."""

from __future__ import annotations

import re
from collections.abc import Sequence

from handlers.quiz.library import QuizLibrary
from handlers.quiz.model import Question, Quiz

QUESTION_HEADER = re.compile(r"(?:Question (\d+) of (\d+)|第(\d+)题（共(\d+)题）)")
NUMBERED = re.compile(r"^(\d+)\. (.*)$", re.MULTILINE)


def quiz(library: QuizLibrary, quiz_id: str = "onboarding", site: str | None = None) -> Quiz:
    found = library.snapshot.quiz(quiz_id, site)
    assert found is not None, quiz_id
    return found


def asked(text: str) -> int:
    """The 0-based position of the last question header in ``text``."""
    found = QUESTION_HEADER.findall(text)
    assert found, f"no question in {text!r}"
    number = found[-1][0] or found[-1][2]
    return int(number) - 1


def question_at(library: QuizLibrary, text: str, quiz_id: str = "onboarding") -> Question:
    return quiz(library, quiz_id).questions[asked(text)]


def right_index(question: Question, labels: Sequence[str], language: str) -> int:
    """Where the right option is among the shown labels (0-based)."""
    return list(labels).index(question.options[question.right].text(language))


def wrong_index(question: Question, labels: Sequence[str], language: str) -> int:
    right = right_index(question, labels, language)
    options = {option.text(language) for option in question.options}
    return next(i for i, label in enumerate(labels) if label in options and i != right)


def numbered_labels(text: str) -> list[str]:
    """The labels of a reply rendered with numbered lines (WeChat), in order."""
    return [label for _number, label in NUMBERED.findall(text)]
