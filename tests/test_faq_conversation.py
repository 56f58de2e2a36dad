"""The FAQ through the console channel: answers, three choices on a weak match, live reload."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.admin.faq_reload import FaqAdmin
from bot.channels.console import ConsoleChannel
from bot.config import Config
from bot.core import Core, build_core
from faq import CONTENT_DIR
from handlers.faq import FaqLibrary
from handlers.faq.service import LibraryFaqService
from storage.crypto import KeyRing
from storage.messages import AdminNotice

from .conftest import Clock, Worker


async def test_a_clear_question_gets_an_answer_with_related_topics(worker: Worker) -> None:
    await worker.send("/start")
    await worker.send("What should I do if I am in danger right now?")
    assert "110" in worker.text
    assert any(choice.startswith("faq:") for choice in worker.choices)
    assert {"ask_hr", "menu"} <= set(worker.choices)


async def test_a_weak_match_offers_three_topics_and_hr_never_a_guess(worker: Worker) -> None:
    await worker.send("/start")
    await worker.choose("faq")
    await worker.send("canteen rules")
    topics = [c for c in worker.choices if c.startswith("faq:")]
    assert len(topics) == 3, worker.choices
    assert "not sure" in worker.text
    assert "ask_hr" in worker.choices
    await worker.choose(topics[0])
    assert worker.text.startswith("【"), "picking a topic shows its answer"


async def test_nonsense_gets_no_answer_but_a_way_to_hr(worker: Worker) -> None:
    await worker.send("/start")
    await worker.send("qwxz plorf zzkj")
    assert worker.choices[:1] == ["ask_hr"] or "ask_hr" in worker.choices
    assert not any(choice.startswith("faq:") for choice in worker.choices)
    await worker.choose("ask_hr")
    assert "Report harassment" in worker.text


async def test_faq_text_inside_a_report_is_kept_as_the_report(worker: Worker, runtime: Core) -> None:
    await worker.send("/start")
    await worker.choose("report")
    await worker.choose("agree")
    await worker.send("what is sexual harassment")
    assert "Saved (1 messages)" in worker.text


async def test_without_a_faq_questions_get_no_answer_but_a_way_to_hr(
    config: Config, keyring: KeyRing, clock: Clock
) -> None:
    """Built without FAQ content (tests, tools), the bot stands in NoFaq: no answer, never a crash."""
    runtime = await build_core(config, keyring=keyring, clock=clock)
    try:
        worker = Worker(runtime, "no-faq")
        await worker.send("/start")
        await worker.send("What should I do if I am in danger right now?")
        assert "no answer to that yet" in worker.text
        assert worker.choices == ["ask_hr", "menu"]
        await worker.choose("menu")
        await worker.choose("faq")
        await worker.send("canteen rules")
        assert "no answer to that yet" in worker.text
        await worker.choose("ask_hr")
        assert "Report harassment" in worker.text
    finally:
        await runtime.close()


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "faq"
    shutil.copytree(CONTENT_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


async def test_reload_serves_valid_edits_and_refuses_broken_ones(runtime: Core, content_copy: Path) -> None:
    service = LibraryFaqService(FaqLibrary(content_copy))
    admin = FaqAdmin(service, runtime.database, runtime.services.outbox, ["telegram:-100777"], runtime.services.clock)
    channel = ConsoleChannel(
        runtime.dispatcher, runtime.crypto, runtime.services.clock, user="admin", language="en", admin=admin
    )
    entry = content_copy / "entries" / "emergency.yaml"
    original = entry.read_text(encoding="utf-8")
    before = service.entry("emergency", "en", runtime.services.settings.site("main")).text
    assert before is not None

    entry.write_text(original.replace("110", "110 (MARKER-VALID-EDIT)", 1), encoding="utf-8")
    outcome = await channel.send("/reload")
    assert "reloaded" in outcome.replies[0].text
    answer = service.entry("emergency", "en", runtime.services.settings.site("main")).text
    zh_answer = service.entry("emergency", "zh", runtime.services.settings.site("main")).text
    assert "MARKER-VALID-EDIT" in (answer or "") + (zh_answer or "")

    entry.write_text(original.replace("id: emergency", "id: emergency\nbogus_key: 1", 1), encoding="utf-8")
    outcome = await channel.send("/reload")
    assert "refused" in outcome.replies[0].text and "emergency.yaml:" in outcome.replies[0].text
    still = service.entry("emergency", "en", runtime.services.settings.site("main")).text
    still_zh = service.entry("emergency", "zh", runtime.services.settings.site("main")).text
    assert "MARKER-VALID-EDIT" in (still or "") + (still_zh or ""), "the last good content keeps serving"

    async with runtime.database.transaction(write=False) as session:
        notices = [n.message for n in await runtime.services.outbox.pending(session, AdminNotice)]
    assert [n.chat for n in notices if isinstance(n, AdminNotice)] == ["telegram:-100777"]
    assert isinstance(notices[0], AdminNotice) and "emergency.yaml:" in notices[0].text
