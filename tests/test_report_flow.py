"""The whole report flow and the status lookup through the console channel's JSON mode."""

from __future__ import annotations

import io
import json

import pytest

from bot.channels.console import ConsoleChannel
from bot.channels.rendering import render_numbered
from bot.core import Core
from handlers.conversation import State
from handlers.events import Channel, Incoming
from storage.cases import CaseStatus
from storage.messages import CaseAlert
from storage.outbox import Outbox, Pending

from .conftest import Worker
from .flows import receipt_in, reference_in, report_script


def alert(item: Pending) -> CaseAlert:
    assert isinstance(item.message, CaseAlert)
    return item.message


async def chat_json(runtime: Core, user: str, lines: list[object], language: str) -> list[dict[str, object]]:
    """Runs ``hapbot chat --json`` in-process on the given input lines; returns the reply objects."""
    services = runtime.services
    channel = ConsoleChannel(runtime.dispatcher, runtime.crypto, services.clock, user=user, language=language)
    stdin = io.BytesIO(b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines))
    stdout = io.StringIO()
    await channel.run_json(stdin, stdout)
    return [json.loads(line) for line in stdout.getvalue().splitlines()]


STORIES = {
    "zh": (["组长老是在没人的时候说一些下流的话", "昨天他还把手放在我腰上"], "状态", "提交日期"),
    "en": (
        ["My line leader keeps making dirty jokes about me", "Yesterday he grabbed my waist"],
        "Status",
        "Submitted",
    ),
}


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_report_then_status_from_another_chat(runtime: Core, language: str) -> None:
    story, status_word, submitted_word = STORIES[language]
    replies = await chat_json(runtime, "worker-a", [{"text": "/start"}, *report_script(story)], language)

    assert all(set(reply) == {"text", "choices"} for reply in replies)
    final = "\n".join(str(reply["text"]) for reply in replies[-2:])
    receipt = receipt_in(final)
    reference = reference_in(final)
    menu = ["report", "status", "faq", "quiz", "remind", "language", "help"]
    assert [c["id"] for c in replies[-1]["choices"]] == menu

    async with runtime.database.transaction(write=False) as session:
        case = await runtime.services.cases.by_reference(session, reference)
        assert case is not None and case.status is CaseStatus.RECEIVED and case.site == "main"
        report = await runtime.services.cases.read_report(session, case.id)
        assert report["what"] == story
        assert report["category"] == "verbal" and report["involved"] == "coworker"
        assert report["consent"]["notice"] >= 1
        alerts = await Outbox(runtime.crypto).pending(session, CaseAlert)
        assert [alert.message for alert in alerts] == [CaseAlert("main", reference, "verbal", "normal", "hr")]

    # A different chat (another user key) types the receipt sloppily: lowercase, spaces, no dashes.
    sloppy = receipt.replace("-", " ").lower()
    status = await chat_json(runtime, "other-phone", [{"choice": "status"}, {"text": sloppy}], language)
    shown = status[-1]
    assert reference in str(shown["text"])
    assert status_word in str(shown["text"]) and submitted_word in str(shown["text"])
    assert story[0] not in str(shown["text"]), "status must not echo the report"
    assert {c["id"] for c in shown["choices"]} == {"add_info", "withdraw", "menu"}


async def test_add_information_and_withdraw(runtime: Core) -> None:
    replies = await chat_json(runtime, "w", report_script(["He follows me to the dormitory"]), "en")
    receipt = receipt_in(str(replies[-2]["text"]))
    lines = [
        {"choice": "status"},
        {"text": receipt},
        {"choice": "add_info"},
        {"text": "It happened again on Monday"},
        {"choice": "withdraw"},
        {"choice": "withdraw_yes"},
    ]
    follow_up = await chat_json(runtime, "w2", lines, "en")
    assert "Added to your report" in str(follow_up[-4]["text"]) or any(
        "Added to your report" in str(r["text"]) for r in follow_up
    )
    assert any("withdrawn" in str(r["text"]) for r in follow_up)
    reference = reference_in(str(replies[-2]["text"]))
    async with runtime.database.transaction(write=False) as session:
        case = await runtime.services.cases.by_reference(session, reference)
        assert case is not None and case.status is CaseStatus.WITHDRAWN
        messages = await runtime.services.cases.messages(session, case.id)
        assert [m.text for m in messages] == ["It happened again on Monday"]
        outbox = Outbox(runtime.crypto)
        kinds = [alert(item).category for item in await outbox.pending(session)]
        assert sorted(kinds) == ["added_information", "verbal", "withdrawn"]


async def test_report_about_a_manager_alerts_the_board_only(runtime: Core) -> None:
    replies = await chat_json(runtime, "w", report_script(["经理叫我去办公室"], involved="supervisor"), "zh")
    reference = reference_in(str(replies[-2]["text"]))
    receipt = receipt_in(str(replies[-2]["text"]))
    follow_up = [{"choice": "status"}, {"text": receipt}, {"choice": "add_info"}, {"text": "他又来了"},
                 {"choice": "withdraw"}, {"choice": "withdraw_yes"}]
    await chat_json(runtime, "w2", follow_up, "zh")
    async with runtime.database.transaction(write=False) as session:
        outbox = Outbox(runtime.crypto)
        alerts = [alert(item) for item in await outbox.pending(session)]
    assert sorted((a.category, a.audience) for a in alerts) == [
        ("added_information", "board"), ("verbal", "board"), ("withdrawn", "board")
    ], "follow-ups of a case about a manager never reach HR"
    assert {a.reference for a in alerts} == {reference}


async def test_danger_now_alert_is_due_at_once_and_others_within_the_hour(runtime: Core, clock: object) -> None:
    await chat_json(runtime, "a", report_script(["he is waiting outside"], urgency="danger_now"), "en")
    await chat_json(runtime, "b", report_script(["rude comments"]), "en")
    now = runtime.services.clock()
    async with runtime.database.transaction(write=False) as session:
        outbox = Outbox(runtime.crypto)
        due = {alert(i).urgency: i.due_at for i in await outbox.pending(session)}
    assert due["danger_now"].timestamp() == pytest.approx(now.timestamp(), abs=1)
    assert now.timestamp() <= due["normal"].timestamp() <= now.timestamp() + 3600


# Every step of the report, in the order a worker meets it, with the message that leads to it.
REPORT_WALK: list[tuple[str, str | None, str | None]] = [
    (State.REPORT_NOTICE, None, "report"),
    (State.REPORT_WHAT, None, "agree"),
    (State.REPORT_WHAT, "He keeps saying dirty things about my body", None),
    (State.REPORT_CATEGORY, None, "done"),
    (State.REPORT_WHEN, None, "verbal"),
    (State.REPORT_WHERE, None, "this_week"),
    (State.REPORT_INVOLVED, None, "workshop"),
    (State.REPORT_WITNESSES, None, "coworker"),
    (State.REPORT_URGENCY, None, "skip"),
    (State.REPORT_NOTIFY, None, "normal"),
    (State.REPORT_REVIEW, None, "notify_no"),
    (State.REPORT_EDIT, None, "edit"),
    (State.REPORT_REVIEW, None, "back"),
    (State.CONFIRM_CANCEL, None, "cancel"),
    (State.REPORT_REVIEW, None, "cancel_no"),
    (State.MENU, "/start", None),
    (State.REPORT_RESUME, None, "report"),
]
"""The urgency step's own "in danger now" answer is its 🆘 choice (it shows help and marks the report)."""
DANGER_IDS = {State.REPORT_URGENCY: "danger_now"}


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_every_report_step_offers_the_danger_choice(runtime: Core, language: str) -> None:
    worker = Worker(runtime, "walker", language=language)
    await worker.send("/start")
    danger_label = runtime.services.translators[language]("🆘 I am in danger now")
    assert danger_label.startswith("🆘")
    seen: set[str] = set()
    for state, text, choice in REPORT_WALK:
        await worker.send(text, choice=choice)
        if state == State.MENU:
            continue  # the welcome again (what it offers is not part of the report)
        async with runtime.database.transaction(write=False) as session:
            document = await runtime.services.conversations.load(session, worker.user_key)
        assert document is not None and document["state"] == state, (state, document and document["state"])
        seen.add(state)
        question = worker.last.replies[-1]
        assert question.choices, state
        numbered = render_numbered(question).splitlines()[-len(question.choices) :]
        assert any(line.endswith(f". {danger_label}") for line in numbered), (state, numbered)
        assert DANGER_IDS.get(state, "danger") in [c.id for c in question.choices], (state, question.choices)
    every_step = {value for name, value in vars(State).items() if name.startswith("REPORT_")}
    assert seen == every_step | {State.CONFIRM_CANCEL}, every_step - seen


async def test_the_danger_choice_at_the_review_shows_help_and_marks_the_report_urgent(runtime: Core) -> None:
    worker = Worker(runtime, "review-danger", language="en")
    await worker.send("/start")
    for line in report_script(["He waits for me after the night shift"])[:-1]:
        await worker.send(line.get("text"), choice=line.get("choice"))
    assert "danger" in worker.choices
    await worker.choose("danger")
    assert "110" in worker.text
    assert "Urgency: 🆘 I am in danger now" in worker.text, "the review is shown again, now urgent"
    assert worker.choices[:3] == ["submit", "edit", "cancel"]


@pytest.mark.parametrize("channel", [Channel.WECHAT, Channel.TELEGRAM])
async def test_the_account_step_invites_pictures_where_the_channel_carries_them(
    runtime: Core, channel: Channel
) -> None:
    async def send(text: str | None = None, choice: str | None = None) -> str:
        incoming = Incoming(
            channel=channel,
            user_key=f"pictures-{channel.value}",
            chat="chat-1",
            received_at=runtime.services.clock(),
            text=text,
            choice=choice,
            language_hint="en",
        )
        outcome = await runtime.dispatcher.handle(incoming)
        return "\n".join(reply.text for reply in outcome.replies)

    await send("/start")
    await send(choice="report")
    asked = await send(choice="agree")
    assert "You can also send photos or screenshots (at most 10) as evidence." in asked


async def test_the_console_does_not_promise_pictures_it_cannot_carry(runtime: Core) -> None:
    worker = Worker(runtime, "console-pictures", language="en")
    await worker.send("/start")
    await worker.choose("report")
    await worker.choose("agree")
    assert "in your own words" in worker.text and "photos" not in worker.text
