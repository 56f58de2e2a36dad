"""What a review of this round's understanding and retention changes found, kept as tests: ordinary
messages the new word families took for danger, danger they cancelled ("他说的话" read as "if", a clause
ending in 呢 read as a question, her own self-harm after someone else is named), the learned reading
taking a place she names at "where?" for danger, the urgency of another draft overwritten, a purge's
held-back rewrite that nothing finished, and a plain VACUUM elsewhere counted as an older transaction.
Each failed before its fix."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.cli.cases import run as run_cases
from bot.config import Config
from bot.core import Core
from handlers.danger_model import LearnedDanger
from handlers.faq.embedding import StaticWordVectors
from handlers.intents import Intent, danger_cues, understand
from storage import retention
from storage.crypto import KeyRing

from .conftest import Clock, Worker, conversation_with_account
from .desk_kit import QuickPasswordHasher, enrolled_account, terminal
from .flows import receipt_in, report_script
from .test_retention import DAYS, file_case, pg_relation_files

# --- 1. ordinary messages (none was danger before the new alternatives) -------------------------------

ORDINARY = [
    "车间的刀片要换了",  # SELF_HARM: bare 刀片 (blades are everyday tools in cutting/garment shops)
    "裁剪车间用刀片",
    "辞职信写好了",  # SELF_HARM: 信(?:已经|都)?写好了 matches a resignation letter
    "信写好了，明天交给人事",
    "下班记得把灯关掉",  # ACT: 把灯(?:关|灭)
    "今晚要加班到2200",  # ACT: (?:今晚|晚上…).{0,6}(?:去|到).{0,8}\d{3,4}
    "晚上到101教室培训",
    "今晚去酒店吃饭",  # same line, 酒店
    "宿舍空调坏了，找人弄一下",  # THREAT: 找人(?:收拾|教训|弄|搞|打|揍|砍)
    "能不能找人打扫一下厕所",  # 找人打 + 扫
    "我找人打印一下工资条",
    "找人帮忙太麻烦了",  # THREAT: 找人.{0,10}(?:麻烦|算账)
    "老板不给钱就不干了",  # THREAT: 不(?:给|转|打)…(?:块|钱|万)…就 (wage arrears)
    "不给工钱就去劳动局告他",
    "出意外了工伤怎么赔",  # THREAT: bare 出(?:点)?意外
    "我走不开，在上班",  # ACT: 走不开 / 跑不了
    "拉长每天坐我后面",  # ACT: 坐(?:在)?我(?:后面|旁边|对面|身后)
    "宿舍就剩我一个人了，她们都回家过年了",  # ACT: 就剩…我一个
    "我的手机又在那儿充电",  # ACT: 又在那(?:里|儿)?了?
    "工牌又在那里找到了",
    "we end it at 6pm",  # SELF_HARM: \bend (?:it|everything)\b
    "i want to end it with my boyfriend",
    "i could sleep forever",  # SELF_HARM: \bsleep forever\b
    "i wrote a letter to my mother",
    "when will i get my money",  # THREAT: (will…) get + my/your/her now
    "i want to get my id card back",
    "they will find my mistake",
    "my supervisor is back from holiday",  # ACT: someone is … back
    "the guard locks the door at 10pm",  # ACT: … lock(?:s|ed)? the
    "he locked the warehouse door at 6",
    "hit the door button to open",  # ACT: hit … the door
    "i am under the table fixing the cable",
    "go to room 101 for the meeting",
    "make an accident report",  # THREAT: make … accident
    "will i get an accident insurance",
]


@pytest.mark.parametrize("message", ORDINARY)
def test_an_ordinary_message_does_not_raise_the_alarm(message: str) -> None:
    assert understand(message).intent is not Intent.DANGER, danger_cues(message)


# --- 2. danger that must stay danger ------------------------------------------------------------------

MISSED = [
    # "的话" was added to HYPOTHETICAL: "what he said" (他说的话) now reads as "if", and with a question
    # anywhere in the message every threat, act and fear in that clause is cancelled.
    "他说的话让我很害怕，我该怎么办",
    "组长发来的话是敢说出去就弄死我，我该怎么办？",
    "那个人说的话是要杀我全家，我该怎么办",
    "他威胁我的话我都截图了，现在该怎么办",
    "他在我宿舍门口说的话很吓人，怎么办",
    "他说的话是不让我走，我现在怎么办",
    # _question_shaped now reads every clause's end: a clause ending in 呢 makes the whole message a
    # question, and a cry for help in a question is cancelled unless it is one of SOS's words.
    "他还没走呢，帮帮我",
    "还在呢，帮帮我",
    "我一个人在宿舍呢 需要帮助",
    # _SOMEONE_ELSE before a self-harm cue in a hypothetical question cancels her own self-harm.
    "要是同事们都知道了我真的不想活了该怎么办",
    "if people find out i want to die, what can i do?",
]


@pytest.mark.parametrize("message", MISSED)
def test_danger_is_still_danger(message: str) -> None:
    assert understand(message).intent is Intent.DANGER
    # and the learned reading cannot bring it back: a (cancelled) danger word is in the message
    assert understand(message, lambda _text: True).intent is Intent.DANGER


# --- 3. thanks and person words must not swallow other intents -----------------------------------------


@pytest.mark.parametrize("message", ["帮我", "你帮我", "领导"])
def test_a_plea_or_a_title_is_not_thanks(message: str) -> None:
    """THANKS_WORDS now holds (?:你们|你|您)?帮(?:了)?我 and 领导: "帮我" alone gets "You are welcome"."""
    assert understand(message).intent is not Intent.THANKS


@pytest.mark.parametrize("message", ["他当面说我很丑", "他老是私聊我", "他总是加我微信", "他面对面盯着我看"])
def test_an_account_of_what_he_does_is_not_a_request_for_a_person(message: str) -> None:
    assert understand(message).intent is not Intent.PERSON


# --- 4. the learned reading at a report step -------------------------------------------------------


@pytest.mark.parametrize("message", ["我现在在车间", "我现在在宿舍", "就在车间里面", "在我们车间里面", "我在厕所里面"])
def test_the_learned_reading_does_not_read_danger_into_where_she_is(learned: LearnedDanger, message: str) -> None:
    """Six or seven characters saying where she is (an answer to "where?", "我现在在车间" to a question):
    the families read nothing, the reading (p 0.62-0.87, threshold 0.6) raises the alarm."""
    assert understand(message).intent is not Intent.DANGER
    assert understand(message, learned.reads_danger).intent is not Intent.DANGER, learned.probability(message)


async def _stored(worker: Worker) -> dict[str, Any]:
    async with worker.runtime.database.transaction(write=False) as session:
        document = await conversation_with_account(worker.runtime.crypto, session, worker.user_key)
    assert document is not None
    return document


async def _at_where(worker: Worker) -> None:
    await worker.send("/start")
    for line in report_script(["组长老是在没人的时候摸我"])[:6]:
        await worker.send(line.get("text"), choice=line.get("choice"))
    assert (await _stored(worker))["state"] == "report.where"


async def test_a_place_typed_at_the_where_question_is_an_answer_not_danger(
    runtime: Core, vectors: StaticWordVectors
) -> None:
    answer = "就在车间里面"  # six characters: MIN_CHARS lets the reading read it (p = 0.76)
    before = Worker(runtime, "untrained", language="zh", site="main")
    await _at_where(before)
    await before.send(answer)
    assert "110" not in before.text and (await _stored(before))["state"] == "report.involved", "control"

    runtime.services.danger.learn(lambda: vectors)
    after = Worker(runtime, "trained", language="zh", site="main")
    await _at_where(after)
    await after.send(answer)
    stored = await _stored(after)
    assert "110" not in after.last.replies[0].text, "the emergency numbers for 'in the workshop'"
    assert stored["state"] == "report.involved", "her answer was dropped and the question asked again"


# --- 5. emergency_help marks an unrelated unfinished draft ----------------------------------------


async def test_danger_added_to_a_filed_case_does_not_rewrite_the_urgency_of_another_draft(runtime: Core) -> None:
    """Case A filed; report B drafted to the review with "Not urgent"; she leaves with /start (the draft
    is kept) and adds "he is outside my room now" to case A. HR is alerted at once about A; the draft B,
    a different report, is silently set to danger_now, and the help tells her "your report is marked
    as urgent" while she is in case A's status (not so at 80ff952: only report.* states marked it)."""
    worker = Worker(runtime, "two-reports", language="en", site="main")
    await worker.send("/start")
    for line in report_script(["first report: he made comments in the canteen"]):
        await worker.send(line.get("text"), choice=line.get("choice"))
    receipt = receipt_in(worker.text)

    for line in report_script(["second report: someone in the office sends me pictures"])[:11]:
        await worker.send(line.get("text"), choice=line.get("choice"))
    assert (await _stored(worker))["draft"]["urgency"] == "normal"
    await worker.send("/start")  # leaves the report; the draft is kept ("keeps any draft")
    await worker.choose("status")
    await worker.send(receipt)
    await worker.choose("add_info")
    await worker.send("he is outside my room right now and won't let me leave")
    assert "110" in worker.last.replies[0].text
    draft = (await _stored(worker))["draft"]
    assert draft is not None
    assert draft.get("urgency") == "normal", "the unfinished report B was re-marked danger_now"


# --- 6. hapbot cases purge on PostgreSQL when the wait times out ----------------------------------


async def test_purge_advice_after_a_held_back_rewrite_on_postgres_works(
    runtime: Core, config: Config, keyring: KeyRing, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI prints SQLite's "the WAL checkpoint was held back … run the purge again" on PostgreSQL
    too; running it again finds nothing due, so it never rewrites: the bytes stay until some other
    case is purged."""
    database = runtime.database
    if database.dialect == "sqlite":
        pytest.skip("PostgreSQL only")
    clock.now = datetime.now(UTC) - timedelta(days=DAYS + 3)
    _reference, shredded = await file_case(runtime, clock)
    clock.now = datetime.now(UTC)
    wang = await enrolled_account(runtime, clock, "wang")

    async def purge() -> str:
        out = io.StringIO()
        args = argparse.Namespace(actor="wang", cases_command="purge", dry_run=False)
        await run_cases(config, args, out, keyring=keyring, prompt=terminal(wang, clock), clock=clock,
                        hasher=QuickPasswordHasher())
        return out.getvalue()

    monkeypatch.setattr(retention, "PG_SNAPSHOT_WAIT_SECONDS", 0.3)
    reader: AsyncConnection = await database.engine.connect()  # e.g. a nightly pg_dump's snapshot
    await reader.execution_options(isolation_level="REPEATABLE READ")
    await reader.begin()
    await reader.execute(text("SELECT 1"))
    try:
        first = await purge()
    finally:
        await reader.rollback()
        await reader.close()
    assert "1 finished case(s)" in first and "held back" in first
    again = await purge()  # as the message advises
    files = await pg_relation_files(database)
    if files is None:
        pytest.skip("PostgreSQL's data directory is not readable here")
    left = [f"{name} in {where}" for where, content in files.items() for name, needle in shredded.items()
            if needle in content or needle.hex().encode() in content]
    assert not left and "WAL checkpoint" not in first, (first, again, left)


async def test_a_plain_vacuum_elsewhere_does_not_count_as_an_older_transaction(
    runtime: Core, clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A (auto)VACUUM of any other table carries a backend_xmin, so the wait counts it, though a
    VACUUM's xmin never holds back another vacuum's horizon (PROC_IN_VACUUM): on a busy database
    (an autovacuum of a big table lasting over 5 s) the purge waits, warns and returns False while
    the rewrite did remove everything."""
    import asyncio
    import logging

    from bot.jobs.cleaner import Cleaner

    database = runtime.database
    if database.dialect == "sqlite":
        pytest.skip("PostgreSQL only")
    async with database.engine.connect() as setup:
        await setup.execute(text("CREATE TABLE review_scratch (x int)"))
        await setup.execute(text("INSERT INTO review_scratch SELECT generate_series(1, 1000)"))
        await setup.commit()
    _reference, shredded = await file_case(runtime, clock)
    clock.advance(days=DAYS + 1)

    holder = await database.engine.connect()  # holds the table so the VACUUM stays running
    await holder.begin()
    await holder.execute(text("LOCK TABLE review_scratch IN SHARE UPDATE EXCLUSIVE MODE"))
    vacuumer = await database.engine.connect()
    autocommit = await vacuumer.execution_options(isolation_level="AUTOCOMMIT")
    vacuum = asyncio.create_task(autocommit.execute(text("VACUUM review_scratch")))
    await asyncio.sleep(0.5)
    monkeypatch.setattr(retention, "PG_SNAPSHOT_WAIT_SECONDS", 0.5)
    try:
        with caplog.at_level(logging.WARNING, logger="storage.retention"):
            assert (await Cleaner(database, runtime.services).run_once())["cases"] == 1
    finally:
        await holder.rollback()
        await holder.close()
        await vacuum
        await vacuumer.close()
    async with database.engine.connect() as cleanup:
        await cleanup.execute(text("DROP TABLE review_scratch"))
        await cleanup.commit()
    files = await pg_relation_files(database)
    if files is None:
        pytest.skip("PostgreSQL's data directory is not readable here")
    left = [name for content in files.values() for name, needle in shredded.items() if needle in content]
    assert not left, "control: the rewrite removed the case although a VACUUM was running"
    assert "a transaction older than it was still open" not in caplog.text, "a false 'held back'"
