"""Wiring the real token manager, API client and sinks to a fake WeChat, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.token import AccessTokenManager
from storage.crypto import Crypto
from storage.database import Database
from storage.migrate import upgrade_to_head

from ..conftest import Clock
from .server import FakeWeChat


def fake_clock(clock: Clock) -> Callable[[], float]:
    """The test clock as float seconds, so the fake's token expiry and the bot's share one timeline."""
    return lambda: clock().timestamp()


@asynccontextmanager
async def migrated_database(url: str) -> AsyncIterator[Database]:
    database = Database(url)
    try:
        await upgrade_to_head(database)
        yield database
    finally:
        await database.dispose()


@dataclass
class Replica:
    """What one bot process holds: its own database engine, HTTP client, token manager and API."""

    database: Database
    http: httpx.AsyncClient
    tokens: AccessTokenManager
    api: WeChatApi


@asynccontextmanager
async def replica(
    url: str, crypto: Crypto, wechat: FakeWeChat, clock: Clock, *, secret: str | None = None
) -> AsyncIterator[Replica]:
    async with migrated_database(url) as database, httpx.AsyncClient() as http:
        tokens = AccessTokenManager(
            database, crypto, wechat.app_id, secret or wechat.app_secret, http, clock, wechat.base_url
        )
        api = WeChatApi(tokens, wechat.base_url, timeout=5.0)
        try:
            yield Replica(database, http, tokens, api)
        finally:
            api.close()
