"""storage.platform_tokens: a token is stored sealed, read back whole, replaced, and dropped only
while it is still the token a caller complains about. (The WeChat manager's locking and refresh
across replicas are tested in test_wechat_token.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.core import Core
from storage.crypto import Crypto, DecryptionError, KeyRing
from storage.models import PlatformToken
from storage.platform_tokens import PlatformTokenRepository

NAME = "wechat:wx0123456789"
TOKEN = "ACCESS-TOKEN-CANARY-4f1c"
EXPIRES = datetime(2026, 3, 2, 11, 30, tzinfo=UTC)


async def test_a_token_round_trips_sealed(runtime: Core) -> None:
    tokens = PlatformTokenRepository(runtime.crypto)
    async with runtime.database.transaction() as session:
        assert await tokens.load(session, NAME) is None
        await tokens.save(session, NAME, TOKEN, EXPIRES)
    async with runtime.database.transaction(write=False) as session:
        stored = await tokens.load(session, NAME)
        sealed = (await session.execute(select(PlatformToken.token_ct))).scalar_one()
    assert stored is not None and stored.token == TOKEN
    assert stored.expires_at == EXPIRES and stored.expires_at.tzinfo is not None
    assert TOKEN.encode() not in sealed
    assert TOKEN not in repr(stored)


async def test_saving_replaces_the_stored_token(runtime: Core) -> None:
    tokens = PlatformTokenRepository(runtime.crypto)
    async with runtime.database.transaction() as session:
        await tokens.save(session, NAME, TOKEN, EXPIRES)
    async with runtime.database.transaction() as session:
        await tokens.save(session, NAME, "fresh", EXPIRES + timedelta(hours=2))
    async with runtime.database.transaction(write=False) as session:
        stored = await tokens.load(session, NAME)
        rows = (await session.execute(select(PlatformToken.name))).scalars().all()
    assert stored is not None and stored.token == "fresh" and stored.expires_at == EXPIRES + timedelta(hours=2)
    assert rows == [NAME]


async def test_invalidate_drops_only_the_token_complained_about(runtime: Core) -> None:
    tokens = PlatformTokenRepository(runtime.crypto)
    async with runtime.database.transaction() as session:
        await tokens.save(session, NAME, TOKEN, EXPIRES)
        assert not await tokens.invalidate(session, NAME, "an-older-token")
        assert not await tokens.invalidate(session, "wechat:other", TOKEN)
    async with runtime.database.transaction() as session:
        assert (stored := await tokens.load(session, NAME)) is not None and stored.token == TOKEN
        assert await tokens.invalidate(session, NAME, TOKEN)
    async with runtime.database.transaction(write=False) as session:
        assert await tokens.load(session, NAME) is None


async def test_a_token_that_cannot_be_opened_raises(runtime: Core) -> None:
    tokens = PlatformTokenRepository(runtime.crypto)
    async with runtime.database.transaction() as session:
        await tokens.save(session, NAME, TOKEN, EXPIRES)
    stranger = PlatformTokenRepository(Crypto(KeyRing.generate()))
    async with runtime.database.transaction(write=False) as session:
        with pytest.raises(DecryptionError):
            await stranger.load(session, NAME)
    async with runtime.database.transaction() as session:
        await session.execute(update(PlatformToken).values(name="wechat:moved"))
    async with runtime.database.transaction(write=False) as session:
        with pytest.raises(DecryptionError):  # bound to its row: a moved ciphertext does not open
            await tokens.invalidate(session, "wechat:moved", TOKEN)
