"""The shared access token: replicas on one database fetch it once, refresh it once before it
expires, drop only the token WeChat refused, and never show the secret or the token.

Each "replica" has its own engine, HTTP client and manager, on SQLite and PostgreSQL, against the
fake WeChat over real HTTP; the fake counts /cgi-bin/token calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.channels.wechat.errors import CredentialsRejected, TransientApiError
from bot.channels.wechat.token import AccessTokenManager
from bot.logs import QUIET
from storage.crypto import Crypto, KeyRing
from storage.models import PlatformToken
from tests.wechat_fake import FakeWeChat
from tests.wechat_fake.harness import Replica, fake_clock, migrated_database, replica

from .conftest import Clock


@pytest.fixture
def wechat(clock: Clock) -> Iterator[FakeWeChat]:
    with FakeWeChat(clock=fake_clock(clock)) as fake:
        yield fake


@pytest.fixture
def crypto(keyring: KeyRing) -> Crypto:
    return Crypto(keyring)


async def _replicas(
    stack: AsyncExitStack, count: int, url: str, crypto: Crypto, wechat: FakeWeChat, clock: Clock
) -> list[Replica]:
    return [await stack.enter_async_context(replica(url, crypto, wechat, clock)) for _ in range(count)]


async def test_replicas_fetch_the_token_once(
    database_url: str, crypto: Crypto, wechat: FakeWeChat, clock: Clock
) -> None:
    async with AsyncExitStack() as stack:
        first, second = await _replicas(stack, 2, database_url, crypto, wechat, clock)
        tokens = await asyncio.gather(*(r.tokens.get() for r in (first, second) * 4))
        assert len(set(tokens)) == 1
        assert wechat.token_calls == 1
        assert tokens[0] == wechat.issued_tokens()[0]
        async with first.database.transaction(write=False) as session:
            sealed = (await session.execute(select(PlatformToken.token_ct))).scalar_one()
        assert tokens[0].encode() not in sealed


async def test_expiry_triggers_one_refresh(database_url: str, crypto: Crypto, wechat: FakeWeChat, clock: Clock) -> None:
    async with AsyncExitStack() as stack:
        first, second = await _replicas(stack, 2, database_url, crypto, wechat, clock)
        old = await first.tokens.get()
        clock.advance(seconds=7200 - 301)  # 301 s left: still used
        assert await second.tokens.get() == old
        assert wechat.token_calls == 1
        clock.advance(seconds=2)  # 299 s left: refreshed, once, by one replica
        fresh = await asyncio.gather(*(r.tokens.get() for r in (first, second) * 3))
        assert len(set(fresh)) == 1 and fresh[0] != old
        assert wechat.token_calls == 2


async def test_invalidate_drops_only_the_refused_token(
    database_url: str, crypto: Crypto, wechat: FakeWeChat, clock: Clock
) -> None:
    async with AsyncExitStack() as stack:
        first, second = await _replicas(stack, 2, database_url, crypto, wechat, clock)
        old = await first.tokens.get()
        await second.tokens.invalidate("not-the-stored-token")
        assert await second.tokens.get() == old and wechat.token_calls == 1
        await first.tokens.invalidate(old)
        fresh = await second.tokens.get()
        assert fresh != old and wechat.token_calls == 2
        await second.tokens.invalidate(old)  # a late complaint about the old token keeps the fresh one
        assert await first.tokens.get() == fresh and wechat.token_calls == 2


async def test_a_token_sealed_under_other_keys_is_replaced(
    tmp_path: Path, crypto: Crypto, wechat: FakeWeChat, clock: Clock
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    async with replica(url, crypto, wechat, clock) as before:
        old = await before.tokens.get()
    async with replica(url, Crypto(KeyRing.generate()), wechat, clock) as after:
        assert await after.tokens.get() != old
    assert wechat.token_calls == 2


async def test_wrong_secret_and_network_errors_never_show_the_secret(
    tmp_path: Path, crypto: Crypto, wechat: FakeWeChat, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    caplog.set_level(logging.DEBUG)
    wrong_secret = "f00d" * 8
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    async with migrated_database(url) as database, httpx.AsyncClient() as http:
        refused = AccessTokenManager(database, crypto, wechat.app_id, wrong_secret, http, clock, wechat.base_url)
        with pytest.raises(CredentialsRejected) as rejected:
            await refused.get()
        assert rejected.value.errcode == 40125
        unreachable = AccessTokenManager(
            database, crypto, wechat.app_id, wrong_secret, http, clock, "http://127.0.0.1:9"
        )
        with pytest.raises(TransientApiError) as network:
            await unreachable.get()
    for error in (rejected.value, network.value):
        assert error.__context__ is None and error.__cause__ is None
        assert wrong_secret not in f"{error!s}{error!r}"
    assert wrong_secret not in repr(refused)
    assert "app_secret" in caplog.text  # the operator is told what to fix...
    assert wrong_secret not in caplog.text and wechat.app_secret not in caplog.text  # ...but not shown it
    assert wechat.token_calls == 1
