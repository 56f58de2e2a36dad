"""Readiness is honest: while the FAQ loads (before ``/readyz`` says 200), a worker's question waits
for the index and gets the answer the loaded FAQ gives, never a "no answer" for want of it."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

import bot.core
from bot.config import Config
from bot.core import LoadingFaq, build_core, handler_settings
from handlers.faq.service import LibraryFaqService
from storage.crypto import KeyRing
from storage.receipts import ReceiptHasher

from .conftest import Clock, Worker

QUESTION = "举报以后会被报复吗"


async def test_a_question_before_ready_waits_for_the_index_and_gets_its_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faq_service: LibraryFaqService
) -> None:
    config = Config.model_validate({"bot": {"data_dir": str(tmp_path / "data")}})
    site = handler_settings(config).sites[config.default_site]
    release = threading.Event()
    started = threading.Event()

    def held_load_faq(*args: Any) -> LibraryFaqService:  # the index is being built until the test says so
        started.set()
        release.wait(60)
        return faq_service

    monkeypatch.setattr(bot.core, "load_faq", held_load_faq)
    loading = LoadingFaq(config)
    assert await asyncio.to_thread(started.wait, 10)
    answered: list[Any] = []
    asking = threading.Thread(target=lambda: answered.append(loading.answer(QUESTION, "zh", site)))
    asking.start()
    ready = asyncio.ensure_future(loading.loaded())
    await asyncio.sleep(0.05)
    assert not ready.done() and not answered, "neither ready nor answered while the index is not there"
    release.set()
    assert await asyncio.wait_for(ready, 30) is faq_service
    await asyncio.to_thread(asking.join, 30)
    expected = faq_service.answer(QUESTION, "zh", site)
    assert answered == [expected] and expected.text, "the answer the loaded FAQ gives"


async def test_a_question_before_ready_waits_outside_the_transaction_while_others_are_answered(
    config: Config, keyring: KeyRing, clock: Clock, monkeypatch: pytest.MonkeyPatch,
    faq_service: LibraryFaqService, receipt_hasher: ReceiptHasher,
) -> None:
    """The wait for the index happens outside the asker's transaction (Context.faq): meanwhile the
    event loop and the database serve everyone else; once the index is there she gets the answer."""
    release = threading.Event()

    def held_load_faq(*args: Any) -> LibraryFaqService:
        release.wait(60)
        return faq_service

    monkeypatch.setattr(bot.core, "load_faq", held_load_faq)
    runtime = await build_core(config, keyring=keyring, clock=clock, faq=LoadingFaq(config), hasher=receipt_hasher)
    try:
        asker, other = Worker(runtime, "asker", language="zh"), Worker(runtime, "other", language="zh")
        await asker.send("/start")
        await other.send("/start")
        await asker.send("/faq")
        question = asyncio.ensure_future(asker.send(QUESTION))
        await asyncio.sleep(0.05)
        assert not question.done(), "the question waits for the index"
        await asyncio.wait_for(other.send("你好"), 10)  # answered meanwhile: no lock, no writer held
        assert other.text and not question.done()
        release.set()
        await asyncio.wait_for(question, 30)
        expected = faq_service.answer(QUESTION, "zh", handler_settings(config).sites[config.default_site])
        assert expected.text and expected.text.splitlines()[0] in asker.text
    finally:
        release.set()
        await runtime.close()
