"""Runs our Telegram channel against the Bot API emulator, as a worker in Telegram would see it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.setup import build_telegram_channel
from bot.config import Config
from bot.core import Core

from .telegram_emulator import TelegramEmulator
from .telegram_emulator.helpers import wait_until

_RUNNING: dict[int, TelegramChannel] = {}
"""The channel running in this process for each emulator (by id), so workers can wait for it."""


def with_telegram(config: Config, emu: TelegramEmulator, admin_ids: Sequence[int] = ()) -> Config:
    raw = config.model_dump(mode="python")
    raw["storage"]["url"] = config.storage.url.get_secret_value()
    raw["telegram"] = {
        "enabled": True,
        "token": emu.token,
        "api_base_url": emu.base_url,
        "api_file_url": emu.base_file_url,
        "admin_user_ids": list(admin_ids),
    }
    return Config.model_validate(raw)


@asynccontextmanager
async def running_channel(
    runtime: Core,
    emu: TelegramEmulator,
    *,
    polling: bool = True,
    admin_reload: Callable[[], Awaitable[str]] | None = None,
    admin_ids: Sequence[int] = (),
) -> AsyncIterator[TelegramChannel]:
    config = with_telegram(runtime.config, emu, admin_ids)
    channel = build_telegram_channel(runtime, config.telegram, admin_reload=admin_reload)
    await channel.application.initialize()
    stop = asyncio.Event()
    processor = asyncio.create_task(channel.run_processor(stop, idle_seconds=0.2))
    poller = asyncio.create_task(channel.poll(stop, long_poll_seconds=1)) if polling else None
    _RUNNING[id(emu)] = channel
    try:
        yield channel
    finally:
        del _RUNNING[id(emu)]
        stop.set()
        if poller is not None:  # it waits in a long poll
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        # Let the batch in hand finish before cancelling the processor: a task cancelled inside an SQLite
        # write leaves its connection closed but not finalised, holding the write lock until the garbage
        # collector frees the task's frames, and the test's next write would wait out the busy timeout.
        await channel.process_pending()
        processor.cancel()
        await asyncio.gather(processor, return_exceptions=True)
        await channel.application.shutdown()


class TelegramWorker:
    """A person in Telegram: writes, taps buttons, reads what the bot shows in their chat."""

    def __init__(self, emu: TelegramEmulator, name: str = "Mei", language: str = "en") -> None:
        self.emu = emu
        self.user = emu.create_user(name, language_code=language)
        self.id: int = self.user["id"]

    def user_key_for(self, runtime: Core) -> str:
        from storage.crypto import Purpose

        return runtime.crypto.pseudonym(Purpose.CONVERSATION, f"telegram:{self.id}")

    def messages(self) -> list[dict[str, Any]]:
        try:
            return self.emu.visible_messages(self.id)
        except Exception:
            return []

    def bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.messages() if m.get("from", {}).get("is_bot")]

    def last_text(self) -> str:
        messages = self.bot_messages()
        return str(messages[-1].get("text", "")) if messages else ""

    def all_text(self) -> str:
        return "\n".join(str(m.get("text", "")) for m in self.bot_messages())

    async def _await_reply(self, before: int, seconds: float = 10.0) -> None:
        """Waits for the bot's first reply, then for it to finish the update (the rest of its replies)."""
        await wait_until(lambda: self._bot_calls() > before, seconds)
        channel = _RUNNING.get(id(self.emu))
        if channel is None:  # a bot in another process: wait until its replies stop coming
            await self._await_quiet(seconds)
        else:  # waits for the batch being handled, then handles whatever else is pending
            await asyncio.wait_for(channel.process_pending(), seconds)

    async def _await_quiet(self, seconds: float, quiet: float = 0.3) -> None:
        """Waits until no new reply has come for ``quiet`` seconds (a busy machine can put time
        between an update's first reply and its last), at most ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        count, since = self._bot_calls(), loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            now = self._bot_calls()
            if now != count:
                count, since = now, loop.time()
            elif loop.time() - since >= quiet:
                return

    def _bot_calls(self) -> int:
        return len([c for c in self.emu.calls("sendMessage") if str(c["params"].get("chat_id")) == str(self.id)])

    async def say(self, text: str) -> None:
        before = self._bot_calls()
        self.emu.send_text(self.id, text)
        await self._await_reply(before)

    async def start_report(self) -> None:
        """/start, then into a report past the privacy notice: she is asked what happened."""
        await self.say("/start")
        await self.tap("Report harassment (anonymous)")
        await self.tap("I understand, continue")

    async def answer_to_review(self, category: str = "Touching or physical acts") -> None:
        """Done telling, then every question after the account answered plainly: the review is shown."""
        for label in ("Done", category, "Skip", "Skip", "No: a co-worker", "Skip", "Not urgent",
                      "No, I will check with my receipt"):
            await self.tap(label)

    async def tap(self, label: str) -> None:
        """Taps the button with this label on the newest bot message that has it."""
        before = self._bot_calls()
        for message in reversed(self.bot_messages()):
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            if any(button.get("text") == label for row in rows for button in row):
                self.emu.tap_button(self.id, chat_id=self.id, message_id=message["message_id"], text=label)
                await self._await_reply(before)
                return
        raise AssertionError(f"no button {label!r} in the chat; last message: {self.last_text()!r}")

    async def send_photo(self, data: bytes, caption: str | None = None) -> None:
        before = self._bot_calls()
        self.emu.send_photo(self.id, data, caption=caption)
        await self._await_reply(before)

    def buttons(self) -> list[str]:
        messages = self.bot_messages()
        if not messages:
            return []
        rows = messages[-1].get("reply_markup", {}).get("inline_keyboard", [])
        return [button["text"] for row in rows for button in row]
