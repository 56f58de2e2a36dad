"""The update journal's claims: each message handled once, each signed request accepted once."""

from __future__ import annotations

from bot.core import Core
from storage.journal import UpdateJournal


async def test_claim_fresh_tells_new_duplicate_and_replayed_apart(runtime: Core) -> None:
    journal = UpdateJournal(runtime.crypto)
    key = journal.key
    nonce = journal.nonce_key
    async with runtime.database.transaction() as session:
        first = await journal.claim_fresh(
            session,
            "wechat",
            [
                (nonce("wechat", "1", "a"), key("wechat", "msg:1")),
                (nonce("wechat", "1", "b"), key("wechat", "msg:1")),  # a retry of msg:1 in the same batch
                (nonce("wechat", "1", "a"), key("wechat", "msg:2")),  # a reused nonce in the same batch
                (nonce("wechat", "1", "c"), key("wechat", "msg:3")),
            ],
            100,
        )
    assert first == ["new", "duplicate", "replayed", "new"]
    async with runtime.database.transaction() as session:
        second = await journal.claim_fresh(
            session,
            "wechat",
            [(nonce("wechat", "2", "d"), key("wechat", "msg:3")), (nonce("wechat", "1", "c"), key("wechat", "msg:4"))],
            100,
        )
        assert await journal.state(session, key("wechat", "msg:3")) == "handled"
        assert await journal.state(session, key("wechat", "msg:4")) is None
    assert second == ["duplicate", "replayed"]


async def test_recorded_updates_are_pending_once_and_claimed_once(runtime: Core) -> None:
    journal = UpdateJournal(runtime.crypto)
    async with runtime.database.transaction() as session:
        fresh = await journal.record(session, "telegram", [("7", {"update_id": 7}), ("7", {"update_id": 7})], 100)
        again = await journal.record(session, "telegram", [("7", {"update_id": 7}), ("8", {"update_id": 8})], 100)
    assert len(fresh) == 1 and len(again) == 1
    async with runtime.database.transaction() as session:
        pending = await journal.pending(session, "telegram")
        assert [entry.payload["update_id"] for entry in pending] == [7, 8]
        assert await journal.claim_many(session, [entry.key for entry in pending]) == {e.key for e in pending}
    async with runtime.database.transaction() as session:
        assert await journal.pending(session, "telegram") == []
        assert await journal.claim_many(session, [entry.key for entry in pending]) == set()


async def test_nonce_seen_looks_without_recording(runtime: Core) -> None:
    journal = UpdateJournal(runtime.crypto)
    nonce, key = journal.nonce_key("wechat", "1", "a"), journal.key("wechat", "msg:1")
    async with runtime.database.transaction(write=False) as session:
        assert not await journal.nonce_seen(session, nonce)
    async with runtime.database.transaction(write=False) as session:
        assert not await journal.nonce_seen(session, nonce), "a look records nothing"
    async with runtime.database.transaction() as session:
        assert await journal.claim_fresh(session, "wechat", [(nonce, key)], 100) == ["new"]
    async with runtime.database.transaction(write=False) as session:
        assert await journal.nonce_seen(session, nonce)
        assert not await journal.nonce_seen(session, journal.nonce_key("wechat", "1", "b"))


async def test_a_message_journaled_as_pending_is_claimed_new_once(runtime: Core) -> None:
    """A WeChat message answered "success" before its handling committed is journaled as pending;
    the handling (or the next start's) claims it as new, and a retry after that is a duplicate."""
    journal = UpdateJournal(runtime.crypto)
    key, nonce = journal.key("wechat", "msg:9"), journal.nonce_key
    async with runtime.database.transaction() as session:
        await journal.record_entries(session, "wechat", [("msg:9", {"xml": "<xml/>"})], 100)
        assert await journal.state(session, key) == "pending"
    async with runtime.database.transaction() as session:
        assert await journal.claim_fresh(session, "wechat", [(nonce("wechat", "9", "a"), key)], 100) == ["new"]
    async with runtime.database.transaction() as session:
        assert await journal.state(session, key) == "handled"
        assert await journal.claim_fresh(session, "wechat", [(nonce("wechat", "9", "b"), key)], 100) == ["duplicate"]
        assert await journal.pending(session, "wechat") == []
