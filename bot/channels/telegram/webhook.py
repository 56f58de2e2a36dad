"""Telegram's webhook: ``POST /telegram`` with the secret token Telegram echoes in a header."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.web.app import read_limited

TELEGRAM_SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)

Ingest = Callable[[list[dict[str, object]]], Awaitable[int]]


def telegram_route(secret_token: str, ingest: Ingest) -> Route:
    """``POST /telegram``: checks the secret in constant time, journals the update, then answers 200."""
    expected = secret_token.encode()

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
        await ingest([update])
        return PlainTextResponse("ok")

    return Route("/telegram", webhook, methods=["POST"])
