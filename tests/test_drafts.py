"""Tests for storage.drafts and the report's account kept in parts: adding a message seals and
writes that message alone, the review and the submit join the parts in order, a crash after a
message committed loses nothing, and parts go on cancel, on submit, when the chat is forgotten
and, past their hour, with the cleaner. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.core import Core, build_core
from handlers import report
from handlers.context import Context
from handlers.events import Channel, Incoming
from storage.cleaning import delete_expired
from storage.conversations import conversation_store
from storage.models import Conversation, DraftPart

from .conftest import Clock, Worker, conversation_with_account
from .flows import receipt_in

STORY = ["He waited at the dormitory door.", "He said I would lose my job.", "It happened twice."]


async def parts(runtime: Core) -> dict[str, bytes]:
    async with runtime.database.transaction(write=False) as session:
        rows = await session.execute(select(DraftPart.user_key, DraftPart.state_ct))
        return {key: bytes(sealed) for key, sealed in rows}


async def sealed_conversation(runtime: Core, worker: Worker) -> bytes:
    async with runtime.database.transaction(write=False) as session:
        row = await session.get(Conversation, worker.user_key)
        assert row is not None
        return bytes(row.state_ct)


async def tell(worker: Worker, story: list[str]) -> None:
    await worker.choose("report")
    await worker.choose("agree")
    for line in story:
        await worker.send(line)


async def to_review(worker: Worker) -> None:
    for choice in ("done", "physical", "this_week", "dormitory", "coworker", "skip", "normal", "notify_no"):
        await worker.choose(choice)


class TestAppendOnly:
    async def test_each_message_writes_one_new_part_and_leaves_the_others_untouched(self, runtime: Core) -> None:
        worker = Worker(runtime, "mei")
        await tell(worker, STORY[:1])
        first = await parts(runtime)
        assert len(first) == 1
        await worker.send(STORY[1])
        second = await parts(runtime)
        assert len(second) == 2
        for key, sealed in first.items():
            assert second[key] == sealed, "an earlier part is not sealed or written again"
        assert "Saved (2 messages)" in worker.text

    async def test_the_conversation_row_does_not_grow_with_the_account(self, runtime: Core) -> None:
        worker = Worker(runtime, "long-story")
        await tell(worker, ["x" * 500])
        after_one = len(await sealed_conversation(runtime, worker))
        for n in range(10):
            await worker.send(f"{n} " + "y" * 500)
        after_eleven = len(await sealed_conversation(runtime, worker))
        assert after_eleven - after_one < 100, "the story lives in the parts, not in the conversation"
        raw = b"".join((await parts(runtime)).values()) + await sealed_conversation(runtime, worker)
        assert b"yyyy" not in raw and b"xxxx" not in raw, "every part is sealed"

    async def test_review_and_submit_join_the_parts_in_order(self, runtime: Core) -> None:
        worker = Worker(runtime, "ordered")
        await tell(worker, STORY)
        await to_review(worker)
        review = worker.text
        positions = [review.index(line) for line in STORY]
        assert positions == sorted(positions), "the review shows the parts in the order she wrote them"
        await worker.choose("submit")
        receipt_in(worker.text)
        async with runtime.database.transaction(write=False) as session:
            [case] = await runtime.services.cases.find(session)
            report = await runtime.services.cases.read_report(session, case.id)
        assert report["what"] == STORY
        assert await parts(runtime) == {}, "submitted: the parts are gone"


class TestDeletion:
    async def test_cancel_deletes_the_parts(self, runtime: Core) -> None:
        worker = Worker(runtime, "cancels")
        await tell(worker, STORY)
        assert len(await parts(runtime)) == 3
        await worker.send("cancel")
        await worker.choose("cancel_yes")
        assert "deleted" in worker.text
        assert await parts(runtime) == {}

    async def test_forgetting_the_chat_deletes_the_parts_with_the_conversation(self, runtime: Core) -> None:
        worker = Worker(runtime, "unfollows")
        await tell(worker, STORY)
        await runtime.dispatcher.forget(worker.user_key)
        assert await parts(runtime) == {}
        async with runtime.database.transaction(write=False) as session:
            assert await conversation_store(runtime.crypto).load(session, worker.user_key) is None

    async def test_the_cleaner_deletes_abandoned_parts_with_the_conversation(self, runtime: Core, clock: Clock) -> None:
        worker = Worker(runtime, "abandons")
        await tell(worker, STORY)
        now_hour = int(clock().timestamp() // 3600)
        async with runtime.database.transaction() as session:
            assert (await delete_expired(session, now_hour + 24))["draft_parts"] == 0, "kept while the draft may live"
        ttl_hours = int(runtime.services.settings.conversation_ttl.total_seconds() // 3600)
        async with runtime.database.transaction() as session:
            deleted = await delete_expired(session, now_hour + ttl_hours + 2)
        assert deleted["draft_parts"] == 3 and deleted["conversations"] == 1
        assert await parts(runtime) == {}

    async def test_parts_expiry_moves_with_a_long_lived_draft(self, runtime: Core, clock: Clock) -> None:
        """A draft written over weeks keeps its first parts: their hour is moved (once a day at most)."""
        worker = Worker(runtime, "slow-writer")
        await tell(worker, STORY[:1])
        ttl_hours = int(runtime.services.settings.conversation_ttl.total_seconds() // 3600)
        for _ in range(3):
            clock.advance(hours=20)  # within the draft's lifetime each time
            await worker.send("more")
        start_hour = int(clock().timestamp() // 3600) - 60
        async with runtime.database.transaction() as session:
            assert (await delete_expired(session, start_hour + ttl_hours + 2))["draft_parts"] == 0
        async with runtime.database.transaction(write=False) as session:
            document = await conversation_with_account(runtime.crypto, session, worker.user_key)
        assert document is not None and document["draft"]["what"] == [STORY[0], "more", "more", "more"]


    async def test_a_draft_still_alive_keeps_its_parts_when_conversations_live_one_day(
        self, config: Config, keyring: object, clock: Clock, receipt_hasher: object
    ) -> None:
        """conversation_ttl_days = 1, draft_ttl_hours = 24 (the longest a one-day conversation
        allows): the parts' hour, kept from the first message, must still be moved before the draft
        (alive until a day after her last message) outlives it."""
        short = config.model_copy(update={"bot": config.bot.model_copy(update={"conversation_ttl_days": 1})})
        runtime = await build_core(short, keyring=keyring, clock=clock, hasher=receipt_hasher)  # type: ignore[arg-type]
        try:
            mei = Worker(runtime, "mei")
            await tell(mei, STORY[:1])
            clock.advance(hours=23)
            await mei.send(STORY[1])
            clock.advance(hours=7)  # 30 hours after her first message, 7 after her last
            async with runtime.database.transaction() as session:
                deleted = await delete_expired(session, int(clock().timestamp() // 3600))
            assert deleted["draft_parts"] == 0
            await to_review(mei)
            assert STORY[0] in mei.text and STORY[1] in mei.text
        finally:
            await runtime.close()


class TestCrash:
    async def test_a_crash_after_the_commit_and_before_the_reply_loses_nothing(
        self, runtime: Core, config: object, keyring: object, clock: Clock, receipt_hasher: object
    ) -> None:
        worker = Worker(runtime, "crash")
        await tell(worker, STORY[:1])
        outcome = await worker.channel.send(STORY[1], None)  # committed; the reply never leaves (the process dies)
        assert outcome.replies
        restarted = await build_core(config, keyring=keyring, clock=clock, hasher=receipt_hasher)  # type: ignore[arg-type]
        try:
            again = Worker(restarted, "crash")
            assert again.user_key == worker.user_key
            await again.send(STORY[2])
            assert "Saved (3 messages)" in again.text
            async with restarted.database.transaction(write=False) as session:
                document = await conversation_with_account(restarted.crypto, session, again.user_key)
            assert document is not None and document["draft"]["what"] == STORY
        finally:
            await restarted.close()


class TestBatches:
    async def test_a_failing_message_leaves_no_part_and_its_neighbours_keep_theirs(
        self, runtime: Core, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Parts are written once per batch, before the commit; a message rolled back to its
        savepoint takes its buffered part with it."""
        good, bad = Worker(runtime, "good"), Worker(runtime, "bad")
        for worker in (good, bad):
            await tell(worker, [])
        original = report.ask_what

        async def failing(ctx: Context) -> None:
            if ctx.incoming.user_key == bad.user_key:
                raise RuntimeError("boom")
            await original(ctx)

        monkeypatch.setattr(report, "ask_what", failing)
        now = runtime.services.clock()
        outcomes = await runtime.dispatcher.handle_many(
            [
                Incoming(Channel.CONSOLE, good.user_key, "good", now, text="kept", language_hint="en"),
                Incoming(Channel.CONSOLE, bad.user_key, "bad", now, text="rolled back", language_hint="en"),
            ]
        )
        assert "Saved (1 messages)" in outcomes[0].replies[-1].text
        assert "went wrong" in outcomes[1].replies[-1].text
        async with runtime.database.transaction(write=False) as session:
            kept = await conversation_with_account(runtime.crypto, session, good.user_key)
            dropped = await conversation_with_account(runtime.crypto, session, bad.user_key)
        assert kept is not None and kept["draft"]["what"] == ["kept"]
        assert dropped is not None and dropped["draft"]["what"] == []
        assert len(await parts(runtime)) == 1
