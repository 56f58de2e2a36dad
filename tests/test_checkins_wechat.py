"""Check-ins on WeChat through signed (safe-mode) callbacks and the customer-service API of the
fake WeChat: inside the 48 hours after the worker's last message the check-in is a customer-service
message; outside them it waits and is shown at the worker's next message; the answer is a typed
number, and a yes reopens the case as urgent."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.sink import WeChatCustomerServiceSink
from bot.channels.wechat.token import AccessTokenManager
from bot.core import Core
from handlers.events import Channel
from storage.cases import CaseStatus

from .conftest import Clock
from .deadlines_kit import Pass, case, desk
from .flows import receipt_in, reference_in, report_script
from .reminders_kit import ChatWorker, RecordingSink
from .wechat_fake.harness import fake_clock
from .wechat_fake.server import FakeWeChat
from .wechat_harness import WeChatUser, wechat_server

CHECKIN = "有空时请看一下。方便时发送“查询”。"
HELD = "你的举报有一条新消息"
QUESTION = "你有没有因为举报而遭到什么对待"
SEND = "/cgi-bin/message/custom/send"


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeWeChat]:
    with FakeWeChat(app_id="wx1234567890abcdef", clock=fake_clock(clock)) as wechat:
        yield wechat


async def report_from(runtime: Core, mei: WeChatUser, notify: str = "notify_yes") -> tuple[str, str]:
    """Mei reports from her WeChat chat, handed to the dispatcher as the channel would."""
    chat = ChatWorker(runtime, mei.openid, Channel.WECHAT, language="zh")
    await chat.send("/start", site="north")
    for line in report_script(["厨师总是把我堵在角落"], notify=notify):
        await chat.send(line.get("text"), line.get("choice"))
    return receipt_in(chat.text), reference_in(chat.text)


def jobs_with(runtime: Core, fake: FakeWeChat, http: httpx.AsyncClient) -> tuple[Pass, WeChatApi]:
    tokens = AccessTokenManager(
        runtime.database, runtime.crypto, fake.app_id, fake.app_secret, http, runtime.services.clock, fake.base_url
    )
    api = WeChatApi(tokens, fake.base_url)
    return Pass(runtime, {"telegram": RecordingSink(), "wechat": WeChatCustomerServiceSink(api)}), api


async def close(runtime: Core, reference: str, clock: Clock) -> None:
    await desk(runtime).set_status("wang", reference, CaseStatus.CLOSED, clock())


async def test_inside_the_48_hours_a_customer_service_message(runtime: Core, fake: FakeWeChat, clock: Clock) -> None:
    async with wechat_server(runtime) as (server, _), httpx.AsyncClient() as http:
        mei = WeChatUser(server)
        await mei.event("subscribe")
        _, reference = await report_from(runtime, mei)
        await close(runtime, reference, clock)
        clock.advance(days=29, hours=12)
        await mei.say("你好")  # she wrote 12 hours before the check-in
        clock.advance(hours=12, minutes=1)
        jobs, api = jobs_with(runtime, fake, http)
        try:
            await jobs.run()
            await jobs.run()
        finally:
            api.close()
    assert fake.texts(mei.openid) == [CHECKIN]


async def test_outside_the_48_hours_it_waits_for_the_next_message_and_yes_reopens(
    runtime: Core, fake: FakeWeChat, clock: Clock
) -> None:
    async with wechat_server(runtime) as (server, _), httpx.AsyncClient() as http:
        mei = WeChatUser(server)
        await mei.event("subscribe")
        receipt, reference = await report_from(runtime, mei)
        await close(runtime, reference, clock)
        clock.advance(days=30, hours=1)
        jobs, api = jobs_with(runtime, fake, http)
        try:
            await jobs.run()
            assert fake.texts(mei.openid) == [], "no push outside the 48 hours"
            first = await mei.say("你好")
            assert HELD in first and "厨师" not in first
            assert HELD not in await mei.say("你好"), "shown once"
            await mei.say("查询")
            asked = await mei.say(receipt)
            assert QUESTION in asked
            answered = await mei.say("1")  # the first numbered choice: yes
            assert "重新打开" in answered
            reopened = await case(runtime, reference)
            assert reopened.urgent and reopened.status is CaseStatus.RECEIVED
            await jobs.run()
        finally:
            api.close()
    alerts = [text for text in jobs.texts("-1001") if reference in text and "🆘" in text]
    assert len(alerts) == 1, "HR is alerted at once"


async def test_no_consent_no_push_inside_the_window(runtime: Core, fake: FakeWeChat, clock: Clock) -> None:
    async with wechat_server(runtime) as (server, _), httpx.AsyncClient() as http:
        mei = WeChatUser(server)
        await mei.event("subscribe")
        _, reference = await report_from(runtime, mei, notify="notify_no")
        await close(runtime, reference, clock)
        clock.advance(days=29, hours=12)
        await mei.say("你好")
        clock.advance(hours=12, minutes=1)
        jobs, api = jobs_with(runtime, fake, http)
        try:
            await jobs.run()
            assert HELD not in await mei.say("你好")
        finally:
            api.close()
    assert fake.texts(mei.openid) == []


async def test_a_push_refused_as_too_late_is_held_for_her_next_message(
    runtime: Core, fake: FakeWeChat, clock: Clock
) -> None:
    """Pushed inside the 48 hours but refused (45015) because they ran out while the push waited on a
    busy WeChat: the check-in is not lost, it is shown at her next message."""
    async with wechat_server(runtime) as (server, _), httpx.AsyncClient() as http:
        mei = WeChatUser(server)
        await mei.event("subscribe")
        _, reference = await report_from(runtime, mei)
        await close(runtime, reference, clock)
        clock.advance(days=29, hours=12)
        await mei.say("你好")
        clock.advance(hours=12, minutes=1)
        jobs, api = jobs_with(runtime, fake, http)
        try:
            fake.fail_next(SEND, -1)  # WeChat busy: the push is retried later
            await jobs.run()
            assert fake.texts(mei.openid) == []
            fake.close_window(mei.openid)
            clock.advance(hours=1)
            await jobs.run()
            assert fake.texts(mei.openid) == [], "refused: outside the 48 hours"
            async with runtime.database.transaction(write=False) as session:
                assert await runtime.services.outbox.count(session) == 0
                counts = await runtime.services.outbox.counts(session)
                assert counts.get("outside_window_held") == 1 and "outside_window" not in counts
            first = await mei.say("你好")
        finally:
            api.close()
    assert HELD in first and "厨师" not in first
