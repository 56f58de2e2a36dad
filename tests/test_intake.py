"""Intake runs before the state router, in a fixed order, and the dispatcher knows no feature.

Every conversation test runs on SQLite and PostgreSQL through the real dispatcher.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import handlers.dispatcher as dispatcher_module
from bot.core import Core
from handlers import intake
from handlers.context import Context
from handlers.conversation import State
from handlers.intake import Arrival, IntakeStep

from .conftest import Worker, conversation_with_account

HANDLERS = Path(__file__).resolve().parents[1] / "handlers"
FEATURES = {"report", "status", "faq_flow", "common", "hr"}
STORY = "He follows me to the bus stop every evening"


def imported_modules(path: Path) -> set[str]:
    """The ``handlers`` modules a file imports, by their short name (``from .report import x`` -> report)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and not module.startswith("handlers"):
                continue
            parts = [p for p in module.split(".") if p and p != "handlers"]
            if parts:
                found.add(parts[0])
            else:  # from . import common
                found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "handlers" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_the_dispatcher_imports_no_feature_module() -> None:
    imported = imported_modules(HANDLERS / "dispatcher.py")
    assert "intake" in imported and "router" in imported, f"the parser missed imports: {sorted(imported)}"
    assert not imported & FEATURES, f"handlers/dispatcher.py imports {sorted(imported & FEATURES)}"


def test_intake_knows_only_the_common_steps() -> None:
    """Report and status knowledge reaches intake through the router's hooks, never by import."""
    imported = imported_modules(HANDLERS / "intake.py")
    assert imported & FEATURES == {"common"}, f"handlers/intake.py imports {sorted(imported & FEATURES)}"


def test_the_step_order_is_the_documented_one() -> None:
    """Emergency help comes before anything that could swallow the message (danger inside a sentence
    too), a pasted receipt before an expiry could ask for it again, commands before a word of a label
    is taken for a choice, what a message means before the newcomer's welcome; the menu before the router."""
    names = [step.__name__ for step in intake.STEPS]
    assert names == [
        "expire",
        "note_site",
        "settle_language",
        "repair_state",
        "deliver_owed",
        "follow_language",
        "answer_emergency_at_once",
        "open_pasted_receipt",
        "resume_after_expiry",
        "refuse_long_text",
        "clean_message",
        "refuse_unreadable_attachments",
        "refuse_empty",
        "resolve_typed_choice",
        "answer_emergency_choice",
        "run_command",
        "take_language_offer",
        "resolve_choice_by_words",
        "act_on_intent",
        "welcome_newcomer",
        "answer_unoffered_choice",
    ]
    assert all(step.__doc__ for step in intake.STEPS), "every intake step says what it is for"


async def start_report(worker: Worker) -> None:
    await worker.send("/start")
    await worker.choose("report")
    await worker.choose("agree")
    await worker.send(STORY)


async def stored(runtime: Core, worker: Worker) -> dict[str, object]:
    async with runtime.database.transaction(write=False) as session:
        document = await conversation_with_account(runtime.crypto, session, worker.user_key)
    assert document is not None
    return document


class Trace:
    """Records which intake steps ran and whether the state router was reached, in order."""

    def __init__(self, runtime: Core, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        real_take_in = intake.take_in

        def traced(step: IntakeStep) -> IntakeStep:
            async def run(ctx: Context, arrival: Arrival) -> bool:
                self.calls.append(step.__name__)
                return await step(ctx, arrival)

            return run

        async def take_in(ctx: Context) -> bool:
            return await real_take_in(ctx, [traced(step) for step in intake.STEPS])

        router = runtime.dispatcher._router
        real_handle = router.handle

        async def handle(ctx: Context) -> None:
            self.calls.append("router")
            await real_handle(ctx)

        monkeypatch.setattr(dispatcher_module, "take_in", take_in)
        monkeypatch.setattr(router, "handle", handle)

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls


async def test_intake_steps_run_before_the_router_in_order(
    runtime: Core, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start_report(worker)
    trace = Trace(runtime, monkeypatch)
    every_step = [step.__name__ for step in intake.STEPS]

    await worker.send("and he makes dirty jokes in front of everyone")
    assert trace.take() == [*every_step, "router"], "a plain answer passes every step, then the router"

    await worker.send("救命")
    assert trace.take() == every_step[: every_step.index("answer_emergency_at_once") + 1]

    await worker.send("取消")
    assert trace.take() == every_step[: every_step.index("run_command") + 1], "a command never reaches the router"


async def test_an_emergency_word_at_a_report_step_is_answered_and_the_draft_kept(
    runtime: Core, worker: Worker
) -> None:
    await start_report(worker)
    before = await stored(runtime, worker)

    await worker.send("救命")
    assert "110" in worker.text and "12338" in worker.text, "the emergency message"
    assert worker.last.replies[-1].text.startswith("Saved (1 messages)"), "the report question is asked again"
    after = await stored(runtime, worker)
    assert after["state"] == State.REPORT_WHAT
    draft = after["draft"]
    assert isinstance(draft, dict) and draft["what"] == [STORY], "the word was not added to the report"
    assert draft["urgency"] == "danger_now"
    assert {k: v for k, v in draft.items() if k != "urgency"} == {
        k: v for k, v in before["draft"].items() if k != "urgency"  # type: ignore[union-attr]
    }, "nothing else in the draft changed"


async def test_a_typed_number_for_the_danger_button_is_an_emergency_not_a_story(
    runtime: Core, worker: Worker
) -> None:
    """Typed choices are resolved before the emergency check that follows them, and both before the router."""
    await start_report(worker)
    assert worker.choices == ["done", "danger"]
    await worker.send("2")
    assert "110" in worker.text
    draft = (await stored(runtime, worker))["draft"]
    assert isinstance(draft, dict) and draft["what"] == [STORY], "the number was not stored as part of the story"
