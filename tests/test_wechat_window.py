"""Pushing to WeChat users: inside the 48-hour window a neutral customer-service message, outside it
the notice waits for the worker's next message, and the content is shown only with the receipt."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.sink import WeChatCustomerServiceSink
from bot.channels.wechat.token import AccessTokenManager
from bot.core import Core
from bot.jobs import delivery_pass
from bot.serve import job_deps

from .conftest import Clock
from .desk_kit import LI, desk
from .flows import receipt_in, reference_in
from .wechat_fake.harness import fake_clock
from .wechat_fake.server import FakeWeChat
from .wechat_harness import WeChatUser, wechat_server


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeWeChat]:
    with FakeWeChat(app_id="wx1234567890abcdef", clock=fake_clock(clock)) as wechat:
        yield wechat


async def report_with_notifications(mei: WeChatUser) -> tuple[str, str]:
    await mei.event("subscribe")
    for answer in ("1", "1", "主管一直给我发暧昧短信", "写完了", "3", "跳过", "6", "1", "跳过", "3", "1"):
        await mei.say(answer)
    shown = await mei.say("提交举报")
    return receipt_in(shown), reference_in(shown)


async def hr_replies(runtime: Core, reference: str, clock: Clock) -> None:
    """The report is about a supervisor, so the advocacy board (not HR) answers it."""
    await desk(runtime).reply(LI, reference, "我们已经收到，周二下午可以面谈吗？", clock())


async def deliver_due_work(runtime: Core, fake: FakeWeChat, http: httpx.AsyncClient) -> None:
    """One pass of hapbot run's due work, with the real WeChat customer-service sink."""
    tokens = AccessTokenManager(
        runtime.database, runtime.crypto, fake.app_id, fake.app_secret, http, runtime.services.clock, fake.base_url
    )
    api = WeChatApi(tokens, fake.base_url)
    try:
        await delivery_pass(job_deps(runtime, {"wechat": WeChatCustomerServiceSink(api)})).run_once()
    finally:
        api.close()


async def test_push_inside_the_window_is_a_neutral_customer_service_message(
    runtime: Core, fake: FakeWeChat, clock: Clock
) -> None:
    async with wechat_server(runtime) as (server, _), httpx.AsyncClient() as http:
        mei = WeChatUser(server)
        _, reference = await report_with_notifications(mei)
        clock.advance(hours=47)
        await hr_replies(runtime, reference, clock)
        await deliver_due_work(runtime, fake, http)
    sent = fake.texts(mei.openid)
    assert len(sent) == 1 and "新消息" in sent[0] and "面谈" not in sent[0], "neutral, never the content"


async def test_outside_the_window_the_next_message_shows_the_notice_then_the_content(
    runtime: Core, fake: FakeWeChat, clock: Clock
) -> None:
    async with wechat_server(runtime) as (server, _), httpx.AsyncClient() as http:
        mei = WeChatUser(server)
        receipt, reference = await report_with_notifications(mei)
        clock.advance(hours=49)
        await hr_replies(runtime, reference, clock)
        await deliver_due_work(runtime, fake, http)
        assert fake.texts(mei.openid) == [], "no customer-service message outside the window"
        first = await mei.say("你好")
        assert "你的举报有一条新消息" in first and "面谈" not in first
        assert "新消息" not in await mei.say("你好"), "the notice is shown once"
        await mei.say("查询")
        assert "面谈" in await mei.say(receipt)
