"""The bot answers in the language the worker writes in, and offers to keep it."""

from __future__ import annotations

from bot.core import Core

from .conftest import Worker


async def conversation_of(worker: Worker) -> dict[str, object]:
    runtime = worker.runtime
    async with runtime.database.transaction(write=False) as session:
        document = await runtime.services.conversations.load(session, worker.user_key)
    assert document is not None
    return document


async def test_an_english_question_in_a_chinese_conversation_gets_the_english_answer(runtime: Core) -> None:
    worker = Worker(runtime, "bilingual", language="zh")
    await worker.send("/start")
    await worker.send("what counts as harassment at work")
    answer = worker.last.replies[-1]
    assert answer.text.startswith("【What is sexual harassment?】"), answer.text[:40]
    assert answer.choices[-1].id == "speak_en" and answer.choices[-1].label == "Use English from now on"
    assert {"ask_hr": "Ask HR instead"}.items() <= {c.id: c.label for c in answer.choices}.items()
    assert (await conversation_of(worker))["language"] == "zh", "only offered, not switched"

    await worker.send("1")  # a topic of the answer: still in the language she asked in
    assert worker.last.replies[-1].text.startswith("【Forms of sexual harassment】")

    await worker.send("性骚扰的定义是什么")  # back to Chinese: Chinese again, nothing to offer
    assert worker.last.replies[-1].text.startswith("【什么是性骚扰"), worker.last.replies[-1].text[:20]
    assert "speak_zh" not in worker.choices and "speak_en" not in worker.choices


async def test_taking_the_offer_makes_it_the_conversations_language(runtime: Core) -> None:
    worker = Worker(runtime, "switcher", language="zh")
    await worker.send("/start")
    await worker.send("can I report anonymously?")
    await worker.choose("speak_en")
    assert worker.last.replies[0].text == "I will speak English from now on."
    assert (await conversation_of(worker))["language"] == "en"
    await worker.send("ok")
    await worker.send("菜单")
    assert worker.last.replies[-1].text == "What would you like to do? Choose a number or tap a button."


async def test_a_chinese_question_in_an_english_conversation_gets_the_chinese_answer(runtime: Core) -> None:
    worker = Worker(runtime, "english-first", language="en")
    await worker.send("/start")
    await worker.send("举报会被别人知道吗")
    answer = worker.last.replies[-1]
    assert "【" in answer.text and any("\u4e00" <= ch <= "\u9fff" for ch in answer.text[:10])
    assert answer.choices[-1].id == "speak_zh" and answer.choices[-1].label == "以后都用中文"
    await worker.send("hi")  # one English word is not enough to switch back
    assert worker.last.replies[-1].text.startswith(
        runtime.services.translators["zh"]("What would you like to do? Choose a number or tap a button.")
    )


async def test_inside_a_report_the_flow_keeps_its_language_but_emergency_help_is_in_hers(runtime: Core) -> None:
    worker = Worker(runtime, "story-teller", language="zh")
    zh = runtime.services.translators["zh"]
    await worker.choose("report")
    await worker.choose("agree")
    await worker.send("He keeps making dirty jokes about me")
    assert worker.last.replies[-1].text == zh("Saved ({count} messages). Add more, or choose Done.", count=1)
    await worker.send("and right now he is waiting outside my room")
    assert worker.last.replies[0].text.startswith("If you are in danger now:")
    assert worker.last.replies[-1].text == zh("Saved ({count} messages). Add more, or choose Done.", count=2)
    assert (await conversation_of(worker))["reply_language"] is None
