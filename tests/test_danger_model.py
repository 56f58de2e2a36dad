"""The learned second reading of danger: it finds danger the word families have no word for, leaves
what they cancelled cancelled, reads nothing into short answers, and until it is trained (or when
training fails) the families alone read danger, in the real pipeline too."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.core import Core
from handlers.danger_model import LearnedDanger
from handlers.danger_reading import DangerReading, read_examples
from handlers.faq.embedding import StaticWordVectors
from handlers.intents import Intent, understand

from .conftest import Worker

# Danger told in words no family holds (checked below: the families alone do not read it).
UNSEEN_DANGER = [
    "我现在很慌 那个人一直跟我后面到了宿舍楼",
    "他把我的手机抢走了 不让我打电话",
    "he is drunk and keeps holding my wrist in the stairwell",
]
PLAIN = ["我想知道举报流程", "怎么查我的举报进度", "培训什么时候开始", "how long does HR take to answer"]


@pytest.mark.parametrize("text", UNSEEN_DANGER)
def test_the_reading_finds_danger_the_families_have_no_word_for(learned: LearnedDanger, text: str) -> None:
    assert understand(text).intent is not Intent.DANGER, "the families read it: not a test of the reading"
    assert understand(text, learned.reads_danger).intent is Intent.DANGER


@pytest.mark.parametrize("text", PLAIN)
def test_plain_questions_stay_what_they_are(learned: LearnedDanger, text: str) -> None:
    assert understand(text, learned.reads_danger).intent == understand(text).intent


@pytest.mark.parametrize(
    "text",
    ["以前他跟踪过我，现在已经调走了，我想问问流程", "nobody is following me, i just want to ask about the training",
     "如果有人跟踪我应该怎么办"],
)
def test_a_danger_word_the_families_cancelled_stays_cancelled(text: str) -> None:
    """The reading is asked only where no danger word is at all: it adds words, never overrides
    the negation, the past or the question around one."""
    assert understand(text, lambda _text: True).intent is not Intent.DANGER


def test_what_else_a_flagged_message_asks_is_still_served() -> None:
    text = "我想举报我们主管 他每天都那样"
    plain = understand(text)
    assert plain.intent is Intent.REPORT and plain.words
    flagged = understand(text, lambda _text: True)
    assert (flagged.intent, flagged.then, flagged.words) == (Intent.DANGER, Intent.REPORT, plain.words)


@pytest.mark.parametrize("text", ["B", "ok", "A12345", "好的谢谢"])
def test_short_answers_are_not_read(learned: LearnedDanger, text: str) -> None:
    assert not learned.reads_danger(text)


def test_training_is_deterministic(vectors: StaticWordVectors) -> None:
    examples = read_examples()[:300]
    first, second = LearnedDanger.train(examples, vectors), LearnedDanger.train(examples, vectors)
    texts = UNSEEN_DANGER + PLAIN
    assert [first.probability(t) for t in texts] == [second.probability(t) for t in texts]


def test_untrained_it_reads_nothing_and_a_failed_training_leaves_it_so(caplog: pytest.LogCaptureFixture) -> None:
    reading = DangerReading()
    assert not reading.reads_danger(UNSEEN_DANGER[0])

    def broken() -> StaticWordVectors:
        raise OSError("the vectors cannot be read")

    with caplog.at_level(logging.ERROR, logger="handlers.danger_reading"):
        reading.learn_in_background(broken).join(timeout=30)
    assert not reading.learned and not reading.reads_danger(UNSEEN_DANGER[0])
    assert "learned danger reading not available: OSError" in caplog.text


async def test_in_the_pipeline_the_help_comes_first_once_it_is_trained(
    runtime: Core, vectors: StaticWordVectors
) -> None:
    text = UNSEEN_DANGER[1]
    before = Worker(runtime, "before-training")
    await before.send("/start")
    await before.send(text)
    assert "110" not in before.last.replies[0].text, "untrained, only the families read danger"

    runtime.services.danger.learn(lambda: vectors)
    after = Worker(runtime, "after-training")
    await after.send("/start")
    await after.send(text)
    assert "110" in after.last.replies[0].text, "the emergency help leads the replies"


async def test_the_reading_is_done_before_the_transaction_not_inside_it(
    runtime: Core, vectors: StaticWordVectors, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Model work is slow work by the house rules: never while the worker's lock is held."""
    runtime.services.danger.learn(lambda: vectors)
    open_transactions = 0
    transaction = runtime.database.transaction

    @contextlib.asynccontextmanager
    async def counted(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        nonlocal open_transactions
        async with transaction(*args, **kwargs) as session:
            open_transactions += 1
            try:
                yield session
            finally:
                open_transactions -= 1

    reads: list[int] = []
    reads_danger = runtime.services.danger.reads_danger

    def spied(text: str) -> bool:
        reads.append(open_transactions)
        return reads_danger(text)

    monkeypatch.setattr(runtime.database, "transaction", counted)
    monkeypatch.setattr(runtime.services.danger, "reads_danger", spied)
    worker = Worker(runtime, "read-first")
    await worker.send("/start")
    await worker.send(UNSEEN_DANGER[0])
    assert "110" in worker.last.replies[0].text
    assert reads and set(reads) == {0}, "read while a transaction was open"
