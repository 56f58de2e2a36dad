"""The shipped quizzes are true to the FAQ: every topic they teach exists, and every hotline number and
law article a question names is in the FAQ entry it teaches (so a quiz never says more than the FAQ)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from faq import CONTENT_DIR
from handlers.faq.loader import load_content
from handlers.faq.model import LANGS, Entry
from handlers.quiz.library import QuizLibrary
from handlers.quiz.model import Question, Quiz

HOTLINE = re.compile(r"(?<![\d-])(?<!第)(?<!Art\. )1\d{2,4}(?![\d-])")  # not article numbers
ARTICLE_ZH = re.compile(r"第\d+条")
ARTICLE_EN = re.compile(r"Art\. \d+")
LAW_ZH = re.compile(r"《[^》]+》")
LAWS_EN = ("Women's Rights and Interests Law", "Civil Code", "Labour Contract Law", "Special Rules")
FACTS_HOTLINES = {"110", "120", "12333", "12338"}  # /work/shared/FACTS.md, "Hotlines"
QUIZZES = QuizLibrary(CONTENT_DIR).snapshot.quizzes
ENTRIES = load_content(CONTENT_DIR).entries


def questions() -> Iterator[tuple[Quiz, Question]]:
    for quiz in QUIZZES.values():
        for question in quiz.questions:
            yield quiz, question


def every_text(question: Question, lang: str) -> str:
    return "\n".join([question.text(lang), *(o.text(lang) for o in question.options), question.explanation(lang)])


def taught_text(question: Question, lang: str) -> str:
    """What the question asserts: its right option and its explanation."""
    return f"{question.options[question.right].text(lang)}\n{question.explanation(lang)}"


def entry_text(entry: Entry, lang: str) -> str:
    return f"{entry.title(lang)}\n{entry.answer(lang)}"


def test_the_quizzes_the_issue_asks_for() -> None:
    assert len(QUIZZES["onboarding"].questions) == 5
    long_ones = [quiz for quiz in QUIZZES.values() if 8 <= len(quiz.questions) <= 10]
    assert len(long_ones) >= 4
    topics = {q.teaches for _quiz, q in questions()}
    assert {
        "forms-of-harassment", "anyone-can-be-harassed", "online-harassment", "how-to-report",
        "anonymous-reporting", "after-reporting", "harasser-is-supervisor", "advocacy-board",
        "bystander-reporting", "third-party-harassment", "evidence", "retaliation-protection",
        "false-accusation", "legal-rights", "support-services", "emergency",
    } <= topics


@pytest.mark.parametrize("quiz_id", sorted(QUIZZES))
def test_every_taught_topic_is_a_faq_entry(quiz_id: str) -> None:
    quiz = QUIZZES[quiz_id]
    assert quiz.teaches in ENTRIES
    for question in quiz.questions:
        assert question.teaches in ENTRIES, f"{quiz_id}/{question.id} teaches {question.teaches!r}"


@pytest.mark.parametrize(("quiz", "question"), list(questions()), ids=lambda x: getattr(x, "id", ""))
def test_numbers_and_articles_come_from_the_faq(quiz: Quiz, question: Question) -> None:
    entry = ENTRIES[question.teaches]
    taught = {lang: entry_text(entry, lang) for lang in LANGS}
    anywhere = "\n".join(entry_text(e, lang) for e in ENTRIES.values() for lang in LANGS)
    for lang in LANGS:
        for number in HOTLINE.findall(every_text(question, lang)):
            assert number in FACTS_HOTLINES, f"{question.id}: {number} is not a hotline in FACTS.md"
            assert number in anywhere, f"{question.id}: {number} is in no FAQ entry"
        for number in HOTLINE.findall(taught_text(question, lang)):
            assert number in taught[lang], f"{question.id} ({lang}): {number} is not in {entry.id}"
    zh, en = every_text(question, "zh"), every_text(question, "en")
    for found in [*ARTICLE_ZH.findall(zh), *LAW_ZH.findall(zh)]:
        assert found in taught["zh"], f"{question.id}: {found} is not in {entry.id}"
    for found in [*ARTICLE_EN.findall(en), *(law for law in LAWS_EN if law in en)]:
        assert found in taught["en"], f"{question.id}: {found} is not in {entry.id}"


def test_law_questions_carry_the_legal_information_note() -> None:
    for _quiz, question in questions():
        if ARTICLE_ZH.search(question.explanation("zh")):
            assert "以上是法律信息，不是法律意见。" in question.explanation("zh"), question.id
            assert "This is information, not legal advice." in question.explanation("en"), question.id


def test_the_checker_of_this_file_catches_a_number_the_faq_does_not_have() -> None:
    assert HOTLINE.findall("打12351咨询") == ["12351"] and "12351" not in FACTS_HOTLINES
    assert HOTLINE.findall("K7QX-M2PA-X9TB-4RWE HAP-123456 2023年 第1010条 Art. 1010") == []
