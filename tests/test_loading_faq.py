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
from bot.core import LoadingFaq, handler_settings
from handlers.faq.service import LibraryFaqService

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
