"""Danger in her own words at every step of every conversation, through the real pipeline (console
channel, SQLite and PostgreSQL).

A worker writes as she speaks, often frightened ("他现在就在我宿舍门口不让我出去"), at whatever question
she happens to be. For every state the router knows (``build_router().states``, so a state added
later fails here until a way to reach it is added to ``ROUTES``), she is brought there by the real
flows, then writes such a sentence in Chinese or in English. The first reply must carry the
emergency numbers (110 and her factory's security phone); she must stay where she was (a report
draft kept and marked urgent, a quiz attempt kept where it was); and nothing may fail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.core import Core
from handlers.app import build_router
from handlers.conversation import State
from handlers.quiz.library import QuizLibrary
from handlers.reminders import CANDIDATE, OFFER, QUIET, SETTINGS
from storage.cases import Author, CaseStatus
from storage.messages import CaseAlert

from .conftest import Clock, Worker, conversation_with_account
from .deadlines_kit import Pass, case, desk
from .flows import receipt_in, reference_in, report_script
from .quizzes import asked, question_at, right_index, wrong_index

DANGER = {"zh": "他现在就在我宿舍门口不让我出去", "en": "he is outside my room right now and won't let me leave"}
STORY = {"zh": "组长老是在没人的时候摸我", "en": "My line leader keeps touching me when nobody is around"}
QUESTION = {"zh": "性骚扰的定义是什么", "en": "what counts as sexual harassment"}
SITE_EMERGENCY_PHONE = "0755-1234567"  # the ``main`` site of tests/conftest.make_config
ALARM = "If you are in danger now:"
APOLOGY = "Sorry, something went wrong on our side. Please send that again."


@dataclass
class Scene:
    """What a way to a state needs besides the worker: the bot, its clock and its quizzes."""

    worker: Worker
    runtime: Core
    clock: Clock
    quizzes: QuizLibrary
    language: str
    reference: str | None = None  # of the report she filed on the way, if any


Reach = Callable[[Scene], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """One way to bring a worker to ``state`` by messages, and what must survive danger there."""

    state: str
    reach: Reach
    draft: bool = False  # a report draft is open: it must be kept, and marked urgent
    quiz: bool = False  # a quiz attempt is open: it must be kept where it was
    then: str | None = None  # the state after her message, when the step keeps her words (not her state)
    follow: tuple[str, ...] = ()  # choices she makes next, before the draft is checked


# --- the flows -----------------------------------------------------------------------------------


async def send_script(worker: Worker, lines: list[dict[str, str]]) -> None:
    for line in lines:
        await worker.send(line.get("text"), choice=line.get("choice"))


def report_until(steps: int) -> Reach:
    """The report from the menu through its first ``steps`` messages (see ``flows.report_script``:
    report, agree, her story, done, category, when, where, involved, witnesses, urgency, notify)."""

    async def reach(scene: Scene) -> None:
        await scene.worker.send("/start")
        await send_script(scene.worker, report_script([STORY[scene.language]])[:steps])

    return reach


REPORT_STEPS = {
    State.REPORT_NOTICE: 1,
    State.REPORT_WHAT: 3,
    State.REPORT_CATEGORY: 4,
    State.REPORT_WHEN: 5,
    State.REPORT_WHERE: 6,
    State.REPORT_INVOLVED: 7,
    State.REPORT_WITNESSES: 8,
    State.REPORT_URGENCY: 9,
    State.REPORT_NOTIFY: 10,
    State.REPORT_REVIEW: 11,
}


def then_send(first: Reach, *messages: str | dict[str, str]) -> Reach:
    """``first``, then each message: a string is typed, a dict is ``{"choice": id}``."""

    async def reach(scene: Scene) -> None:
        await first(scene)
        for message in messages:
            if isinstance(message, str):
                await scene.worker.send(message)
            else:
                await scene.worker.choose(message["choice"])

    return reach


async def at_start(scene: Scene) -> None:
    await scene.worker.send("/start")


async def at_menu(scene: Scene) -> None:
    await scene.worker.send("/start")
    await scene.worker.send("菜单")


async def as_candidate(scene: Scene) -> None:
    await scene.worker.send("/start cand-main")


async def at_quiet_hours(scene: Scene) -> None:
    await scene.worker.send("/start")
    await scene.worker.choose("remind_on")
    await scene.worker.choose("remind")
    await scene.worker.choose("remind_quiet")


async def resuming_a_report(scene: Scene) -> None:
    await report_until(3)(scene)
    await scene.worker.send("/start")
    await scene.worker.choose("report")


async def file_report(scene: Scene) -> str:
    """Files a report (the worker's own), returns its receipt."""
    await report_until(12)(scene)
    scene.reference = reference_in(scene.worker.text)
    return receipt_in(scene.worker.text)


async def at_case(scene: Scene) -> None:
    receipt = await file_report(scene)
    await scene.worker.choose("status")
    await scene.worker.send(receipt)


async def at_checkin(scene: Scene) -> None:
    """A closed case, 30 days on: the check-in job has asked, so the status asks whether anything
    happened to her because of the report (tests/test_checkins.py)."""
    receipt = await file_report(scene)
    assert scene.reference is not None
    await desk(scene.runtime).set_status("wang", scene.reference, CaseStatus.CLOSED, scene.clock())
    scene.clock.advance(days=30, hours=1)
    await Pass(scene.runtime).run()
    await scene.worker.choose("status")
    await scene.worker.send(receipt)


async def at_faq_answer(scene: Scene) -> None:
    await at_menu(scene)
    await scene.worker.choose("faq")
    await scene.worker.send(QUESTION[scene.language])


async def answer_quiz(scene: Scene, *, right: bool) -> None:
    """Answers the question on screen, rightly or wrongly, by the quiz file itself."""
    worker = scene.worker
    question = question_at(scene.quizzes, worker.text)
    shown = [c for c in worker.last.replies[-1].choices if c.id.startswith("quiz:")]
    labels = [c.label for c in shown]
    pick = right_index if right else wrong_index
    await worker.choose(shown[pick(question, labels, scene.language)].id)


async def in_a_quiz(scene: Scene) -> None:
    """The onboarding quiz, its first question answered: she is at question 2."""
    await scene.worker.send("/start")
    await scene.worker.choose("quiz")
    await scene.worker.choose("quiz_take:onboarding")
    await answer_quiz(scene, right=True)


async def at_quiz_score(scene: Scene) -> None:
    """The onboarding quiz finished with 4 of 5 right (passed, one to review)."""
    await in_a_quiz(scene)
    await answer_quiz(scene, right=False)
    for _ in range(3):
        await answer_quiz(scene, right=True)


ROUTES: dict[str, Route] = {
    "menu": Route(State.MENU, at_menu),
    "language-from-menu": Route(State.LANGUAGE, then_send(at_menu, {"choice": "language"})),
    "language-mid-report": Route(State.LANGUAGE, then_send(report_until(4), "语言"), draft=True),
    "confirm_cancel-of-report": Route(
        State.CONFIRM_CANCEL, then_send(report_until(11), {"choice": "cancel"}), draft=True
    ),
    "confirm_cancel-of-status": Route(State.CONFIRM_CANCEL, then_send(at_case, {"choice": "add_info"}, "取消")),
    "remind.offer": Route(OFFER, at_start),
    "remind.candidate": Route(CANDIDATE, as_candidate),
    "remind.settings": Route(SETTINGS, then_send(at_menu, {"choice": "remind"})),
    "remind.quiet": Route(QUIET, at_quiet_hours),
    # No draft exists yet at the notice when she came from the menu: the one she starts by agreeing
    # must be urgent.
    "report.notice-from-menu": Route(
        State.REPORT_NOTICE, report_until(REPORT_STEPS[State.REPORT_NOTICE]), draft=True, follow=("agree",)
    ),
    "report.notice-from-her-words": Route(State.REPORT_NOTICE, then_send(at_menu, "我想举报我们线长"), draft=True),
    **{
        state: Route(state, report_until(steps), draft=True)
        for state, steps in REPORT_STEPS.items()
        if state != State.REPORT_NOTICE
    },
    "report.edit": Route(State.REPORT_EDIT, then_send(report_until(11), {"choice": "edit"}), draft=True),
    "report.resume": Route(State.REPORT_RESUME, resuming_a_report, draft=True),
    "status.receipt": Route(State.STATUS_RECEIPT, then_send(at_menu, {"choice": "status"})),
    "status.case": Route(State.STATUS_CASE, at_case),
    # Her message at "write what you want to add" is what she adds (a story state, like her account).
    "status.add_info": Route(State.STATUS_ADD_INFO, then_send(at_case, {"choice": "add_info"}), then=State.STATUS_CASE),
    "status.withdraw": Route(State.STATUS_WITHDRAW, then_send(at_case, {"choice": "withdraw"})),
    "status.checkin": Route(State.STATUS_CHECKIN, at_checkin),
    "faq.question": Route(State.FAQ_QUESTION, then_send(at_menu, {"choice": "faq"})),
    "faq.pick": Route(State.FAQ_PICK, at_faq_answer),
    "quiz.pick": Route(State.QUIZ_PICK, then_send(at_menu, {"choice": "quiz"})),
    "quiz.question": Route(State.QUIZ_QUESTION, in_a_quiz, quiz=True),
    "quiz.read": Route(State.QUIZ_READ, then_send(in_a_quiz, {"choice": "quiz_more"}), quiz=True),
    "quiz.result": Route(State.QUIZ_RESULT, at_quiz_score, quiz=True),
    "quiz.review": Route(State.QUIZ_REVIEW, then_send(at_quiz_score, {"choice": "quiz_review"}), quiz=True),
    "training.number": Route(State.TRAINING_NUMBER, then_send(at_quiz_score, {"choice": "training_record"}), quiz=True),
    "training.confirm": Route(
        State.TRAINING_CONFIRM, then_send(at_quiz_score, {"choice": "training_record"}, "A12345"), quiz=True
    ),
}

def cases() -> list[Any]:
    """Every state the router knows, by every route to it, in both languages; a state without a
    route is a case of its own that fails."""
    params = []
    for state in sorted(build_router().states):
        routes = sorted(name for name, route in ROUTES.items() if route.state == state) or [None]
        for name in routes:
            for language in ("zh", "en"):
                params.append(pytest.param(state, name, language, id=f"{name or state}-{language}"))
    return params


# --- the checks ----------------------------------------------------------------------------------


async def stored(worker: Worker) -> dict[str, Any]:
    runtime = worker.runtime
    async with runtime.database.transaction(write=False) as session:
        document = await conversation_with_account(runtime.crypto, session, worker.user_key)
    assert document is not None
    return document


def test_every_route_leads_to_a_state_the_router_knows() -> None:
    states = build_router().states
    assert {route.state for route in ROUTES.values()} <= states
    assert {route.then for route in ROUTES.values() if route.then} <= states


@pytest.mark.parametrize(("state", "route_name", "language"), cases())
async def test_danger_in_her_words_is_answered_first_and_she_stays_where_she_was(
    runtime: Core, clock: Clock, quiz_library: QuizLibrary, state: str, route_name: str | None, language: str
) -> None:
    if route_name is None:
        pytest.fail(f"no way to reach the state {state!r}: add one to ROUTES")
    route = ROUTES[route_name]
    worker = Worker(runtime, f"frightened-{route_name}", language=language, site="main")
    scene = Scene(worker, runtime, clock, quiz_library, language)
    await route.reach(scene)
    before = await stored(worker)
    asked_before = worker.last.replies[-1].text
    assert before["state"] == state, f"the route reached {before['state']}, not {state}"

    sentence = DANGER[language]
    await worker.send(sentence)

    first = worker.last.replies[0].text
    assert "110" in first and SITE_EMERGENCY_PHONE in first, f"the first reply is not the emergency help: {first!r}"
    assert first.startswith(runtime.services.translators[language](ALARM)), "the help is not in her language"
    apologies = {runtime.services.translators[lang](APOLOGY) for lang in ("zh", "en")}
    assert not any(apology in worker.text for apology in apologies), "handling the message failed"

    after = await stored(worker)
    assert after["state"] == (route.then or state), "she was moved away from what she was doing"
    assert worker.last.replies[-1].choices, "no question after the help"
    for choice in route.follow:
        await worker.choose(choice)
    if route.follow:
        after = await stored(worker)
    if route.draft:
        draft = after["draft"]
        assert draft is not None, "her report draft was lost"
        if before["draft"] is not None:
            kept = before["draft"]["what"]
            assert draft["what"] == ([*kept, sentence] if state == State.REPORT_WHAT else kept), "her account changed"
        assert draft.get("urgency") == "danger_now", "the report was not marked urgent"
    else:
        assert after["draft"] == before["draft"]
    if route.quiz:
        assert after["quiz"] == before["quiz"], "the quiz attempt changed"
        if state == State.QUIZ_QUESTION:
            assert asked(worker.last.replies[-1].text) == asked(asked_before), "not the same question again"
    if route_name == "status.add_info":
        assert scene.reference is not None
        filed = await case(runtime, scene.reference)
        async with runtime.database.transaction(write=False) as session:
            added = await runtime.services.cases.messages(session, filed.id)
        assert [(m.author, m.text) for m in added] == [(Author.REPORTER, sentence)], "her words are her addition"
        async with runtime.database.transaction(write=False) as session:
            alerts = await runtime.services.outbox.pending(session, CaseAlert)
        addition = [
            (item.message.urgency, item.due_at)
            for item in alerts
            if isinstance(item.message, CaseAlert)
            and item.message.reference == scene.reference
            and item.message.category == "added_information"
        ]
        assert addition == [("danger_now", clock())], "HR is alerted at once"
