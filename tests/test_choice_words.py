"""Answers in the worker's own words at a question with options: a keyword of a label or a word workers
use picks the one option it clearly means; anything ambiguous asks again."""

from __future__ import annotations

import pytest

from handlers.app import build_router
from handlers.choice_words import keyword_choice, label_keywords
from handlers.i18n import load_translators
from handlers.report import INVOLVED, URGENCY, WHERE

from .conftest import Worker

ZH = load_translators()["zh"]
WORDS = build_router().choice_words


def labels(options: dict[str, str], language: str) -> dict[str, str]:
    return {key: ZH(label) if language == "zh" else label for key, label in options.items()}


@pytest.mark.parametrize(
    ("options", "language", "typed", "picked"),
    [
        (WHERE, "zh", "车间", "workshop"),
        (WHERE, "zh", "在车间/工作区", "workshop"),
        (WHERE, "zh", "宿舍楼下", "dormitory"),
        (WHERE, "zh", "下班路上", "commute"),
        (WHERE, "zh", "微信上", "online"),
        (WHERE, "en", "in the workshop", "workshop"),
        (INVOLVED, "zh", "是线长", "supervisor"),
        (INVOLVED, "zh", "是", "supervisor"),
        (INVOLVED, "zh", "他是我们拉长", "supervisor"),
        (INVOLVED, "zh", "同事", "coworker"),
        (INVOLVED, "zh", "不知道", "unsure"),
        (INVOLVED, "zh", "送货的司机", "outsider"),
        (INVOLVED, "en", "yes, my line leader", "supervisor"),
        (INVOLVED, "en", "a coworker", "coworker"),
        (INVOLVED, "en", "not sure", "unsure"),
        (URGENCY, "zh", "不急", "normal"),
        (URGENCY, "zh", "尽快", "soon"),
    ],
)
def test_a_clear_word_picks_its_option(options: dict[str, str], language: str, typed: str, picked: str) -> None:
    shown = labels(options, language)
    assert keyword_choice(typed, list(shown), shown, WORDS) == picked


@pytest.mark.parametrize(
    ("options", "typed"),
    [
        (INVOLVED, "不是"),  # a co-worker or an outsider
        (INVOLVED, "不是线长"),
        (INVOLVED, "不是线长，是同事"),  # two options with evidence of their own
        (WHERE, "车"),
        (WHERE, "宿舍还是车间"),
        (WHERE, "我也说不清"),
    ],
)
def test_an_ambiguous_or_unknown_word_picks_nothing(options: dict[str, str], typed: str) -> None:
    shown = labels(options, "zh")
    assert keyword_choice(typed, list(shown), shown, WORDS) is None


def test_label_keywords_split_at_punctuation_and_or() -> None:
    assert label_keywords("车间或生产线") == ["车间", "生产线"]
    assert label_keywords("是：主管、经理或人事部人员") == ["是", "主管", "经理", "人事部人员"]
    assert label_keywords("Yes: a supervisor, manager or someone in HR") == ["yes", "supervisor", "manager", "hr"]


async def reach_where(worker: Worker) -> None:
    await worker.choose("report")
    await worker.choose("agree")
    await worker.send("他老是讲下流的话")
    await worker.choose("done")
    await worker.send("言语")
    await worker.send("１")  # full-width: "Today"


async def draft_of(worker: Worker) -> dict[str, object]:
    runtime = worker.runtime
    async with runtime.database.transaction(write=False) as session:
        document = await runtime.services.conversations.load(session, worker.user_key)
    assert document is not None
    draft = document["draft"]
    assert isinstance(draft, dict)
    return draft


async def test_typed_words_and_numbers_answer_the_report_questions(worker: Worker) -> None:
    chinese = Worker(worker.runtime, "typist", language="zh")
    await reach_where(chinese)
    draft = await draft_of(chinese)
    assert draft["category"] == "verbal" and draft["when"] == "today"
    await chinese.send("车间")
    await chinese.send("是线长")
    draft = await draft_of(chinese)
    assert draft["where"] == "workshop" and draft["involved"] == "supervisor"
    await chinese.send("跳过")
    await chinese.send("第三个")
    assert (await draft_of(chinese))["urgency"] == "normal"


async def test_an_ambiguous_answer_asks_again_with_the_options(worker: Worker) -> None:
    chinese = Worker(worker.runtime, "unsure-typist", language="zh")
    await reach_where(chinese)
    await chinese.send("车间")
    options = chinese.choices
    await chinese.send("不是")
    assert chinese.last.replies[0].text == ZH("Please choose one of the options.")
    assert chinese.choices == options, "the same question with its options"
    assert "involved" not in await draft_of(chinese)


async def test_a_question_at_the_menu_is_never_taken_for_a_menu_item(worker: Worker) -> None:
    chinese = Worker(worker.runtime, "asker", language="zh")
    await chinese.send("/start")
    await chinese.send("举报会被别人知道吗")
    assert "ask_hr" in chinese.choices and "agree" not in chinese.choices
