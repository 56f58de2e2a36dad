"""The words of a quiz as workers read them: a question, the feedback on an answer, the score.

One place for them, because ``hapbot faq check`` must measure exactly what the bot will send: one
WeChat passive reply holds 2,048 bytes, and a turn of the quiz (the feedback on the last answer and
the next question with its numbered options) should fit in one.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.i18n import N_, Translator

from .model import Question

RIGHT = N_("✅ Right!")
WRONG = N_("❌ Not quite. The right answer: {answer}")
QUESTION_HEADER = N_("Question {number} of {total}")
READ_MORE = N_("📖 Read more about the last answer")
PAUSE = N_("⏸ Stop for now (your place is kept)")
WECHAT_BYTES = 2048
RESULT_ALLOWANCE = 600
"""Room left after the last feedback for the score and the list of missed questions."""


def question_text(t: Translator, question: Question, number: int, total: int) -> str:
    """The question with its number, e.g. "Question 3 of 10", then the question itself."""
    return f"{t(QUESTION_HEADER, number=number, total=total)}\n{question.text(t.language)}"


def option_labels(question: Question, order: Sequence[int], language: str) -> list[str]:
    """The options' texts in the order this attempt shows them."""
    return [question.options[index].text(language) for index in order]


def feedback_text(t: Translator, question: Question, right: bool) -> str:
    """Right or not, the right answer when it was missed, and why."""
    verdict = t(RIGHT) if right else t(WRONG, answer=question.options[question.right].text(t.language))
    return f"{verdict}\n{question.explanation(t.language)}"


def numbered_bytes(text: str, labels: Sequence[str]) -> int:
    """Size in UTF-8 of a reply as channels without buttons show it: the text, then ``n. label`` lines."""
    lines = [text, *(f"{number}. {label}" for number, label in enumerate(labels, start=1))]
    return len("\n".join(lines).encode("utf-8"))


def question_bytes(t: Translator, question: Question, number: int, total: int) -> int:
    """The largest the question's reply can be: every option and both extra choices."""
    labels = [*option_labels(question, range(len(question.options)), t.language), t(READ_MORE), t(PAUSE)]
    return numbered_bytes(question_text(t, question, number, total), labels)


def feedback_bytes(t: Translator, question: Question) -> int:
    """The larger of the two feedbacks (right, or missed with the right answer named)."""
    return max(len(feedback_text(t, question, right).encode("utf-8")) for right in (True, False))
