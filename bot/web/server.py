"""Runs the web app with uvicorn inside the bot's event loop (no access log of its own)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

from bot.config import ConfigError


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, host: str, port: int) -> AsyncIterator[int]:
    """Serves ``app`` until the block ends; yields the bound port (useful with port 0)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)

    async def serve() -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn logs why (port taken, no such address), then calls sys.exit
            raise ConfigError(
                f"web: cannot listen on {host}:{port}; check [web] host and port (is another program using the port?)"
            ) from None

    task = asyncio.create_task(serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it could not start
                raise ConfigError(f"web: the web server stopped before it started on {host}:{port}")
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield int(bound)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
