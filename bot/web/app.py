"""The bot's web app: liveness and readiness checks and the routes the channels hand in, in the bot's own process.

Access logs carry the method, the path and the status only: query strings (WeChat puts the
worker's OpenID there) and bodies are never logged, nor the token of a desk enrolment link.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("hapbot.access")

MAX_BODY_BYTES = 1024 * 1024


SECRET_PATHS = ("/desk/enrol/",)  # the rest of such a path is a one-time token


def loggable_path(path: str) -> str:
    """The path with any token in it replaced by ``…`` (an enrolment link's token)."""
    for prefix in SECRET_PATHS:
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix + "…"
    return path


class AccessLog:
    """ASGI middleware logging method, path (no query string) and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            access_log.info("%s %s %d %.1fms", scope["method"], loggable_path(scope["path"]), status, elapsed)


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The body, or None when it is larger than ``limit`` (read no further than that)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def build_web_app(routes: Sequence[BaseRoute], ready: asyncio.Event | None = None) -> ASGIApp:
    """The app: ``/healthz`` (the process is alive), ``/readyz`` (200 once ``ready`` is set: the
    channels, their content and the background jobs are up; 503 before), the channels' routes and
    the HR desk (a ``Mount`` at ``/desk``, see :mod:`bot.web.desk`).
    Without ``ready``, the app is ready as soon as it serves."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        if ready is None or ready.is_set():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "starting"}, status_code=503)

    app = Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz), *routes])
    return AccessLog(app)
