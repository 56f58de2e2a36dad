"""Bad input gets a clear reply and changes nothing it should not (issue 2, "Tests that must exist").

Every test runs on SQLite and PostgreSQL through the real dispatcher. "Changes nothing" is checked
on the stored, sealed conversation document itself: the test clock stands still, so a refused
message must leave that document exactly as it was.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.channels.console import ConsoleChannel
from bot.core import Core
from handlers import reminders
from handlers.conversation import State
from storage.models import Case

from .conftest import Worker, conversation_with_account

STORY = "He keeps standing too close to me at the line"
MENU_IDS = ["report", "status", "faq", "quiz", "remind", "language", "help"]
# After the welcome, a worker without reminders is offered them in the menu's reminder place.
WELCOME_IDS = ["report", "status", "faq", "quiz", "remind_on", "language", "help"]
EMPTY_REPLY = "empty message"
STALE_REPLY = "not available"
APOLOGY = "something went wrong"

# The messages that take a worker from nothing through a whole report to its edit step, each with
# the state it must leave the conversation in.
ROUTE: list[tuple[dict[str, str], str]] = [
    ({"text": "/start"}, reminders.OFFER),
    ({"choice": "report"}, State.REPORT_NOTICE),
    ({"choice": "agree"}, State.REPORT_WHAT),
    ({"text": STORY}, State.REPORT_WHAT),
    ({"choice": "done"}, State.REPORT_CATEGORY),
    ({"choice": "verbal"}, State.REPORT_WHEN),
    ({"choice": "this_week"}, State.REPORT_WHERE),
    ({"choice": "workshop"}, State.REPORT_INVOLVED),
    ({"choice": "coworker"}, State.REPORT_WITNESSES),
    ({"choice": "skip"}, State.REPORT_URGENCY),
    ({"choice": "normal"}, State.REPORT_NOTIFY),
    ({"choice": "notify_no"}, State.REPORT_REVIEW),
    ({"choice": "edit"}, State.REPORT_EDIT),
]


async def send(worker: Worker, message: dict[str, str]) -> None:
    await worker.send(message.get("text"), choice=message.get("choice"))


async def walk_to(worker: Worker, state: str) -> None:
    """Follows ROUTE until the conversation reaches ``state`` (with the story written, past "what")."""
    for message, expected in ROUTE:
        await send(worker, message)
        if expected == state and not (state == State.REPORT_WHAT and message.get("choice") == "agree"):
            return
    raise AssertionError(f"ROUTE never reaches {state}")


async def stored(worker: Worker) -> dict[str, Any]:
    runtime = worker.runtime
    async with runtime.database.transaction(write=False) as session:
        document = await conversation_with_account(runtime.crypto, session, worker.user_key)
    assert document is not None, "no conversation stored for the worker"
    return document


async def case_count(runtime: Core) -> int:
    async with runtime.database.transaction(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(Case))).scalar_one())


def question(worker: Worker) -> tuple[str, list[str]]:
    """The question the bot asked last: the text and choice ids of its last reply."""
    last = worker.last.replies[-1]
    return last.text, [choice.id for choice in last.choices]


def no_traceback(text: str) -> bool:
    return "Traceback" not in text and 'File "' not in text


# --- empty, too long, control characters ---------------------------------------------------------


async def test_empty_and_blank_messages_repeat_the_question_and_change_nothing(worker: Worker) -> None:
    await walk_to(worker, State.REPORT_WHAT)
    asked = question(worker)
    before = await stored(worker)
    for text in ["", "   ", "\n\t \n", "\u3000", "\x00\x07\x1b"]:
        await worker.send(text)
        assert EMPTY_REPLY in worker.last.replies[0].text, f"no clear reply to {text!r}"
        assert question(worker) == asked, f"{text!r} did not ask the same question again"
        assert await stored(worker) == before, f"{text!r} changed the stored conversation"


async def test_empty_message_at_the_menu_shows_the_menu_again(worker: Worker) -> None:
    await worker.send("/start")
    before = await stored(worker)
    await worker.send("")
    assert EMPTY_REPLY in worker.last.replies[0].text
    assert question(worker)[1] == WELCOME_IDS
    assert await stored(worker) == before


async def test_message_over_the_limit_names_it_and_keeps_the_draft(worker: Worker) -> None:
    await walk_to(worker, State.REPORT_WHAT)
    before = await stored(worker)
    await worker.send("骚" * 10_001)
    reply = worker.text
    assert re.search(r"10[,. \u202f]?000\b", reply), f"the limit is not named: {reply!r}"
    assert "10001" in reply.replace(",", ""), "the length that was sent is not named"
    assert await stored(worker) == before, "a refused message changed the draft or the state"
    # The question before it still stands: its choices are still accepted.
    await worker.choose("done")
    assert question(worker)[1][:5] == ["verbal", "physical", "messages", "quid_pro_quo", "other"]
    assert (await stored(worker))["draft"]["what"] == [STORY]


async def test_message_at_the_limit_is_accepted(worker: Worker) -> None:
    await walk_to(worker, State.REPORT_WHAT)
    longest = "界" * 10_000
    await worker.send(longest)
    assert (await stored(worker))["draft"]["what"] == [STORY, longest]


async def test_control_characters_are_stripped_from_the_draft_but_newlines_kept(worker: Worker) -> None:
    await walk_to(worker, State.REPORT_WHAT)
    await worker.send("line one\x00\x1b[31m red\x07\r\nline two\x7f\x85\x9b end\nline three")
    assert (await stored(worker))["draft"]["what"] == [STORY, "line one[31m red\nline two end\nline three"]
    await worker.choose("done")
    for step in ["verbal", "this_week", "workshop", "coworker"]:
        await worker.choose(step)
    await worker.send("\x1b[2Jmy friend\x00 Li\nand her sister\x08")
    assert (await stored(worker))["draft"]["witnesses"] == "[2Jmy friend Li\nand her sister"


async def test_text_that_utf8_cannot_carry_is_cleaned_before_it_is_stored(runtime: Core) -> None:
    """A lone surrogate that gets past a channel (the core's last line of defence) is stored as U+FFFD."""
    worker = Worker(runtime, "surrogates")
    await worker.choose("report")
    await worker.choose("agree")
    outcome = await worker.send("a\ud800b \ud83d\ude00")
    assert APOLOGY not in worker.text and outcome.replies
    assert (await stored(worker))["draft"]["what"] == ["a\ufffdb \U0001f600"]


# --- JSON mode ------------------------------------------------------------------------------------

_users = itertools.count()


async def json_session(runtime: Core, raw_lines: list[bytes]) -> list[dict[str, Any]]:
    """``hapbot chat --json`` in-process for a new worker; every output line must be JSON."""
    channel = ConsoleChannel(
        runtime.dispatcher, runtime.crypto, runtime.services.clock, user=f"json-{next(_users)}", language="en"
    )
    stdin = io.BytesIO(b"".join(line + b"\n" for line in raw_lines))
    stdout = io.StringIO()
    await channel.run_json(stdin, stdout)
    return [json.loads(line) for line in stdout.getvalue().splitlines()]


START = b'{"text": "/start"}'
THEN_STATUS = b'{"choice": "status"}'

BAD_LINES: list[tuple[str, bytes, str]] = [
    ("truncated object", b'{"text": "hi"', "invalid_json"),
    ("plain words", b"I need help", "invalid_json"),
    ("single quotes", b"{'text': 'hi'}", "invalid_json"),
    ("invalid UTF-8 lead bytes", b'\xff\xfe{"text": "hi"}', "invalid_utf8"),
    ("truncated UTF-8 sequence", b'{"text": "caf\xc3"}', "invalid_utf8"),
    ("GBK bytes", '{"text": "救命"}'.encode("gbk"), "invalid_utf8"),
    ("array", b'["text", "hi"]', "invalid_input"),
    ("string", b'"hello"', "invalid_input"),
    ("null", b"null", "invalid_input"),
    ("number", b"42", "invalid_input"),
    ("unknown key beside text", b'{"text": "hi", "lang": "en"}', "invalid_input"),
    ("misspelt key", b'{"txt": "hi"}', "invalid_input"),
    ("empty object", b"{}", "invalid_input"),
    ("text and choice", b'{"text": "hi", "choice": "report"}', "invalid_input"),
    ("text is a number", b'{"text": 5}', "invalid_input"),
    ("choice is a list", b'{"choice": ["report"]}', "invalid_input"),
    ("choice is true", b'{"choice": true}', "invalid_input"),
    ("text is null", b'{"text": null}', "invalid_input"),
    ("text is an object", b'{"text": {"a": 1}}', "invalid_input"),
    ("lone surrogate escape in text", b'{"text": "a\\ud800"}', "invalid_utf8"),
    ("lone low surrogate escape in a choice", b'{"choice": "\\udc80report"}', "invalid_utf8"),
]


def check_error_then_recovery(name: str, code: str, out: list[dict[str, Any]]) -> list[str]:
    """Problems with: welcome + menu, exactly one error line, then a normal reply to ``status``."""
    if len(out) != 4:
        return [f"{name}: expected 4 output lines (2 for /start, 1 error, 1 reply), got {out!r}"]
    problems = []
    error = out[2]
    if set(error) != {"text", "choices", "error"}:
        problems.append(f"{name}: error line has keys {sorted(error)}")
    if error.get("error") != code:
        problems.append(f"{name}: error code {error.get('error')!r}, expected {code!r}")
    if error.get("choices") != [] or not isinstance(error.get("text"), str) or not error["text"].strip():
        problems.append(f"{name}: error line needs a readable text and no choices: {error!r}")
    if not no_traceback(str(error.get("text"))):
        problems.append(f"{name}: error line shows a traceback")
    follow = out[3]
    if set(follow) != {"text", "choices"} or [c["id"] for c in follow["choices"]] != ["menu"]:
        problems.append(f"{name}: the next valid line did not get the receipt question: {follow!r}")
    return problems


async def test_json_mode_answers_each_bad_line_with_one_error_and_continues(runtime: Core) -> None:
    problems: list[str] = []
    for name, line, code in BAD_LINES:
        try:
            out = await json_session(runtime, [START, line, THEN_STATUS])
        except Exception as error:  # a crash is exactly what this test reports
            problems.append(f"{name}: the session died with {type(error).__name__}")
            continue
        problems += check_error_then_recovery(name, code, out)
    assert not problems, "\n".join(problems)


async def test_json_mode_survives_pathological_json(runtime: Core) -> None:
    """Valid-looking JSON that Python's parser cannot take must still be one error line, not a crash."""
    cases = [
        ("array nested 100000 deep", b"[" * 100_000 + b"]" * 100_000, {"invalid_json", "invalid_input"}),
        ("object nested 100000 deep", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, {"invalid_json", "invalid_input"}),
        ("5000-digit number as text", b'{"text": ' + b"7" * 5000 + b"}", {"invalid_json", "invalid_input"}),
    ]
    problems: list[str] = []
    for name, line, codes in cases:
        try:
            out = await json_session(runtime, [START, line, THEN_STATUS])
        except Exception as error:  # a crash is exactly what this test reports
            problems.append(f"{name}: the JSON session died with {type(error).__name__} instead of an error line")
            continue
        code = out[2].get("error") if len(out) > 2 else None
        problems += check_error_then_recovery(name, code if code in codes else sorted(codes)[0], out)
    assert not problems, "\n".join(problems)


async def test_json_mode_blank_lines_are_ignored(runtime: Core) -> None:
    out = await json_session(runtime, [START, b"", b"   ", b"\r", THEN_STATUS])
    assert len(out) == 3 and "error" not in json.dumps(out)


async def test_json_mode_empty_text_gets_the_empty_message_reply(runtime: Core) -> None:
    """``{"text": ""}`` is a well-formed request with an empty message, not a type error."""
    for line in [b'{"text": ""}', b'{"text": "   "}']:
        out = await json_session(runtime, [START, line])
        assert len(out) == 4, f"{line!r}: expected the empty-message reply and the menu again, got {out!r}"
        assert "error" not in out[2], f"{line!r} was refused as malformed: {out[2]!r}"
        assert EMPTY_REPLY in out[2]["text"]
        assert [c["id"] for c in out[3]["choices"]] == WELCOME_IDS


async def test_json_mode_output_is_one_json_object_per_reply(runtime: Core) -> None:
    out = await json_session(runtime, [START, b'{"text": "line\\u0000one\\nline two"}', b'{"choice": "report"}'])
    assert all(set(reply) == {"text", "choices"} for reply in out)
    assert all(set(choice) == {"id", "label"} for reply in out for choice in reply["choices"])


# --- unknown and stale choice ids ---------------------------------------------------------------


STALE_CASES: list[tuple[str, str]] = [
    (State.REPORT_CATEGORY, "submit"),
    (State.REPORT_CATEGORY, "no-such-choice-ever"),
    (State.REPORT_CATEGORY, "agree"),
    (State.REPORT_CATEGORY, "this_week"),
    (State.REPORT_WHAT, "submit"),
    (State.REPORT_WHAT, "verbal"),
    (State.REPORT_NOTIFY, "submit"),
    (State.REPORT_REVIEW, "verbal"),
    (State.REPORT_REVIEW, "cancel_yes"),
    (State.REPORT_EDIT, "submit"),
]


async def test_unknown_and_stale_choice_ids_are_refused_and_change_nothing(runtime: Core) -> None:
    problems: list[str] = []
    for number, (state, choice) in enumerate(STALE_CASES):
        worker = Worker(runtime, f"stale-{number}")
        await walk_to(worker, state)
        asked, before = question(worker), await stored(worker)
        await worker.choose(choice)
        where = f"{choice!r} at {state}"
        if STALE_REPLY not in worker.last.replies[0].text:
            problems.append(f"{where}: no clear refusal, got {worker.text[:120]!r}")
        if question(worker) != asked:
            problems.append(f"{where}: the same question was not asked again")
        if await stored(worker) != before:
            problems.append(f"{where}: the stored conversation changed")
    assert not problems, "\n".join(problems)
    assert await case_count(runtime) == 0, "a refused choice created a case"


def without_step(document: dict[str, Any]) -> dict[str, Any]:
    """The document without the draft's bookkeeping of the step last answered."""
    draft = {k: v for k, v in (document["draft"] or {}).items() if k != "step"}
    return {**document, "draft": draft}


async def test_typed_text_that_is_no_option_is_refused_at_a_choice_step(worker: Worker) -> None:
    await walk_to(worker, State.REPORT_CATEGORY)
    asked, before = question(worker), without_step(await stored(worker))
    for text in ["submit", "7", "0", "-1"]:
        await worker.send(text)
        assert "choose one of the options" in worker.last.replies[0].text, f"no clear reply to {text!r}"
        assert question(worker) == asked, f"{text!r} did not repeat the question"
        assert without_step(await stored(worker)) == before, f"{text!r} changed the conversation"


# --- commands in the wrong state ------------------------------------------------------------------


async def test_menu_commands_inside_a_report_keep_the_draft_and_say_how_to_leave(worker: Worker) -> None:
    await walk_to(worker, State.REPORT_CATEGORY)
    asked, before = question(worker), await stored(worker)
    for message in [
        {"text": "/status"},
        {"text": "举报"},
        {"text": "查询"},
        {"text": "/report"},
        {"choice": "status"},
        {"choice": "report"},
        {"choice": "faq"},
    ]:
        await send(worker, message)
        explanation = worker.last.replies[0].text
        # The console numbers its choices like WeChat, so it names 菜单 (menu), not Telegram's /start.
        assert "取消" in explanation and "菜单" in explanation, f"{message}: does not say how to leave"
        assert question(worker) == asked, f"{message}: the report question was not asked again"
        assert await stored(worker) == before, f"{message}: changed the draft or the state"


async def test_cancel_outside_a_flow_says_there_is_nothing_to_cancel(worker: Worker) -> None:
    await worker.send("/start")
    for word in ["/cancel", "取消", "Cancel.", "取消。"]:
        await worker.send(word)
        assert "nothing to cancel" in worker.last.replies[0].text, f"{word!r}"
        assert question(worker)[1] == MENU_IDS
        document = await stored(worker)
        assert document["state"] == State.MENU and document["draft"] is None


async def test_cancel_in_a_report_asks_first_then_no_returns_and_yes_deletes(worker: Worker) -> None:
    await walk_to(worker, State.REPORT_CATEGORY)
    asked, before = question(worker), await stored(worker)

    await worker.send("取消")
    assert question(worker)[1] == ["cancel_yes", "cancel_no", "danger"]
    assert "deleted" in worker.text
    assert (await stored(worker))["draft"] == before["draft"], "asking to confirm must not touch the draft"

    await worker.choose("cancel_no")
    assert question(worker) == asked, "cancel_no did not return to the interrupted question"
    assert await stored(worker) == before

    await worker.send("/cancel")
    await worker.choose("cancel_yes")
    assert "deleted" in worker.last.replies[0].text
    assert question(worker)[1] == MENU_IDS
    document = await stored(worker)
    assert document["draft"] is None and document["state"] == State.MENU
    assert STORY not in json.dumps(document, ensure_ascii=False)
    await worker.choose("report")
    assert question(worker)[1] == ["agree", "decline", "danger"], "a deleted draft was offered for resuming"


async def test_cancel_confirmation_repeats_itself_on_anything_else(worker: Worker) -> None:
    """An unclear answer to "Cancel this report?" asks the same question; yes then still deletes the draft."""
    await walk_to(worker, State.REPORT_WHAT)
    await worker.send("取消")
    asked, before = question(worker), await stored(worker)
    for message in [{"choice": "verbal"}, {"text": "取消"}, {"text": ""}, {"text": "hmm"}, {"text": "嗯"}]:
        await send(worker, message)
        assert question(worker) == asked, f"{message} did not ask the same question again"
        assert await stored(worker) == before, f"{message} changed the conversation"
    await worker.choose("cancel_yes")
    assert (await stored(worker))["draft"] is None, "cancel_yes kept the draft"


async def test_language_switch_while_confirming_cancel_still_cancels_the_report(worker: Worker) -> None:
    """The worker asked to cancel a report, then switched language: yes must still delete the draft."""
    await walk_to(worker, State.REPORT_CATEGORY)
    await worker.send("取消")
    await worker.send("/language")
    await worker.choose("zh")
    assert question(worker)[1] == ["cancel_yes", "cancel_no", "danger"]
    zh = worker.runtime.services.translators["zh"]
    assert worker.last.replies[-1].text == zh("Cancel this report? Everything you wrote in it will be deleted.")
    await worker.choose("cancel_yes")
    document = await stored(worker)
    assert document["draft"] is None, "the worker confirmed cancelling the report but the draft was kept"


async def test_start_in_a_report_then_resume_continues_at_the_question_that_was_asked(runtime: Core) -> None:
    """/start mid-report keeps the draft; "Continue where I stopped" must ask the interrupted question."""
    problems: list[str] = []
    for state in [State.REPORT_CATEGORY, State.REPORT_INVOLVED, State.REPORT_NOTIFY]:
        worker = Worker(runtime, f"resume-{state}")
        await walk_to(worker, state)
        asked = question(worker)
        await worker.send("/start")
        assert question(worker)[1] == WELCOME_IDS
        await worker.choose("report")
        assert question(worker)[1] == ["resume", "review", "discard", "danger"]
        assert STORY not in worker.text, "the draft was shown before the worker asked"
        await worker.choose("resume")
        if question(worker) != asked:
            problems.append(f"interrupted at {state}: resumed with {question(worker)[0][:50]!r}")
    assert not problems, "\n".join(problems)


# --- menu ids right after /start -------------------------------------------------------------------

# What each menu id must lead to: the choice ids of the last reply (report depends on a draft; faq
# asks for a question when a FAQ service is configured, else says "coming soon" and shows the menu).
QUIZ_LIST = [
    "quiz_take:onboarding",
    "quiz_take:what-is-harassment",
    "quiz_take:reporting",
    "quiz_take:bystanders-and-visitors",
    "quiz_take:retaliation-and-rights",
    "menu",
]
MENU_TARGETS: dict[str, list[str]] = {
    "status": ["menu"],
    "quiz": QUIZ_LIST,
    "remind": ["remind_on", "menu"],
    "language": ["zh", "en"],
    "help": MENU_IDS,
}


async def test_menu_ids_are_accepted_right_after_start_whatever_was_asked(runtime: Core) -> None:
    preludes: dict[str, list[dict[str, str]]] = {
        "waiting for a receipt": [{"text": "/start"}, {"choice": "status"}],
        "a wrong receipt was just refused": [{"choice": "status"}, {"text": "K7QX-M2PA-X9TB-4RWE"}],
        "in the middle of a report": [m for m, _ in ROUTE[:6]],
        "confirming a cancel": [*(m for m, _ in ROUTE[:4]), {"text": "取消"}],
        "choosing a language": [{"text": "/start"}, {"choice": "language"}],
        "at the privacy notice": [{"text": "/start"}, {"choice": "report"}],
    }
    problems: list[str] = []
    for number, (situation, prelude) in enumerate(preludes.items()):
        for menu_id in MENU_IDS:
            worker = Worker(runtime, f"menu-{number}-{menu_id}")
            for message in prelude:
                await send(worker, message)
            has_draft = (await stored(worker))["draft"] is not None
            await worker.send("/start")
            await worker.choose(menu_id)
            if menu_id == "report":
                expected = ["resume", "review", "discard", "danger"] if has_draft else ["agree", "decline", "danger"]
            elif menu_id == "faq":
                expected = ["menu"]
            else:
                expected = MENU_TARGETS[menu_id]
            where = f"{menu_id!r} after /start while {situation}"
            if STALE_REPLY in worker.text or "middle of something" in worker.text:
                problems.append(f"{where}: refused: {worker.text[:100]!r}")
            elif question(worker)[1] != expected:
                problems.append(f"{where}: got choices {question(worker)[1]}, expected {expected}")
            if menu_id == "help" and "举报" not in worker.text:
                problems.append(f"{where}: no help text")
    assert not problems, "\n".join(problems)


async def test_menu_ids_work_while_waiting_for_a_receipt_without_start(worker: Worker) -> None:
    await worker.send("/start")
    await worker.choose("status")
    await worker.choose("quiz")
    assert STALE_REPLY not in worker.text
    assert question(worker)[1] == QUIZ_LIST


# --- emergency words -------------------------------------------------------------------------------


async def test_emergency_words_at_every_report_step_show_110_and_ask_again(runtime: Core) -> None:
    problems: list[str] = []
    for word in ["救命", "danger", "救命！", "DANGER"]:
        worker = Worker(runtime, f"danger-{word}")
        for message, state in ROUTE:
            await send(worker, message)
            document = await stored(worker)
            assert document["state"] == state, f"ROUTE out of step at {message}"
            if not state.startswith("report."):
                continue
            asked_text, asked_choices = question(worker)
            draft_before = document["draft"]
            await worker.send(word)
            where = f"{word!r} at {state}"
            first = worker.last.replies[0].text
            if "110" not in first:
                problems.append(f"{where}: no 110 in {first[:80]!r}")
            text, choices = question(worker)
            same_text = (
                text.splitlines()[0] == asked_text.splitlines()[0]
                if state == State.REPORT_REVIEW
                else text == asked_text
            )
            if choices != asked_choices or not same_text:
                problems.append(f"{where}: the question was not asked again (got {text[:60]!r} {choices})")
            after = await stored(worker)
            if after["state"] != state:
                problems.append(f"{where}: state moved to {after['state']}")
            if draft_before is not None and (after["draft"] or {}).get("what") != draft_before.get("what"):
                problems.append(f"{where}: the emergency word changed what the worker wrote")
            if draft_before is not None and (after["draft"] or {}).get("urgency") != "danger_now":
                problems.append(f"{where}: the open report was not marked urgent")
    assert not problems, "\n".join(problems)
    assert await case_count(runtime) == 0


# --- property: arbitrary text at the "what happened" step ------------------------------------------

CONTROL_CHARS = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.characters(
    min_codepoint=0x7F, max_codepoint=0x9F
)
TRICKY = st.sampled_from(
    [
        "取消",
        "/start",
        "/cancel",
        "救命",
        "1",
        "2",
        "{",
        "}",
        "{count}",
        "%s",
        "%(x)s",
        "\u202e",
        "\ufeff",
        "\u200b",
        "\r\n",
        "Ｈｅｌｌｏ",
        "/start site-x",
        "/language@bot",
        "\\",
        '"',
        "<b>",
        "\ud7ff",
        "\U0010ffff",
    ]
)
ANY_TEXT = st.one_of(
    st.text(max_size=400),
    st.lists(st.one_of(st.text(max_size=12), CONTROL_CHARS, TRICKY), max_size=12).map("".join),
    st.integers(min_value=9_995, max_value=10_005).map(lambda n: "界" * n),
)
_property_workers = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ANY_TEXT)
async def test_any_text_at_the_what_step_gets_a_reply_and_never_a_traceback(runtime: Core, text: str) -> None:
    worker = Worker(runtime, f"prop-{next(_property_workers)}")
    await worker.choose("report")
    await worker.choose("agree")
    assert (await stored(worker))["state"] == State.REPORT_WHAT
    outcome = await worker.send(text)
    assert outcome.replies, "no reply at all"
    for reply in outcome.replies:
        assert isinstance(reply.text, str) and reply.text.strip()
        assert no_traceback(reply.text)
        assert APOLOGY not in reply.text, "the text made the core fail internally"
