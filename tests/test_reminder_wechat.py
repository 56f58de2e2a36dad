"""WeChat reminders through the real callback channel, API client and sink against the fake WeChat:
inside the 48 hours a customer-service message; outside them a template message when the site
has one configured, else the reminder waits and is shown once at the worker's next message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.channels.wechat.api import WeChatApi
from bot.channels.wechat.sink import WeChatCustomerServiceSink
from bot.channels.wechat.token import AccessTokenManager
from bot.core import Core, build_core
from storage.crypto import KeyRing

from .conftest import Clock
from .reminders_kit import Jobs, announce, counts, jobs_for, reminder_config
from .wechat_fake.harness import fake_clock
from .wechat_fake.server import FakeWeChat
from .wechat_harness import WeChatUser, wechat_server

TEMPLATE = "tmpl-training-reminder-1"


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeWeChat]:
    with FakeWeChat(app_id="wx1234567890abcdef", clock=fake_clock(clock)) as wechat:
        yield wechat


async def core(database_url: str, tmp_path: Path, keyring: KeyRing, clock: Clock, **reminders: object) -> Core:
    config = reminder_config(database_url, tmp_path / "data", onboarding={"enabled": False}, **reminders)
    return await build_core(config, keyring=keyring, clock=clock)


@pytest.fixture
async def plain(database_url: str, tmp_path: Path, keyring: KeyRing, clock: Clock) -> AsyncIterator[Core]:
    runtime = await core(database_url, tmp_path, keyring, clock)
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def templated(database_url: str, tmp_path: Path, keyring: KeyRing, clock: Clock) -> AsyncIterator[Core]:
    runtime = await core(database_url, tmp_path, keyring, clock, wechat_template_id=TEMPLATE)
    try:
        yield runtime
    finally:
        await runtime.close()


async def subscribe(mei: WeChatUser) -> None:
    await mei.event("subscribe")
    confirmed = await mei.say("5")  # the welcome menu's fifth line: 接收培训提醒
    assert "培训提醒已开启" in confirmed


async def wechat_jobs(runtime: Core, fake: FakeWeChat, http: httpx.AsyncClient) -> tuple[Jobs, WeChatApi]:
    tokens = AccessTokenManager(
        runtime.database, runtime.crypto, fake.app_id, fake.app_secret, http, runtime.services.clock, fake.base_url
    )
    api = WeChatApi(tokens, fake.base_url)
    return jobs_for(runtime, {"wechat": WeChatCustomerServiceSink(api)}), api


async def test_inside_the_window_a_customer_service_message(plain: Core, fake: FakeWeChat, clock: Clock) -> None:
    async with wechat_server(plain) as (server, _), httpx.AsyncClient() as http:
        mei = WeChatUser(server)
        await subscribe(mei)
        clock.advance(hours=47)
        occasion = await announce(plain, "drill", clock(), clock() + timedelta(days=1), text="周五下午三点消防演练")
        jobs, api = await wechat_jobs(plain, fake, http)
        try:
            await jobs.tick()
        finally:
            api.close()
    assert fake.texts(mei.openid) == ["培训提醒：周五下午三点消防演练\n发送「退订」可关闭提醒。"]
    assert fake.templates() == []
    assert (await counts(plain, occasion))["sent"] == 1


async def test_outside_the_window_a_template_message_when_configured(
    templated: Core, fake: FakeWeChat, clock: Clock
) -> None:
    async with wechat_server(templated) as (server, _), httpx.AsyncClient() as http:
        mei = WeChatUser(server)
        await subscribe(mei)
        clock.advance(hours=49)
        occasion = await announce(templated, "drill", clock(), clock() + timedelta(days=1), text="周五下午三点消防演练")
        jobs, api = await wechat_jobs(templated, fake, http)
        try:
            await jobs.tick()
        finally:
            api.close()
    assert fake.texts(mei.openid) == []
    (template,) = fake.templates()
    assert template["touser"] == mei.openid and template["template_id"] == TEMPLATE
    assert template["data"]["first"]["value"] == "培训提醒"
    assert template["data"]["keyword1"]["value"].startswith("培训提醒：周五下午三点消防演练")
    assert (await counts(templated, occasion))["sent_template"] == 1


async def test_outside_the_window_without_a_template_it_waits_for_the_next_message(
    plain: Core, fake: FakeWeChat, clock: Clock
) -> None:
    async with wechat_server(plain) as (server, _), httpx.AsyncClient() as http:
        mei = WeChatUser(server)
        await subscribe(mei)
        clock.advance(hours=49)
        occasion = await announce(plain, "drill", clock(), clock() + timedelta(days=1), text="周五下午三点消防演练")
        jobs, api = await wechat_jobs(plain, fake, http)
        try:
            await jobs.tick()
        finally:
            api.close()
        assert fake.texts(mei.openid) == [] and fake.templates() == []
        first = await mei.say("你好")
        assert first.startswith("培训提醒：周五下午三点消防演练")
        assert "消防演练" not in await mei.say("你好"), "shown once"
    found = await counts(plain, occasion)
    assert found["held"] == 1 and found["shown"] == 1


async def test_unfollowing_the_account_ends_the_subscription(plain: Core) -> None:
    async with wechat_server(plain) as (server, _):
        mei = WeChatUser(server)
        await subscribe(mei)
        await mei.event("unsubscribe")
    async with plain.database.transaction(write=False) as session:
        assert await plain.services.reminders.subscriptions.get(session, f"wechat:{mei.openid}") is None
