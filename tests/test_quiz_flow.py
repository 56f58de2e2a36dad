"""A whole refresher quiz on the console channel, on SQLite and PostgreSQL: right and wrong answers,
the explanation, read more, the score, the review of missed questions and a retry; leaving for the
emergency word or a report and coming back; a restart; bad input; stale buttons; an edit of the quiz
file while a worker is mid-quiz."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core import Core, build_core
from faq import CONTENT_DIR
from handlers.conversation import State
from handlers.quiz.library import QuizLibrary
from handlers.quiz.model import Question
from storage.crypto import KeyRing

from .conftest import Clock, Worker
from .flows import report_script
from .quizzes import question_at, quiz, right_index, wrong_index


def options(worker: Worker) -> tuple[list[str], list[str]]:
    """Ids and labels of the answer options in the latest question."""
    shown = [c for c in worker.last.replies[-1].choices if c.id.startswith("quiz:")]
    return [c.id for c in shown], [c.label for c in shown]


async def answer(worker: Worker, library: QuizLibrary, *, right: bool = True, quiz_id: str = "onboarding") -> Question:
    question = question_at(library, worker.text, quiz_id)
    ids, labels = options(worker)
    index = right_index(question, labels, "en") if right else wrong_index(question, labels, "en")
    await worker.choose(ids[index])
    return question


async def start_onboarding(worker: Worker) -> None:
    await worker.send("/start")
    await worker.choose("quiz")
    assert "quiz_take:onboarding" in worker.choices
    await worker.choose("quiz_take:onboarding")
    assert "Question 1 of 5" in worker.text


async def state_of(worker: Worker) -> str:
    async with worker.runtime.database.transaction(write=False) as session:
        document = await worker.runtime.services.conversations.load(session, worker.user_key)
    assert document is not None
    return str(document["state"])


async def test_a_whole_quiz_with_feedback_score_review_and_retry(worker: Worker, quiz_library: QuizLibrary) -> None:
    await worker.send("/start")
    await worker.choose("quiz")
    assert worker.last.replies[-1].choices[0].label == "⭐ Suggested: Starter quiz for new staff (5 questions)"
    assert "HR sees only totals" in worker.text, "the quiz says what it keeps"
    await worker.choose("quiz_take:onboarding")
    assert worker.choices[-1] == "quiz_pause" and "quiz_more" not in worker.choices

    first = await answer(worker, quiz_library, right=True)
    assert "✅ Right!" in worker.text and first.explanation("en") in worker.text
    assert "Question 2 of 5" in worker.text and "quiz_more" in worker.choices

    # "Read more" opens the FAQ topic the last question teaches, then the quiz goes on where it was.
    await worker.choose("quiz_more")
    assert "【What is sexual harassment?】" in worker.text
    await worker.choose("quiz_continue")
    assert "Question 2 of 5" in worker.text

    second = await answer(worker, quiz_library, right=False)
    right_text = second.options[second.right].text("en")
    assert f"❌ Not quite. The right answer: {right_text}" in worker.text
    assert second.explanation("en") in worker.text
    for _ in range(3):
        await answer(worker, quiz_library, right=True)
    assert "you got 4 of 5 right" in worker.text and "You passed" in worker.text
    assert "Questions to review: 2." in worker.text
    assert worker.choices == ["quiz_review", "quiz_retry", "training_record", "quiz_other", "menu"]

    await worker.choose("quiz_review")
    assert "Review 1 of 1: question 2" in worker.text
    assert second.text("en") in worker.text and right_text in worker.text and second.explanation("en") in worker.text
    await worker.choose("quiz_next")
    assert "you got 4 of 5 right" in worker.text

    await worker.choose("quiz_retry")
    assert "Question 1 of 5" in worker.text
    for _ in range(5):
        await answer(worker, quiz_library, right=False)
    assert "you got 0 of 5 right" in worker.text and "To pass you need 4 right" in worker.text
    assert "Questions to review: 1, 2, 3, 4, 5." in worker.text


async def test_options_are_shuffled_per_attempt_true_false_stay_in_order(
    worker: Worker, quiz_library: QuizLibrary
) -> None:
    await start_onboarding(worker)
    orders = set()
    for _ in range(12):
        _ids, labels = options(worker)
        orders.add(tuple(labels))
        await worker.choose("quiz_pause")
        await worker.choose("quiz")
        await worker.choose("quiz_take:onboarding")
    assert len(orders) > 1, "the options of question 1 were never shuffled"
    for _ in range(2):
        await answer(worker, quiz_library)
    assert options(worker)[1] == ["True", "False"], "a true-or-false question keeps True before False"


async def test_leaving_for_the_emergency_word_and_a_report_then_coming_back(
    worker: Worker, quiz_library: QuizLibrary
) -> None:
    await start_onboarding(worker)
    await answer(worker, quiz_library)
    await answer(worker, quiz_library)
    await worker.send("danger")
    assert "Call 110 (police)" in worker.text, "the emergency word always wins"
    assert "Question 3 of 5" in worker.last.replies[-1].text, "then the quiz question is asked again"

    await worker.send("举报")
    assert "Before you report" in worker.text
    await worker.choose("decline")
    await worker.choose("quiz")
    assert worker.choices[0] == "quiz_resume"
    assert worker.last.replies[-1].choices[0].label == "▶ Continue “Starter quiz for new staff” (question 3 of 5)"
    await worker.choose("quiz_resume")
    assert "Question 3 of 5" in worker.text
    for _ in range(3):
        await answer(worker, quiz_library)
    assert "you got 5 of 5 right" in worker.text


async def test_pausing_and_the_menu_word_keep_the_place(worker: Worker, quiz_library: QuizLibrary) -> None:
    await start_onboarding(worker)
    await answer(worker, quiz_library)
    await worker.choose("quiz_pause")
    assert "Your place is kept" in worker.text and await state_of(worker) == State.MENU
    await worker.choose("quiz")
    await worker.choose("quiz_resume")
    await worker.send("菜单")
    assert "What would you like to do?" in worker.text
    await worker.send("测验")
    assert worker.choices[0] == "quiz_resume"


async def test_resume_after_the_process_restarts(
    runtime: Core, keyring: KeyRing, clock: Clock, quiz_library: QuizLibrary
) -> None:
    worker = Worker(runtime, "restarted")
    await start_onboarding(worker)
    await answer(worker, quiz_library, right=False)
    await answer(worker, quiz_library)
    await runtime.close()

    again = await build_core(runtime.config, keyring=keyring, clock=clock, quizzes=QuizLibrary(CONTENT_DIR))
    try:
        worker = Worker(again, "restarted")
        await worker.send("/start")
        await worker.choose("quiz")
        await worker.choose("quiz_resume")
        assert "Question 3 of 5" in worker.text
        for _ in range(3):
            await answer(worker, again.services.quizzes)
        assert "you got 4 of 5 right" in worker.text and "Questions to review: 1." in worker.text
    finally:
        await again.close()


async def test_an_answer_that_is_not_an_option_gets_the_question_again(
    worker: Worker, quiz_library: QuizLibrary
) -> None:
    await start_onboarding(worker)
    ids_before, labels_before = options(worker)
    for text in ("maybe the second one?", "9", "E"):
        await worker.send(text)
        assert "Please answer with the number or the letter of one of the options." in worker.text
        assert options(worker) == (ids_before, labels_before), "the same question, same options, same order"
        assert "Question 1 of 5" in worker.text
    question = question_at(quiz_library, worker.text)
    right = right_index(question, labels_before, "en")
    await worker.send(chr(ord("Ａ") + right))  # a full-width letter
    assert "✅ Right!" in worker.text
    _ids, labels = options(worker)
    question = question_at(quiz_library, worker.text)
    await worker.send(chr(ord("１") + right_index(question, labels, "en")))  # a full-width digit
    assert "✅ Right!" in worker.text and "Question 3 of 5" in worker.text
    await worker.send("false")  # a true-or-false question answered in words
    assert "✅ Right!" in worker.text
    _ids, labels = options(worker)
    question = question_at(quiz_library, worker.text)
    await worker.send(f"  {question.options[question.right].text('zh')}。")  # the option's text, in Chinese
    assert "✅ Right!" in worker.text and "Question 5 of 5" in worker.text


async def test_stale_buttons_are_refused_politely(worker: Worker, quiz_library: QuizLibrary, runtime: Core) -> None:
    await start_onboarding(worker)
    first_ids, _ = options(worker)
    await answer(worker, quiz_library)
    await worker.choose(first_ids[0])  # a button of the question already answered
    assert "That choice is not available here" in worker.text and "Question 2 of 5" in worker.text
    for _ in range(4):
        await answer(worker, quiz_library)
    assert "you got 5 of 5 right" in worker.text
    async with runtime.database.transaction(write=False) as session:
        before = await runtime.services.quiz_tallies.all(session, "main")
    await worker.choose(first_ids[1])
    assert "That choice is not available here" in worker.text and "you got 5 of 5 right" in worker.text
    await worker.choose("quiz_pause")  # the pause button of the finished quiz
    assert "That choice is not available here" in worker.text
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.quiz_tallies.all(session, "main") == before, "a stale button counts nothing"


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "faq"
    shutil.copytree(CONTENT_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


async def test_an_edit_mid_quiz_does_not_change_the_attempt(
    runtime: Core, keyring: KeyRing, clock: Clock, content_copy: Path
) -> None:
    library = QuizLibrary(content_copy)
    core = await build_core(runtime.config, keyring=keyring, clock=clock, quizzes=library)
    try:
        worker = Worker(core, "mid-edit")
        await start_onboarding(worker)
        await answer(worker, library)
        original = quiz(library).questions[1]

        # The admin rewrites question 2 and makes another option the right one.
        path = content_copy / "quizzes" / "onboarding.yaml"
        text = path.read_text(encoding="utf-8")
        edited = text.replace("How do you start a report with this bot?", "EDITED, how do you start a report?")
        edited = edited.replace(
            "        en: Choose Report in the menu, or send report\n        correct: yes\n",
            "        en: Choose Report in the menu, or send report\n",
        ).replace(
            "        en: First go to the office and sign a form with HR\n",
            "        en: First go to the office and sign a form with HR\n        correct: yes\n",
        )
        path.write_text(edited, encoding="utf-8")
        assert library.reload() == []
        assert quiz(library).questions[1].text("en").startswith("EDITED")

        assert "EDITED" not in worker.text
        await worker.send("/language")
        await worker.choose("en")
        assert original.text("en") in worker.text and "EDITED" not in worker.text, "the attempt keeps its question"
        _ids, labels = options(worker)
        await worker.choose(options(worker)[0][right_index(original, labels, "en")])
        assert "✅ Right!" in worker.text, "graded by the question the worker was shown"

        # A broken edit is refused and the last good quizzes keep serving.
        path.write_text(edited.replace("id: onboarding", "id: onboarding\nbogus: 1", 1), encoding="utf-8")
        problems = library.reload()
        assert problems and "bogus" in str(problems[0]) and "onboarding.yaml:" in str(problems[0])
        assert quiz(library).questions[1].text("en").startswith("EDITED")
        for _ in range(3):
            await answer(worker, library)
        await worker.choose("quiz_retry")
        await answer(worker, library)
        assert "EDITED" in worker.text, "a new attempt gets the new question"
    finally:
        await core.close()


async def test_after_an_edit_and_a_restart_a_vanished_question_is_left_out(
    runtime: Core, keyring: KeyRing, clock: Clock, content_copy: Path
) -> None:
    worker = Worker(runtime, "left-out")
    await start_onboarding(worker)
    await answer(worker, runtime.services.quizzes)
    path = content_copy / "quizzes" / "onboarding.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("How do you start", "Changed, how do you start"), encoding="utf-8"
    )
    await runtime.close()
    core = await build_core(runtime.config, keyring=keyring, clock=clock, quizzes=QuizLibrary(content_copy))
    try:
        worker = Worker(core, "left-out")
        await worker.send("/start")
        await worker.choose("quiz")
        await worker.choose("quiz_resume")
        assert "Question 3 of 5" in worker.text, "question 2 changed while the bot was down: it is left out"
        for _ in range(3):
            await answer(worker, core.services.quizzes)
        assert "you got 4 of 4 right" in worker.text
    finally:
        await core.close()


async def test_a_reminders_quiz_button_opens_that_quiz_from_the_menu(worker: Worker) -> None:
    """A pushed reminder carries ``quiz:<id>`` (handlers.reminders); pressed later, it opens that quiz."""
    await worker.send("/start")
    await worker.choose("quiz:onboarding")
    assert "Question 1 of 5" in worker.text
    other = Worker(worker.runtime, "no-such-quiz")
    await other.send("/start")
    await other.choose("quiz:gone-since")
    assert "Choose a quiz" in other.text and "That choice is not available" not in other.text, "the quiz list"


async def test_an_attempt_keeps_the_pass_mark_it_started_with(
    runtime: Core, keyring: KeyRing, clock: Clock, content_copy: Path
) -> None:
    library = QuizLibrary(content_copy)
    core = await build_core(runtime.config, keyring=keyring, clock=clock, quizzes=library)
    try:
        worker = Worker(core, "pass-mark")
        await start_onboarding(worker)  # 5 questions, pass mark 4
        await answer(worker, library)
        # The admin adds five questions (copies of the five with new ids): 10 questions, pass mark 8.
        path = content_copy / "quizzes" / "onboarding.yaml"
        text = path.read_text(encoding="utf-8")
        head, questions = text.split("questions:\n", 1)
        copies = questions.replace("  - id: ", "  - id: more-")
        path.write_text(head + "questions:\n" + questions.rstrip("\n") + "\n\n" + copies, encoding="utf-8")
        assert library.reload() == []
        assert len(library.snapshot.quiz("onboarding", None).questions) == 10
        for _ in range(4):
            await answer(worker, library)
        assert "you got 5 of 5 right" in worker.text
        assert "You passed" in worker.text, worker.text
    finally:
        await core.close()


async def test_a_number_typed_at_a_quiz_question_when_an_old_draft_expires_is_read(
    worker: Worker, runtime: Core, clock: Clock
) -> None:
    await worker.send("/start")
    await worker.choose("report")
    await worker.choose("agree")
    await worker.send("He keeps standing too close at the line.")
    await worker.send("menu")  # she leaves the report; its draft is kept for a while
    await worker.choose("quiz")
    await worker.choose("quiz_take:onboarding")
    assert "Question 1 of 5" in worker.text
    clock.now += runtime.services.settings.draft_ttl + timedelta(minutes=1)
    await worker.send("1")  # numbered lines: she types the number of an option
    assert "Please answer with the number" not in worker.text, worker.text
    assert "Right!" in worker.text or "Not quite" in worker.text


async def test_a_number_typed_while_a_receipt_is_owed_is_read(worker: Worker) -> None:
    await worker.send("/start")
    worker.confirm_receipts = False  # the receipt's reply may not have arrived (WeChat answered late)
    for step in report_script(["He keeps standing too close at the line."]):
        await worker.send(step.get("text"), choice=step.get("choice"))
    await worker.choose("quiz")
    assert "quiz_take:onboarding" in worker.choices
    position = worker.choices.index("quiz_take:onboarding") + 1
    await worker.send(str(position))  # she types the number of the suggested quiz
    assert "Question 1 of 5" in worker.text, worker.text


async def test_a_reminders_quiz_button_mid_quiz_does_not_throw_away_her_place(
    worker: Worker, quiz_library: QuizLibrary
) -> None:
    await start_onboarding(worker)
    for _ in range(3):
        await answer(worker, quiz_library)
    assert "Question 4 of 5" in worker.text
    await worker.choose("quiz:onboarding")  # the monthly reminder's button (Telegram), pressed now
    assert "Question 1 of 5" not in worker.text and "Question 4 of 5" in worker.text, worker.text
