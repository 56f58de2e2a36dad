"""Telegram's webhook: ``POST /telegram`` with the secret token Telegram echoes in a header.

Telegram posts one update a request, over up to 40 connections at once. Updates arriving together
are journaled together (:class:`JournalGroup`): one transaction and one commit for all of them,
and each request is answered 200 only once its own update is committed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.web.app import read_limited

TELEGRAM_SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)

Ingest = Callable[[list[dict[str, object]]], Awaitable[int]]

MAX_BATCH = 100
MAX_WAIT_SECONDS = 0.002


class JournalGroup:
    """Journals the updates of concurrent webhook requests in one ``ingest`` call (group commit)."""

    def __init__(self, ingest: Ingest, *, max_batch: int = MAX_BATCH, max_wait: float = MAX_WAIT_SECONDS) -> None:
        self._ingest = ingest
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._waiting: list[tuple[dict[str, object], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def journal(self, update: dict[str, object]) -> None:
        """Returns once ``update`` is committed to the journal; raises if that failed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((update, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._waiting:
            if len(self._waiting) < self._max_batch:
                await asyncio.sleep(self._max_wait)  # let the requests arriving now join this commit
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            try:
                await self._ingest([update for update, _ in batch])
            except Exception as error:  # each request answers 500; Telegram sends its update again
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)


def telegram_route(secret_token: str, ingest: Ingest) -> Route:
    """``POST /telegram``: checks the secret in constant time, journals the update, then answers 200."""
    expected = secret_token.encode()
    group = JournalGroup(ingest)

    async def webhook(request: Request) -> Response:
        given = request.headers.get(TELEGRAM_SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return PlainTextResponse("forbidden", status_code=403)
        body = await read_limited(request)
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        try:
            update = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, too long a number, nested too deep
            return PlainTextResponse("bad request", status_code=400)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return PlainTextResponse("bad request", status_code=400)
        await group.journal(update)
        return PlainTextResponse("ok")

    return Route("/telegram", webhook, methods=["POST"])
