"""A whole quiz on WeChat through signed, encrypted callbacks against the bot's web app: numbered
options answered by number, letter, full-width digit or text; the emergency word mid-quiz; a number
that is no option; score, review and retry; every turn inside one passive reply."""

from __future__ import annotations

from bot.core import Core, build_core
from handlers.quiz.library import QuizLibrary
from storage.crypto import KeyRing
from storage.messages import Delivery

from .conftest import Clock
from .quizzes import asked, numbered_labels, quiz, right_index, wrong_index
from .wechat_harness import WeChatUser, wechat_server

WECHAT_BYTES = 2048


def pick(reply: str, library: QuizLibrary, *, right: bool = True) -> int:
    """The 0-based index of the right (or a wrong) option of the question in ``reply``."""
    question = quiz(library).questions[asked(reply)]
    labels = numbered_labels(reply.split("题）", 1)[-1])
    return right_index(question, labels, "zh") if right else wrong_index(question, labels, "zh")


def number_of(reply: str, label: str) -> str:
    return str(numbered_labels(reply).index(label) + 1)


async def test_a_whole_quiz_in_wechat(
    runtime: Core, quiz_library: QuizLibrary, keyring: KeyRing, clock: Clock
) -> None:
    replies: list[str] = []
    async with wechat_server(runtime) as (server, _channel):
        mei = WeChatUser(server)

        async def say(text: str) -> str:
            replies.append(await mei.say(text))
            return replies[-1]

        greeting = await mei.event("subscribe")
        assert "培训小测验" in greeting
        listing = await say("测验")
        assert "1. ⭐ 推荐：新员工入门小测验（5题）" in listing and "至少5个人的组" in listing
        reply = await say("1")
        assert "第1题（共5题）" in reply and "⏸ 先暂停（进度会保存）" in reply

        reply = await say(str(pick(reply, quiz_library) + 1))  # by number
        assert "✅ 答对了！" in reply and "第2题（共5题）" in reply

        reply = await say("7")  # no such option
        assert "请回复一个选项的数字或字母" in reply and "第2题（共5题）" in reply
        reply = await say("ABCD"[pick(reply, quiz_library)])  # by letter
        assert "✅ 答对了！" in reply and "第3题（共5题）" in reply

        reply = await say("救命")
        assert "110" in reply and "第3题（共5题）" in reply, "the emergency word wins, then the question again"
    await runtime.close()

    # The process restarts: a new core on the same database continues the quiz where it was.
    quizzes = QuizLibrary(quiz_library.directory)
    again = await build_core(runtime.config, keyring=keyring, clock=clock, faq=runtime.services.faq, quizzes=quizzes)
    try:
        await _finish(again, quiz_library, mei.openid, replies)
    finally:
        await again.close()


async def _finish(runtime: Core, quiz_library: QuizLibrary, openid: str, replies: list[str]) -> None:
    async with wechat_server(runtime) as (server, _channel):
        mei = WeChatUser(server, openid)

        async def say(text: str) -> str:
            replies.append(await mei.say(text))
            return replies[-1]

        reply = await say("测验")
        assert "1. ▶ 继续“新员工入门小测验”（第3题，共5题）" in reply
        reply = await say("1")
        assert "第3题（共5题）" in reply
        reply = await say(chr(ord("１") + pick(reply, quiz_library)))  # a full-width digit
        assert "✅ 答对了！" in reply and "第4题（共5题）" in reply

        question = quiz(quiz_library).questions[3]
        reply = await say(question.options[question.right].text("zh"))  # the option's text
        assert "✅ 答对了！" in reply and "第5题（共5题）" in reply

        reply = await say(str(pick(reply, quiz_library, right=False) + 1))
        last = quiz(quiz_library).questions[4]
        assert f"❌ 不太对。正确答案：{last.options[last.right].text('zh')}" in reply
        assert last.explanation("zh") in reply
        assert "5题里你答对了4题" in reply and "你通过了" in reply and "需要复习的题：第5题。" in reply

        reply = await say(number_of(reply, "复习答错的题"))
        assert "复习 1/1：第5题" in reply and last.explanation("zh") in reply
        reply = await say(number_of(reply, "📖 详细了解"))
        assert "【我现在有危险】" in reply, "read more opens the FAQ entry the question teaches"
        reply = await say(number_of(reply, "回到测验"))
        assert "复习 1/1：第5题" in reply
        reply = await say(number_of(reply, "回到我的成绩"))
        reply = await say(number_of(reply, "再做一次这个测验"))
        assert "第1题（共5题）" in reply

    for text in replies:
        assert len(text.encode("utf-8")) <= WECHAT_BYTES
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.outbox.pending(session, Delivery) == [], "every turn fit one passive reply"
