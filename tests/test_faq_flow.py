"""How an FAQ answer is shown in the conversation: its own numbered list never competes with the
numbered choices that follow it."""

from __future__ import annotations

from bot.channels.rendering import render_numbered
from handlers.faq_flow import unnumbered

from .conftest import Worker


def test_an_answers_numbered_list_is_drawn_with_circled_numbers() -> None:
    answer = "步骤：\n1. 发\"查询\"。\n2、输入查询码。\n  3) 看回复。\n第1步以后，共有2个选择。"
    assert unnumbered(answer) == "步骤：\n① 发\"查询\"。\n② 输入查询码。\n  ③ 看回复。\n第1步以后，共有2个选择。"
    assert unnumbered("21. twenty-one") == "(21) twenty-one"


async def test_after_an_answer_with_steps_1_means_the_first_topic(worker: Worker) -> None:
    await worker.send("/start")
    await worker.send("How do I report harassment? What are the steps?")
    answer = worker.last.replies[-1]
    assert answer.text.startswith("【How to report harassment】"), answer.text[:60]
    shown = render_numbered(answer)
    numbered_lines = [line for line in shown.splitlines() if line and line[0] in "0123456789"]
    assert len(numbered_lines) == len(answer.choices), "only the choices carry plain numbers"
    assert "① " in answer.text and "1. Choose" not in answer.text
    first_topic = answer.choices[0]
    assert first_topic.id.startswith("faq:")
    await worker.send("1")
    assert worker.last.replies[-1].text.startswith(f"【{first_topic.label}】")
