"""What works at any moment (handlers/common.py), said in the words of the worker's channel."""

from __future__ import annotations

from bot.core import Core
from handlers.events import Channel, Incoming
from storage.crypto import Purpose

from .conftest import Worker

BUSY = "You are in the middle of something"


async def test_the_busy_message_names_the_menu_word_on_the_console(worker: Worker) -> None:
    await worker.send("/start")
    await worker.choose("report")
    await worker.choose("agree")
    await worker.send("status")
    assert BUSY in worker.text and "菜单 (menu)" in worker.text
    assert "/start" not in worker.text


async def test_the_busy_message_names_slash_start_on_telegram(runtime: Core) -> None:
    user_key = runtime.crypto.pseudonym(Purpose.CONVERSATION, f"{Channel.TELEGRAM.value}:4242")

    async def send(text: str | None = None, choice: str | None = None) -> str:
        incoming = Incoming(
            channel=Channel.TELEGRAM,
            user_key=user_key,
            chat="4242",
            received_at=runtime.services.clock(),
            text=text,
            choice=choice,
            language_hint="en",
        )
        outcome = await runtime.dispatcher.handle(incoming)
        return "\n".join(reply.text for reply in outcome.replies)

    await send("/start")
    await send(choice="report")
    await send(choice="agree")
    busy = await send(choice="status")
    assert BUSY in busy and "/start for the menu" in busy
    assert "菜单" not in busy
