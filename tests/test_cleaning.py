"""storage.cleaning: expired rows go, by table, inside the caller's transaction; a worker's
unhandled message never does. (The job around it is tested in test_scheduler.)"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.core import Core
from storage.cleaning import delete_expired
from storage.models import InboundUpdate, PendingNotice, SeenNonce

HOUR = 500_000


async def _seed(runtime: Core) -> None:
    async with runtime.database.transaction() as session:
        for n, expires in enumerate((HOUR - 1, HOUR, HOUR + 1)):
            session.add(PendingNotice(user_key=f"notice{n}", state_ct=b"sealed", expires_hour=expires))
            session.add(SeenNonce(nonce_key=f"nonce{n}", expires_hour=expires))
            for handled in (True, False):
                session.add(
                    InboundUpdate(
                        dedup_key=f"u{n}{handled}",
                        channel="wechat",
                        sequence=n,
                        payload_ct=None if handled else b"sealed",
                        handled=handled,
                        expires_hour=expires,
                    )
                )


async def _count(runtime: Core, model: type[PendingNotice] | type[SeenNonce] | type[InboundUpdate]) -> int:
    async with runtime.database.transaction(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_rows_expired_before_the_hour_go_and_unhandled_updates_stay(runtime: Core) -> None:
    await _seed(runtime)
    async with runtime.database.transaction() as session:
        deleted = await delete_expired(session, HOUR + 1)
    assert deleted["pending_notices"] == 2 and deleted["seen_nonces"] == 2
    assert deleted["inbound_updates"] == 2, "handled tombstones only"
    assert set(deleted) == {
        "conversations", "draft_parts", "status_throttles", "draft_files", "chat_traces",
        "pending_notices", "seen_nonces", "case_links", "inbound_updates",
        "held_reminders", "reminder_occasions",
    }
    async with runtime.database.transaction(write=False) as session:
        kept = sorted((await session.execute(select(InboundUpdate.dedup_key))).scalars())
    assert kept == ["u0False", "u1False", "u2False", "u2True"]
    async with runtime.database.transaction() as session:
        again = await delete_expired(session, HOUR + 1)
    assert not any(again.values())


async def test_deleting_never_commits_by_itself(runtime: Core) -> None:
    await _seed(runtime)

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with runtime.database.transaction() as session:
            assert (await delete_expired(session, HOUR + 5))["seen_nonces"] == 3
            raise Abort
    assert await _count(runtime, SeenNonce) == 3 and await _count(runtime, InboundUpdate) == 6
