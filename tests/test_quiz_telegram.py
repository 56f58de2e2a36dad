"""A whole quiz on Telegram, through the real PTB stack against the Bot API emulator: inline buttons
(signed callback data, never native quiz polls), typed letters, the emergency word mid-quiz, the score,
the review, a retry, and a stale button from the finished quiz refused politely."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.core import Core, build_core
from handlers.quiz.library import QuizLibrary
from handlers.quiz.model import Question
from storage.crypto import KeyRing

from .conftest import Clock
from .quizzes import quiz, right_index, wrong_index
from .telegram_emulator import TelegramEmulator
from .telegram_emulator.helpers import wait_until
from .telegram_harness import TelegramWorker, running_channel

HEADER = re.compile(r"Question (\d+) of 5")
OPTION_DATA = re.compile(r"^quiz:[a-z0-9]{4}:\d:[a-d]\|[a-z2-7]{10}$")


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


async def shows(worker: TelegramWorker, needle: str) -> None:
    """Waits until the newest bot message contains ``needle`` (replies come as several messages)."""
    await wait_until(lambda: needle in worker.last_text(), 10)


async def answer(worker: TelegramWorker, library: QuizLibrary, *, right: bool) -> int:
    """Taps the right (or a wrong) option of the question on screen; returns its number."""
    number = int(HEADER.findall(worker.last_text())[-1])
    question = quiz(library).questions[number - 1]
    labels = worker.buttons()
    index = right_index(question, labels, "en") if right else wrong_index(question, labels, "en")
    await worker.tap(labels[index])
    await shows(worker, f"Question {number + 1} of 5" if number < 5 else "right.")
    return number


async def test_a_whole_quiz_in_telegram(
    runtime: Core, emu: TelegramEmulator, quiz_library: QuizLibrary, keyring: KeyRing, clock: Clock
) -> None:
    async with running_channel(runtime, emu):
        mei = TelegramWorker(emu, "Mei")
        await mei.say("/start")
        await mei.tap("Refresher quiz")
        await shows(mei, "Choose a quiz")
        await mei.tap("⭐ Suggested: Starter quiz for new staff (5 questions)")
        await shows(mei, "Question 1 of 5")
        assert mei.buttons()[-1] == "⏸ Stop for now (your place is kept)"
        assert not emu.calls("sendPoll"), "no native quiz polls: Telegram would report answers with the user id"

        # Question 1 answered by typing its letter: its buttons stay, to be tapped later (stale).
        first_question = quiz(quiz_library).questions[0]
        first_message = mei.bot_messages()[-1]
        letter = "ABC"[right_index(first_question, mei.buttons(), "en")]
        before = len(mei.bot_messages())
        emu.send_text(mei.id, letter)
        await shows(mei, "Question 2 of 5")
        assert "✅ Right!" in "\n".join(str(m.get("text")) for m in mei.bot_messages()[before:])

        await answer(mei, quiz_library, right=False)
        missed = quiz(quiz_library).questions[1]
        assert f"❌ Not quite. The right answer: {missed.options[missed.right].text('en')}" in mei.all_text()
        assert missed.explanation("en") in mei.all_text()
    await runtime.close()

    # The process restarts: a new core on the same database, the same chat, the quiz goes on.
    quizzes = QuizLibrary(quiz_library.directory)
    again = await build_core(runtime.config, keyring=keyring, clock=clock, faq=runtime.services.faq, quizzes=quizzes)
    try:
        await _after_restart(again, emu, quiz_library, mei, first_message, missed)
    finally:
        await again.close()


async def _after_restart(
    runtime: Core,
    emu: TelegramEmulator,
    quiz_library: QuizLibrary,
    mei: TelegramWorker,
    first_message: dict[str, Any],
    missed: Question,
) -> None:
    async with running_channel(runtime, emu):
        await mei.say("/quiz")
        await mei.tap("▶ Continue “Starter quiz for new staff” (question 3 of 5)")
        await shows(mei, "Question 3 of 5")
        shown = len(mei.bot_messages())
        await mei.say("danger")
        await wait_until(lambda: len(mei.bot_messages()) >= shown + 2, 10)  # the help, then the question again
        assert "Call 110 (police)" in mei.bot_messages()[-2]["text"] and "Question 3 of 5" in mei.last_text()
        for _ in range(3):
            await answer(mei, quiz_library, right=True)
        assert "you got 4 of 5 right" in mei.last_text() and "Questions to review: 2." in mei.last_text()

        await mei.tap("Review the ones I missed")
        await shows(mei, "Review 1 of 1: question 2")
        assert missed.explanation("en") in mei.last_text()
        await mei.tap("Back to my score")
        await shows(mei, "you got 4 of 5 right")

        # A button of the finished quiz's first question: refused politely, nothing counted.
        async with runtime.database.transaction(write=False) as session:
            before_tallies = await runtime.services.quiz_tallies.all(session, "main")
        stale = next(b for row in first_message["reply_markup"]["inline_keyboard"] for b in row)
        calls = len(emu.calls("sendMessage"))
        emu.tap_button(mei.id, chat_id=mei.id, message_id=first_message["message_id"], text=stale["text"])
        await wait_until(lambda: len(emu.calls("sendMessage")) > calls, 10)
        await shows(mei, "you got 4 of 5 right")
        assert "That choice is not available here" in mei.all_text()
        async with runtime.database.transaction(write=False) as session:
            assert await runtime.services.quiz_tallies.all(session, "main") == before_tallies

        await mei.tap("Try this quiz again")
        await shows(mei, "Question 1 of 5")
        for _ in range(5):
            await answer(mei, quiz_library, right=True)
        assert "you got 5 of 5 right" in mei.last_text()

        # Button data names an option of one question of one attempt, signed for this user: no answer text.
        data = [
            button["callback_data"]
            for message in mei.messages()
            for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
            if button["callback_data"].startswith("quiz:")
        ]
        assert data and all(OPTION_DATA.match(item) for item in data), data
