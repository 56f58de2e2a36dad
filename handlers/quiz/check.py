"""Checks of quiz files against the FAQ and against WeChat's message size.

``check_quiz_directory`` is what ``hapbot faq check``, the start-up check and every reload run: the
structure (``loader``), every ``teaches`` naming a FAQ entry of the same folder, and every turn of
every quiz fitting one WeChat reply once rendered in each language.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

from handlers.faq.loader import load_content
from handlers.faq.model import Problem
from handlers.i18n import Language, Translator, load_translators

from .loader import load_quizzes
from .model import Quiz, QuizContent
from .render import RESULT_ALLOWANCE, WECHAT_BYTES, feedback_bytes, question_bytes


@cache
def _translators() -> Mapping[Language, Translator]:
    return load_translators()


def check_quiz_directory(directory: Path) -> QuizContent:
    """Load the quizzes under ``directory`` and add the size checks; problems empty means servable."""
    faq = load_content(directory)
    entry_ids = set(faq.entries)
    content = load_quizzes(directory, entry_ids)
    quizzes = [*content.quizzes.values(), *(q for site in content.overrides.values() for q in site.values())]
    extra = [problem for quiz in quizzes for problem in check_sizes(quiz)]
    if not extra:
        return content
    return QuizContent(content.quizzes, content.overrides, (*content.problems, *extra))


def check_sizes(quiz: Quiz, translators: Mapping[Language, Translator] | None = None) -> Iterator[Problem]:
    """Each question with its options, and each feedback with what follows it, within one reply."""
    translators = translators or _translators()
    total = len(quiz.questions)
    for language, t in translators.items():
        for index, question in enumerate(quiz.questions):
            size = question_bytes(t, question, index + 1, total)
            if size > WECHAT_BYTES:
                yield Problem(
                    quiz.source,
                    question.line,
                    f"question '{question.id}' with its options is {size} bytes in {language}; one WeChat "
                    f"message holds {WECHAT_BYTES} (about 680 Chinese characters): shorten it",
                )
                continue
            after = question_bytes(t, quiz.questions[index + 1], index + 2, total) if index + 1 < total else (
                RESULT_ALLOWANCE
            )
            turn = feedback_bytes(t, question) + 2 + after
            if turn > WECHAT_BYTES:
                yield Problem(
                    quiz.source,
                    question.line,
                    f"the explanation of question '{question.id}' and what follows it are {turn} bytes in "
                    f"{language}; one WeChat reply holds {WECHAT_BYTES}: shorten the explanation",
                )
