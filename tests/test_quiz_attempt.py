"""The pieces of a quiz attempt that the conversation relies on: distinct counting per month, stored
attempts that a newer or damaged layout cannot break, typed answers and employee numbers."""

from __future__ import annotations

import random

from faq import CONTENT_DIR
from handlers.quiz.attempt import Attempt, QuizLog
from handlers.quiz.library import QuizLibrary
from handlers.quiz_flow import typed_option
from handlers.training import employee_number

LIBRARY = QuizLibrary(CONTENT_DIR)


def test_a_worker_counts_once_per_group_and_month() -> None:
    log = QuizLog()
    assert log.first_time("2026-03", "main/onboarding/")
    assert not log.first_time("2026-03", "main/onboarding/")
    assert log.first_time("2026-03", "main/onboarding/q1")
    assert log.first_time("2026-04", "main/onboarding/"), "a new month counts again"
    assert log.counted == ["main/onboarding/"], "only the current month is remembered"
    assert not log.first_time("2026-03", "main/reporting/"), "an attempt from last month never counts again"
    assert QuizLog.from_document(log.to_document()) == log


def test_stored_attempts_survive_round_trips_and_refuse_unknown_layouts() -> None:
    quiz = LIBRARY.snapshot.quiz("onboarding", None)
    assert quiz is not None
    attempt = Attempt.start(quiz, "main", "2026-03", random.Random(7))
    attempt.results.append(True)
    again = Attempt.from_document(attempt.to_document())
    assert again == attempt and again.position == 1
    assert Attempt.from_document({**attempt.to_document(), "v": 99}) is None
    assert Attempt.from_document({"v": 1, "quiz": "x"}) is None
    assert Attempt.from_document({**attempt.to_document(), "unknown": 1}) is None
    assert again.shown_index(again.option_id(2)) == 2
    assert again.shown_index(f"quiz:{again.tag}:0:a") is None, "a button of an earlier question"
    assert again.shown_index("quiz:zzzz:1:a") is None, "a button of another attempt"


def test_typed_answers() -> None:
    quiz = LIBRARY.snapshot.quiz("onboarding", None)
    assert quiz is not None
    choice, true_false = quiz.questions[0], quiz.questions[2]
    order = [2, 0, 1]
    assert typed_option("b", choice, order) == 1
    assert typed_option("（Ｃ）", choice, order) == 2
    assert typed_option("选A", choice, order) == 0
    assert typed_option("d", choice, order) is None
    assert typed_option(choice.options[2].text("en").upper(), choice, order) == 0
    assert typed_option("对", true_false, [0, 1]) == 0 and typed_option("No", true_false, [0, 1]) == 1
    assert typed_option("maybe", true_false, [0, 1]) is None


def test_employee_numbers() -> None:
    assert employee_number(" ａｂ-１２３ ") == "AB-123"
    assert employee_number("12 345") == "12345"
    for bad in ("1", "张三", "-12", "a" * 30, "12;DROP"):
        assert employee_number(bad) is None, bad
