"""The console channel: the real conversation in a terminal, for people and for scripts.

Interactive mode prints choices as numbered lines (type the number or the text). ``--json`` mode
reads one JSON object a line (``{"text": ...}`` or ``{"choice": ...}``) and writes one JSON object
per bot reply (``{"text": ..., "choices": [{"id": ..., "label": ...}]}``); stdout carries nothing
else, logs go to stderr.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, BinaryIO, TextIO

from bot.admin.faq_reload import FaqAdmin
from bot.channels.push import PushMode
from bot.channels.rendering import render_numbered
from handlers.dispatcher import Dispatcher
from handlers.events import Channel, Incoming, Outcome, Reply, utf8_safe
from storage.crypto import Crypto, Purpose

MAX_LINE_BYTES = 256 * 1024


class InputError(ValueError):
    """A JSON-mode line that is not a valid request; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ConsolePushWindow:
    def mode(self, last_seen: datetime | None, now: datetime) -> PushMode:
        """Never now: the console only answers; anything for the worker waits for their next line."""
        return PushMode.NEXT_CONTACT


def console_user_key(crypto: Crypto, user: str) -> str:
    return crypto.pseudonym(Purpose.CONVERSATION, f"{Channel.CONSOLE.value}:{user}")


def parse_json_line(raw: bytes) -> tuple[str | None, str | None]:
    """``(text, choice)`` from one JSON-mode input line, or an InputError saying what is wrong."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("invalid_utf8", "input line is not valid UTF-8") from None
    if len(raw) > MAX_LINE_BYTES:
        raise InputError("invalid_input", f"input line is longer than {MAX_LINE_BYTES} bytes")
    try:
        request = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError("invalid_json", f"input line is not JSON ({error.msg} at column {error.colno})") from None
    except (RecursionError, ValueError):
        # Nesting too deep for the parser, or an integer past Python's digit limit.
        raise InputError("invalid_json", "input line is not JSON this program can read") from None
    if not isinstance(request, dict):
        raise InputError("invalid_input", 'expected an object like {"text": "..."} or {"choice": "..."}')
    unknown = set(request) - {"text", "choice"}
    if unknown:
        raise InputError("invalid_input", f"unknown keys {sorted(unknown)}; use 'text' or 'choice'")
    text, choice = request.get("text"), request.get("choice")
    if (text is None) == (choice is None):
        raise InputError("invalid_input", "give exactly one of 'text' or 'choice'")
    given = text if text is not None else choice
    if not isinstance(given, str):
        raise InputError("invalid_input", "'text' and 'choice' must be strings")
    if utf8_safe(given) != given:
        # Valid JSON (an escape such as \ud800) for a string that is not Unicode text.
        raise InputError("invalid_utf8", "input holds a lone surrogate escape (like \\ud800), which is not text")
    return text, choice


def reply_json(reply: Reply) -> str:
    return json.dumps(
        {"text": reply.text, "choices": [{"id": c.id, "label": c.label} for c in reply.choices]},
        ensure_ascii=False,
    )


class ConsoleChannel:
    def __init__(
        self,
        dispatcher: Dispatcher,
        crypto: Crypto,
        clock: Callable[[], datetime],
        *,
        user: str = "console",
        language: str | None = None,
        site: str | None = None,
        admin: FaqAdmin | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._admin = admin
        self._user = user
        self._user_key = console_user_key(crypto, user)
        self._clock = clock
        self._language = language
        self._site = site

    @property
    def user_key(self) -> str:
        return self._user_key

    def incoming(self, text: str | None = None, choice: str | None = None) -> Incoming:
        site, self._site = self._site, None  # like a deep link: only on the first message
        return Incoming(
            channel=Channel.CONSOLE,
            user_key=self._user_key,
            chat=self._user,
            received_at=self._clock(),
            text=text,
            choice=choice,
            language_hint=self._language,
            site=site,
        )

    async def send(self, text: str | None = None, choice: str | None = None) -> Outcome:
        """Hands one message to the core; the caller shows the replies, then confirms receipts.

        The person at the console operates the bot, so ``/reload`` (an admin command) works here.
        """
        if self._admin is not None and text is not None and text.strip() == "/reload":
            return Outcome(replies=(Reply(await self._admin.reload()),))
        return await self._dispatcher.handle(self.incoming(text, choice))

    async def _confirm(self, outcome: Outcome) -> None:
        if outcome.needs_delivery_confirmation:
            await self._dispatcher.confirm_delivery(self._user_key)

    async def run_json(self, stdin: BinaryIO, stdout: TextIO) -> None:
        while True:
            raw = await asyncio.to_thread(stdin.readline)
            if not raw:
                return
            if not raw.strip():
                continue
            try:
                text, choice = parse_json_line(raw.rstrip(b"\r\n"))
            except InputError as error:
                stdout.write(json.dumps({"text": str(error), "choices": [], "error": error.code}) + "\n")
                stdout.flush()
                continue
            outcome = await self.send(text, choice)
            for reply in outcome.replies:
                stdout.write(reply_json(reply) + "\n")
            stdout.flush()
            await self._confirm(outcome)

    async def run_interactive(self, stdin: TextIO, stdout: TextIO) -> None:
        outcome = await self.send("/start")
        while True:
            for reply in outcome.replies:
                stdout.write(render_numbered(reply, indent="  ") + "\n\n")
            stdout.flush()
            await self._confirm(outcome)
            stdout.write("> ")
            stdout.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                stdout.write("\n")
                return
            outcome = await self.send(utf8_safe(line.rstrip("\n")))


def describe(outcome: Outcome) -> list[dict[str, Any]]:
    """Replies as plain data (tests and benchmarks)."""
    return [json.loads(reply_json(reply)) for reply in outcome.replies]
