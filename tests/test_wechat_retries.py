"""WeChat's retries and the 5-second rule when receipt hashes queue, and a shutdown in between.

WeChat waits 5 s for an answer and then retries the message (same MsgId, new nonce). A retry exists
because the first reply was slow or lost, often at the end of a shift, when many workers submit
and receipt hashes wait their turn. Here WeChat's patience is scaled down with the channel's
passive budget (1 s instead of 4 s; the steps before the retry must still fit it on a loaded test
machine) and a hash waiting its turn takes 2 s."""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx
import pytest

from bot.channels.wechat.channel import MediaStore
from bot.core import Core
from storage.messages import Delivery
from storage.models import DraftFile

from .conftest import Clock
from .flows import RECEIPT_LINE, receipt_in
from .test_images import loaded_jpeg
from .test_wechat_channel import media_store
from .wechat_harness import WeChatServer, WeChatUser, message_xml, wechat_server

PASSIVE = 1.0
QUEUED_HASH = 2.0
# The answers that take a subscribed worker from the menu to the review of a report (zh).
TO_REVIEW = ("1", "1", "他在宿舍门口等我", "写完了", "1", "跳过", "跳过", "2", "跳过", "3", "2")


def hashes_wait_their_turn(runtime: Core, monkeypatch: pytest.MonkeyPatch, seconds: float = QUEUED_HASH) -> None:
    hasher = runtime.services.hasher
    hash_now, verify_now = hasher.hash_async, hasher.verify_async

    async def hash_later(receipt: str, case_id: str) -> str:
        await asyncio.sleep(seconds)
        return await hash_now(receipt, case_id)

    async def verify_later(*args: str) -> bool:
        await asyncio.sleep(seconds)
        return await verify_now(*args)

    monkeypatch.setattr(hasher, "hash_async", hash_later)
    monkeypatch.setattr(hasher, "verify_async", verify_later)


async def attempt(server: WeChatServer, xml: str) -> httpx.Response:
    """One delivery attempt by WeChat: each attempt has its own timestamp and nonce."""
    timestamp, nonce = str(server.now()), secrets.token_hex(5)
    body, encrypted = server.encrypt(xml, timestamp, nonce)
    query = server.signed_query(encrypted, timestamp=int(timestamp), nonce=nonce)
    return await server.client.post(server.url, params=query, content=body.encode())


async def pushed(runtime: Core, wanted: str, within: float = 4 * QUEUED_HASH) -> list[str]:
    """The customer-service messages queued for workers, once one holds ``wanted`` (or after ``within`` s)."""
    deadline = time.monotonic() + within
    while True:
        async with runtime.database.transaction(write=False) as session:
            texts = [item.message.text for item in await runtime.services.outbox.pending(session, Delivery)]
        if any(wanted in text for text in texts) or time.monotonic() > deadline:
            return texts
        await asyncio.sleep(0.05)


def downloads(runtime: Core) -> tuple[MediaStore, MediaStore]:
    """Fetching the picture ``m-slow`` at once, and over a slow link (a second)."""
    keep = media_store(runtime, {"m-slow": loaded_jpeg()})

    async def slow_download(media_id: str) -> str | None:
        await asyncio.sleep(1.0)
        return await keep(media_id)

    return keep, slow_download


async def picture_answered_success(server: WeChatServer) -> None:
    """A worker telling what happened sends a picture; WeChat gets "success" (it will not send it
    again) while the picture is still downloading."""
    mei = WeChatUser(server)
    await mei.event("subscribe")
    await mei.say("1")
    await mei.say("1")  # telling what happened: pictures are kept now
    assert await mei.picture("m-slow") == ""


async def at_review(server: WeChatServer) -> WeChatUser:
    mei = WeChatUser(server)
    await mei.event("subscribe")
    for answer in TO_REVIEW:
        await mei.say(answer)
    return mei


@pytest.mark.slow
async def test_a_retried_submit_is_answered_within_the_budget_and_the_receipt_stays_owed(
    runtime: Core, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with wechat_server(runtime, passive_seconds=PASSIVE) as (server, _):
        mei = await at_review(server)
        submit = message_xml(mei.openid, server.now(), "text", Content="提交举报", MsgId="8800000000000000992")
        first = await attempt(server, submit)
        assert receipt_in(server.decrypt_reply(first))  # suppose it never reached her phone
        await asyncio.sleep(0.2)
        hashes_wait_their_turn(runtime, monkeypatch)
        started = time.monotonic()
        retry = await attempt(server, submit)
        assert time.monotonic() - started < PASSIVE + 1.0, "the retry's answer waited for a queued hash"
        assert retry.text == "success"  # WeChat stops retrying; the answer follows as a push
        texts = await pushed(runtime, "查询码")
        monkeypatch.undo()
        assert any("查询码" in text for text in texts), texts
        clock.advance(minutes=5)
        again = await mei.say("你好，我没有收到查询码")
        assert RECEIPT_LINE.search(again), "the receipt she never saw is offered again"


@pytest.mark.slow
async def test_a_retried_status_lookup_past_the_budget_still_gets_its_answer(
    runtime: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with wechat_server(runtime, passive_seconds=PASSIVE) as (server, _):
        mei = await at_review(server)
        receipt = receipt_in(await mei.say("提交举报"))
        await mei.say("查询")
        lookup = message_xml(mei.openid, server.now(), "text", Content=receipt, MsgId="8800000000000000993")
        assert "HAP-" in server.decrypt_reply(await attempt(server, lookup))  # suppose it was lost
        await asyncio.sleep(0.2)
        hashes_wait_their_turn(runtime, monkeypatch)
        assert (await attempt(server, lookup)).text == "success"  # WeChat will not try again
        texts = await pushed(runtime, "HAP-")
        assert any("HAP-" in text for text in texts), f"the retry got 'success': its answer follows ({texts})"


@pytest.mark.parametrize("late", [False, True])
async def test_a_receipt_reply_written_after_wechat_hung_up_leaves_the_receipt_owed(runtime: Core, late: bool) -> None:
    """uvicorn writes to a peer that hung up without an error, so only the clock can tell whether
    WeChat took a reply: one written past the budget (a stalled event loop) leaves the receipt owed
    and her next message brings a fresh one; one written in time does not."""
    async with wechat_server(runtime, passive_seconds=PASSIVE) as (server, channel):
        mei = await at_review(server)
        if late:
            channel._confirm_within = -1.0  # every reply counts as written after WeChat hung up
        assert receipt_in(await mei.say("提交举报"))
        await asyncio.sleep(0.2)  # the confirmation runs after the reply was written
        again = await mei.say("你好")
        assert bool(RECEIPT_LINE.search(again)) is late


async def test_a_message_answered_success_is_finished_at_shutdown(runtime: Core) -> None:
    """WeChat got "success" for a picture still downloading; a SIGTERM (serve.py closes the
    channel) lets it finish instead of cancelling it."""
    _keep, slow_download = downloads(runtime)
    async with wechat_server(runtime, store_media=slow_download, passive_seconds=0.1) as (server, channel):
        await picture_answered_success(server)
        await asyncio.sleep(0.05)
        await channel.close()
    async with runtime.database.transaction(write=False) as session:
        files = (await session.execute(DraftFile.__table__.select())).all()
    assert len(files) == 1, "the picture acknowledged to WeChat was dropped at shutdown"


async def test_a_message_answered_success_and_lost_in_a_crash_is_handled_at_the_next_start(runtime: Core) -> None:
    """WeChat never sends a message again once it got "success": so it is journaled first, and a
    process that dies before handling it leaves it to the next start, which handles it once and
    pushes her the replies."""
    keep, slow_download = downloads(runtime)
    async with wechat_server(runtime, store_media=slow_download, passive_seconds=0.1) as (server, channel):
        await picture_answered_success(server)
        await channel.close(wait=0)  # the process dies: the handling in flight is gone
    async with runtime.database.transaction(write=False) as session:
        assert (await session.execute(DraftFile.__table__.select())).all() == [], "nothing was committed"
    async with wechat_server(runtime, store_media=keep) as (_server, restarted):
        assert await restarted.resume_unfinished() == 1
        await restarted.close()  # lets the resumed handling finish
        assert await restarted.resume_unfinished() == 0, "handled once, not again"
    async with runtime.database.transaction(write=False) as session:
        files = (await session.execute(DraftFile.__table__.select())).all()
    assert len(files) == 1, "the picture WeChat was told we had is kept"
    assert await pushed(runtime, "", within=0), "her reply follows as a customer-service message"
