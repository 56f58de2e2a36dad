"""The WeChat API client and the customer-service sink, over real HTTP to the fake WeChat.

Covers the token refusal path (refresh once, send once), the errors the outbox must never retry
(45015, 43004), transient ones, 2,048-byte splitting that never cuts a receipt, media download,
the event loop staying free during a slow call, and logs free of tokens, secrets and OpenIDs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.sinks import PermanentFailure, TransientFailure
from bot.channels.text import MAX_TEXT_BYTES, RECEIPT_LIKE, split_text, utf8_len
from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.errors import OutsideWindow, RequestRejected, TransientApiError, Unsubscribed
from bot.channels.wechat.sink import WeChatCustomerServiceSink
from bot.channels.wechat.token import AccessTokenManager
from bot.core import Core
from bot.jobs.sender import OutboxSender
from bot.logs import QUIET
from storage.crypto import Crypto, KeyRing
from storage.messages import Delivery
from tests.wechat_fake import FakeWeChat
from tests.wechat_fake.harness import Replica, fake_clock, replica

from .conftest import Clock

SEND = "/cgi-bin/message/custom/send"
RECEIPT = "K7QX-M2PA-X9TB-4RWE"


@pytest.fixture
def wechat(clock: Clock) -> Iterator[FakeWeChat]:
    with FakeWeChat(clock=fake_clock(clock)) as fake:
        yield fake


@pytest.fixture
async def bot(tmp_path: Path, keyring: KeyRing, wechat: FakeWeChat, clock: Clock) -> AsyncIterator[Replica]:
    async with replica(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}", Crypto(keyring), wechat, clock) as built:
        yield built


@pytest.fixture
def openid() -> str:
    return "o" + secrets.token_urlsafe(20)


async def test_send_text(bot: Replica, wechat: FakeWeChat, openid: str) -> None:
    await bot.api.send_text(openid, "您有一条新消息")
    assert wechat.texts(openid) == ["您有一条新消息"]
    (call,) = wechat.calls(SEND)
    assert call.params["access_token"] == wechat.issued_tokens()[0]
    assert call.body == {"touser": openid, "msgtype": "text", "text": {"content": "您有一条新消息"}}


@pytest.mark.parametrize("refusal", ["injected", "revoked"])
async def test_refused_token_refreshes_once_and_sends_once(
    bot: Replica, wechat: FakeWeChat, openid: str, refusal: str
) -> None:
    await bot.tokens.get()
    if refusal == "injected":
        wechat.fail_next(SEND, 40001)
    else:
        wechat.revoke_tokens()
    await bot.api.send_text(openid, "hello")
    assert wechat.texts(openid) == ["hello"]
    assert wechat.token_calls == 2
    first, second = wechat.calls(SEND)
    assert first.params["access_token"] != second.params["access_token"] == wechat.issued_tokens()[-1]


async def test_a_fresh_token_refused_again_is_transient(bot: Replica, wechat: FakeWeChat, openid: str) -> None:
    wechat.fail_next(SEND, 42001, times=2)
    with pytest.raises(TransientApiError) as raised:
        await bot.api.send_text(openid, "hello")
    assert raised.value.reason == "token_rejected"
    assert wechat.token_calls == 2 and len(wechat.calls(SEND)) == 2 and not wechat.texts()


@pytest.mark.parametrize(
    ("errcode", "error", "reason"),
    [(45015, OutsideWindow, "outside_window"), (43004, Unsubscribed, "unsubscribed")],
)
async def test_closed_window_and_unfollow_are_permanent(
    bot: Replica, wechat: FakeWeChat, openid: str, errcode: int, error: type[Exception], reason: str
) -> None:
    if errcode == 45015:
        wechat.close_window(openid)
    else:
        wechat.unfollow(openid)
    with pytest.raises(error):
        await bot.api.send_text(openid, "hello")
    sink = WeChatCustomerServiceSink(bot.api)
    with pytest.raises(PermanentFailure) as failed:
        await sink.send(openid, "hello")
    assert failed.value.reason == reason
    assert len(wechat.calls(SEND)) == 2  # one per attempt: never retried
    assert wechat.token_calls == 1


async def test_the_outbox_drops_a_closed_window_and_sends_the_rest(
    runtime: Core, wechat: FakeWeChat, clock: Clock
) -> None:
    late, recent = "o" + secrets.token_urlsafe(20), "o" + secrets.token_urlsafe(20)
    wechat.close_window(late)
    async with runtime.database.transaction() as session:
        for openid in (late, recent):
            await runtime.services.outbox.enqueue(session, Delivery(f"wechat:{openid}", "您有一条新消息"), clock())
    async with httpx.AsyncClient() as http:
        tokens = AccessTokenManager(
            runtime.database, runtime.crypto, wechat.app_id, wechat.app_secret, http, clock, wechat.base_url
        )
        api = WeChatApi(tokens, wechat.base_url)
        sink = WeChatCustomerServiceSink(api)
        sender = OutboxSender(runtime.database, runtime.services.outbox, {"wechat": sink}, clock, rng=random.Random(2))
        assert await sender.run_once() == 1
        clock.advance(hours=1)
        assert await sender.run_once() == 0
        api.close()
    assert wechat.texts() == ["您有一条新消息"] and wechat.texts(recent) == ["您有一条新消息"]
    assert len(wechat.calls(SEND)) == 2  # the closed window was tried once, never again
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.outbox.count(session) == 0
        assert (await runtime.services.outbox.counts(session)).get("outside_window") == 1


@pytest.mark.parametrize("errcode", [-1, 45009, 45047])
async def test_busy_and_quota_are_transient(bot: Replica, wechat: FakeWeChat, openid: str, errcode: int) -> None:
    wechat.fail_next(SEND, errcode)
    sink = WeChatCustomerServiceSink(bot.api)
    with pytest.raises(TransientFailure):
        await sink.send(openid, "hello")
    await sink.send(openid, "hello")  # the outbox's retry
    assert wechat.texts(openid) == ["hello"]


async def test_network_errors_are_transient_and_hide_the_token(bot: Replica, wechat: FakeWeChat, openid: str) -> None:
    token = await bot.tokens.get()
    unreachable = WeChatApi(bot.tokens, "http://127.0.0.1:9", timeout=2.0)
    try:
        with pytest.raises(TransientApiError) as raised:
            await unreachable.send_text(openid, "hello")
    finally:
        unreachable.close()
    assert raised.value.__context__ is None and raised.value.__cause__ is None
    assert token not in f"{raised.value!s}{raised.value!r}" and openid not in str(raised.value)


async def test_long_text_is_split_without_cutting_a_receipt(bot: Replica, wechat: FakeWeChat, openid: str) -> None:
    filler = "这是一行说明文字，用来把消息撑长。" * 3  # 153 bytes a line
    lines = [filler] * 13 + ["x" * 30, f"回执：{RECEIPT} 请截图保存"] + [filler] * 20
    text = "\n".join(lines)
    start = text.encode().index(RECEIPT.encode())
    assert start < MAX_TEXT_BYTES < start + len(RECEIPT)  # a byte cut would go through the receipt
    await WeChatCustomerServiceSink(bot.api).send(openid, text)
    parts = wechat.texts(openid)
    assert len(parts) == 3
    assert all(utf8_len(part) <= MAX_TEXT_BYTES for part in parts)
    assert sum(RECEIPT in part for part in parts) == 1
    assert "\n".join(parts) == text


async def test_a_retry_after_a_partial_send_does_not_repeat_parts(
    bot: Replica, wechat: FakeWeChat, openid: str
) -> None:
    text = "\n".join(f"{n:04d} " + "x" * 1000 for n in range(5))
    parts = split_text(text)
    assert len(parts) == 3
    sink = WeChatCustomerServiceSink(bot.api)
    wechat.fail_next(SEND, -1, after=1)  # the second part meets a busy WeChat
    with pytest.raises(TransientFailure):
        await sink.send(openid, text)
    assert wechat.texts(openid) == parts[:1]
    await sink.send(openid, text)  # the outbox's retry
    assert wechat.texts(openid) == parts


async def test_download_media_returns_the_bytes(bot: Replica, wechat: FakeWeChat) -> None:
    picture = b"\xff\xd8\xff\xe0" + secrets.token_bytes(50_000)
    media_id = wechat.register_media(picture)
    assert await bot.api.download_media(media_id) == picture
    with pytest.raises(RequestRejected) as missing:
        await bot.api.download_media("no-such-media")
    assert missing.value.reason == "invalid_media_id"


async def test_template_message(bot: Replica, wechat: FakeWeChat, openid: str) -> None:
    await bot.api.send_template(openid, "TEMPLATE-1", {"first": {"value": "您有一条新消息"}})
    (sent,) = wechat.templates()
    assert sent["touser"] == openid and sent["template_id"] == "TEMPLATE-1"
    assert sent["data"] == {"first": {"value": "您有一条新消息"}}


async def test_the_event_loop_runs_during_a_slow_call(bot: Replica, wechat: FakeWeChat, openid: str) -> None:
    await bot.tokens.get()
    wechat.slow_down(0.3)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        await bot.api.send_text(openid, "hello")
    finally:
        ticker.cancel()
    assert ticks >= 10


async def test_no_token_secret_or_openid_in_logs(
    bot: Replica, wechat: FakeWeChat, openid: str, caplog: pytest.LogCaptureFixture
) -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    caplog.set_level(logging.DEBUG)
    sink = WeChatCustomerServiceSink(bot.api)
    await sink.send(openid, "hello")
    wechat.revoke_tokens()
    await sink.send(openid, "again")
    wechat.fail_next(SEND, -1)
    with pytest.raises(TransientFailure):
        await sink.send(openid, "busy")
    wechat.close_window(openid)
    with pytest.raises(PermanentFailure):
        await sink.send(openid, "late")
    await bot.api.download_media(wechat.register_media(b"\xff\xd8 picture"))
    assert wechat.token_calls == 2 and caplog.records
    logged = caplog.text + "\n".join(str(record.args) for record in caplog.records)
    for secret in (*wechat.issued_tokens(), wechat.app_secret, openid):
        assert secret not in logged


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="举报回执说明 abc,.。", max_size=900),
            st.just(f"回执 {RECEIPT} 请保存"),
            st.just(RECEIPT),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_split_text_properties(lines: list[str]) -> None:
    text = "\n".join(lines)
    parts = split_text(text, limit=512)
    assert all(utf8_len(part) <= 512 for part in parts)
    receipts = sum(len(RECEIPT_LIKE.findall(line)) for line in lines)
    assert sum(len(RECEIPT_LIKE.findall(part)) for part in parts) == receipts
    assert "".join(parts).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
