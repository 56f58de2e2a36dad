"""What a message means, through the real pipeline (console channel, SQLite and PostgreSQL): every phrase
of our table at the first message, in the middle of a report and in the middle of the FAQ; danger inside
a sentence at any step; a report started from her words keeps them through the privacy notice; a receipt
pasted anywhere opens its case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core import Core, build_core
from handlers.commands import parse_command
from handlers.conversation import State
from handlers.faq.service import LibraryFaqService
from handlers.intents import Intent, find_receipt
from storage.crypto import KeyRing

from .conftest import Clock, Worker, conversation_with_account, make_config
from .flows import receipt_in, report_script
from .intent_rates import TABLE, Phrase, read_phrases

PHRASES = read_phrases(TABLE)
MENU_IDS = ["report", "status", "faq", "quiz", "remind", "language", "help"]
WELCOME_IDS = ["report", "status", "faq", "quiz", "remind_on", "language", "help"]  # the welcome offers reminders
STORY = {"zh": "他老是在车间里讲下流的话", "en": "He keeps making dirty jokes in the workshop"}
QUESTION = {"zh": "性骚扰的定义是什么", "en": "what counts as sexual harassment"}
WELCOME = "You are welcome. I am here whenever you need me."
ALARM = "If you are in danger now:"
PEOPLE = "You can talk to a person:"


async def stored(worker: Worker) -> dict[str, object]:
    runtime = worker.runtime
    async with runtime.database.transaction(write=False) as session:
        document = await conversation_with_account(runtime.crypto, session, worker.user_key)
    assert document is not None
    return document


def t(worker: Worker, language: str, message: str) -> str:
    return worker.runtime.services.translators["zh" if language == "zh" else "en"](message)


def alarmed(worker: Worker, language: str) -> bool:
    """The emergency help was given (a reply of its own; the FAQ's emergency answer is not an alarm)."""
    return any(reply.text.startswith(t(worker, language, ALARM)) for reply in worker.last.replies)


def check_answer(worker: Worker, phrase: Phrase, *, first: bool) -> list[str]:
    """What is wrong with the bot's answer to ``phrase`` outside a flow (empty when right)."""
    text, choices, lang = worker.text, worker.choices, phrase.lang
    problems: list[str] = []
    if phrase.intent == Intent.DANGER:
        if not alarmed(worker, lang) or "110" not in text:
            problems.append("no emergency numbers")
        return problems
    if alarmed(worker, lang):
        problems.append("a false alarm")
    if phrase.intent == Intent.REPORT and choices[:2] != ["agree", "decline"]:
        problems.append(f"the privacy notice was not shown: {choices}")
    elif phrase.intent == Intent.STATUS and (choices != ["menu"] or "HAP" in text):
        problems.append(f"not asked for a receipt: {choices}")
    elif phrase.intent == Intent.GREETING and choices != WELCOME_IDS:
        problems.append(f"no greeting menu: {choices}")
    elif phrase.intent == Intent.THANKS and not first and t(worker, lang, WELCOME) not in text:
        problems.append("no you're-welcome")
    elif phrase.intent == Intent.THANKS and first and choices != WELCOME_IDS:
        problems.append("a newcomer's thanks gets the welcome")
    elif phrase.intent == Intent.PERSON and (t(worker, lang, PEOPLE) not in text or "12338" not in text):
        problems.append("no people to talk to")
    elif phrase.intent == Intent.QUESTION and "ask_hr" not in choices:
        problems.append(f"not answered from the FAQ: {choices}")
    return problems


async def test_every_phrase_at_the_first_message(runtime: Core) -> None:
    problems = []
    for index, phrase in enumerate(PHRASES):
        worker = Worker(runtime, f"first-{index}", language=phrase.lang)
        await worker.send(phrase.q)
        problems += [f"{phrase.q}: {p}" for p in check_answer(worker, phrase, first=True)]
        if phrase.intent == Intent.REPORT:
            await worker.choose("agree")
            what = (await stored(worker))["draft"]["what"]  # type: ignore[index]
            if what != ([phrase.q] if phrase.words else []):
                problems.append(f"{phrase.q}: the account starts with {what}")
    assert not problems, "\n".join(problems)


async def test_every_phrase_in_the_middle_of_the_faq(runtime: Core) -> None:
    problems = []
    for index, phrase in enumerate(PHRASES):
        worker = Worker(runtime, f"faq-{index}", language=phrase.lang)
        await worker.choose("faq")
        await worker.send(QUESTION[phrase.lang])
        assert (await stored(worker))["state"] == State.FAQ_PICK
        await worker.send(phrase.q)
        problems += [f"{phrase.q}: {p}" for p in check_answer(worker, phrase, first=False)]
    assert not problems, "\n".join(problems)


async def test_every_phrase_in_the_middle_of_a_report(runtime: Core) -> None:
    """Only danger and a receipt interrupt a story; everything else is her words, kept in order."""
    problems = []
    for index, phrase in enumerate(PHRASES):
        if parse_command(phrase.q) is not None:
            continue  # a whole-message command ("查进度") is a command everywhere (tests/test_bad_input.py)
        worker = Worker(runtime, f"report-{index}", language=phrase.lang)
        await worker.choose("report")
        await worker.choose("agree")
        await worker.send(STORY[phrase.lang])
        await worker.send(phrase.q)
        document = await stored(worker)
        what = document["draft"]["what"]  # type: ignore[index]
        alarm = alarmed(worker, phrase.lang)
        if phrase.intent == Intent.DANGER and not alarm:
            problems.append(f"{phrase.q}: no emergency numbers")
        if phrase.intent != Intent.DANGER and alarm:
            problems.append(f"{phrase.q}: a false alarm")
        if find_receipt(phrase.q) is not None:
            if document["state"] != State.STATUS_RECEIPT or what != [STORY[phrase.lang]]:
                problems.append(f"{phrase.q}: the pasted receipt did not open the status, or the draft changed")
        elif document["state"] != State.REPORT_WHAT or what != [STORY[phrase.lang], phrase.q]:
            problems.append(f"{phrase.q}: not kept as her words ({document['state']}, {len(what)} parts)")
    assert not problems, "\n".join(problems)


async def test_a_frightened_first_message_gets_emergency_help_then_the_menu(runtime: Core) -> None:
    worker = Worker(runtime, "frightened", language="zh")
    await worker.send("他在宿舍门口等我，我好怕")
    assert "110" in worker.text and "0755-1234567" in worker.text, "the emergency numbers and the site's security"
    assert worker.choices == MENU_IDS


async def test_danger_mid_report_keeps_the_draft_the_state_and_her_sentence(runtime: Core) -> None:
    worker = Worker(runtime, "mid-report", language="zh")
    await worker.choose("report")
    await worker.choose("agree")
    await worker.send("组长老是摸我")
    await worker.choose("done")
    await worker.send("他现在就在我宿舍门口不走")
    assert "110" in worker.text
    assert worker.choices[-1] == "danger" and "verbal" in worker.choices, "the category question is asked again"
    document = await stored(worker)
    assert document["state"] == State.REPORT_CATEGORY
    assert document["draft"]["what"] == ["组长老是摸我"]  # type: ignore[index]
    assert document["draft"]["urgency"] == "danger_now"  # type: ignore[index]

    await worker.choose("physical")
    await worker.choose("today")
    await worker.send("有人一直跟着我，这算骚扰吗")  # at a choice question: help, then the question again
    assert "110" in worker.text and (await stored(worker))["state"] == State.REPORT_WHERE


async def test_her_words_survive_the_privacy_notice_and_declining_deletes_them(runtime: Core) -> None:
    worker = Worker(runtime, "words", language="zh")
    await worker.send("/start")
    await worker.send("我想举报我们线长")
    assert worker.choices == ["agree", "decline", "danger"]
    await worker.choose("decline")
    assert (await stored(worker))["draft"] is None, "nothing was saved"

    await worker.send("我想举报我们线长")
    await worker.choose("agree")
    zh = runtime.services.translators["zh"]
    assert worker.last.replies[-1].text == zh("Saved ({count} messages). Add more, or choose Done.", count=1)
    await worker.send("他老是摸我")
    draft = (await stored(worker))["draft"]
    assert draft["what"] == ["我想举报我们线长", "他老是摸我"]  # type: ignore[index]
    assert draft["consent"]["notice"] >= 1  # type: ignore[index]


async def test_a_report_from_words_cannot_be_submitted_without_consent(runtime: Core) -> None:
    """Her words wait in a draft before she has read the notice: a resumed draft goes to the notice first."""
    worker = Worker(runtime, "no-consent", language="en")
    await worker.send("/start")
    await worker.send("I want to report my supervisor")
    await worker.send("菜单")
    await worker.choose("report")
    assert worker.choices == ["resume", "review", "discard", "danger"]
    await worker.choose("review")
    await worker.choose("submit")
    assert worker.choices == ["agree", "decline", "danger"], "the notice comes before anything is submitted"


async def test_a_report_in_danger_is_started_urgent_with_her_words(runtime: Core) -> None:
    worker = Worker(runtime, "urgent", language="zh")
    await worker.send("/start")
    await worker.send("我要举报，他刚才打我")
    assert "110" in worker.text and worker.choices == ["agree", "decline", "danger"]
    await worker.choose("agree")
    draft = (await stored(worker))["draft"]
    assert draft["what"] == ["我要举报，他刚才打我"] and draft["urgency"] == "danger_now"  # type: ignore[index]


async def test_a_question_with_danger_gets_the_help_then_its_answer(runtime: Core) -> None:
    worker = Worker(runtime, "asks", language="zh")
    await worker.send("/start")
    await worker.send("有人一直跟着我，这种情况可以报警吗？")
    assert "110" in worker.last.replies[0].text
    assert "ask_hr" in worker.choices


async def test_a_receipt_pasted_mid_report_opens_the_case_and_keeps_the_draft(runtime: Core) -> None:
    reporter = Worker(runtime, "reporter", language="zh")
    for line in [{"text": "/start"}, *report_script(["他老是讲黄色笑话"])]:
        await reporter.send(line.get("text"), choice=line.get("choice"))
    receipt = receipt_in(reporter.text)

    worker = Worker(runtime, "other-phone", language="zh")
    await worker.choose("report")
    await worker.choose("agree")
    await worker.send("又一件事")
    await worker.send(f"我的查询码是 {receipt.lower().replace('-', ' ')}")
    assert "HAP-" in worker.text and "add_info" in worker.choices, "the case is open"
    document = await stored(worker)
    assert document["state"] == State.STATUS_CASE
    assert document["draft"]["what"] == ["又一件事"]  # type: ignore[index]


@pytest.fixture
async def site_with_people(
    database_url: str, tmp_path: Path, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService
) -> AsyncIterator[Core]:
    config = make_config(
        database_url,
        tmp_path / "data",
        main={
            "name": {"zh": "一号厂", "en": "Factory One"},
            "emergency_phone": "0755-1234567",
            "contacts": {"hr": {"zh": "人事部 王女士，分机 8012", "en": "HR, Ms Wang, ext. 8012"}},
            "facts": {
                "advocacy_board": {"zh": "员工关爱委员会：李姐，电话 8020", "en": "Advocacy board: Ms Li, ext. 8020"},
                "counselling_service": {"zh": "免费心理咨询：分机 8030", "en": "Free counselling: ext. 8030"},
            },
        },
    )
    built = await build_core(config, keyring=keyring, clock=clock, faq=faq_service)
    try:
        yield built
    finally:
        await built.close()


async def test_talk_to_a_person_names_the_sites_hr_board_and_counselling(site_with_people: Core) -> None:
    worker = Worker(site_with_people, "lonely", language="zh")
    await worker.send("/start")
    await worker.send("我想找人聊")
    assert "分机 8012" in worker.text and "电话 8020" in worker.text and "分机 8030" in worker.text
    assert "12338" in worker.text and worker.choices == MENU_IDS
    english = Worker(site_with_people, "lonely-en", language="en")
    await english.send("/start")
    await english.send("I want to talk to someone in HR")
    assert "Ms Wang" in english.text and "Ms Li" in english.text


async def test_greeting_and_thanks_answer_and_keep_the_question(runtime: Core) -> None:
    worker = Worker(runtime, "polite", language="zh")
    await worker.send("/start")
    await worker.send("你好")
    assert worker.choices == WELCOME_IDS and "这个问题暂时还没有答案" not in worker.text
    await worker.send("谢谢")
    assert worker.text == runtime.services.translators["zh"](WELCOME)
    await worker.send("1")
    assert worker.choices == ["agree", "decline", "danger"], "the menu still stands after thanks"
