"""HR alerts to WeCom group robots, over real HTTP to the fake WeCom webhook: the JSON posted,
the 2,048-byte cut, 45009 as a one-minute pause, a dead webhook dropped, robots looked up by site,
and the outbox sender keeping to 20 messages a minute (SQLite and PostgreSQL). The robot's key
never reaches a log, a repr or an error.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bot.channels.sinks import PermanentFailure, RetryLater, TransientFailure
from bot.channels.wecom import WeComRobotSink, webhooks_from_config
from bot.core import Core
from bot.jobs.sender import OutboxSender
from bot.logs import QUIET
from storage.messages import Delivery
from tests.wechat_fake import FakeWeChat
from tests.wechat_fake.harness import fake_clock

from .conftest import Clock, make_config

WEBHOOK = "/cgi-bin/webhook/send"


@pytest.fixture
def wechat(clock: Clock) -> Iterator[FakeWeChat]:
    with FakeWeChat(clock=fake_clock(clock)) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def robot(wechat: FakeWeChat) -> str:
    return wechat.add_robot()


@pytest.fixture
def sink(http: httpx.AsyncClient, robot: str) -> WeComRobotSink:
    return WeComRobotSink(http, {"north": robot})


def _key(url: str) -> str:
    return url.rpartition("key=")[2]


async def test_posts_a_text_message(sink: WeComRobotSink, wechat: FakeWeChat, robot: str) -> None:
    await sink.send("north", "新的举报：北厂 · 查看请登录")
    assert wechat.robot_texts(robot) == ["新的举报：北厂 · 查看请登录"]
    (call,) = wechat.calls(WEBHOOK)
    assert call.body == {"msgtype": "text", "text": {"content": "新的举报：北厂 · 查看请登录"}}
    assert call.params == {"key": _key(robot)}


async def test_long_text_is_cut_to_2048_bytes(sink: WeComRobotSink, wechat: FakeWeChat, robot: str) -> None:
    await sink.send("north", "提醒" * 1000)  # 6,000 bytes; the fake refuses anything over 2,048
    (text,) = wechat.robot_texts(robot)
    assert len(text.encode()) <= 2048 and text.endswith("…") and text.startswith("提醒提醒")


async def test_frequency_limit_is_a_one_minute_pause(
    sink: WeComRobotSink, wechat: FakeWeChat, robot: str, clock: Clock
) -> None:
    wechat.fail_next(WEBHOOK, 45009)
    with pytest.raises(RetryLater) as later:
        await sink.send("north", "alert")
    assert later.value.seconds == 60
    for n in range(20):
        await sink.send("north", f"alert {n}")
    with pytest.raises(RetryLater):  # the fake's own 20-a-minute limit
        await sink.send("north", "one too many")
    clock.advance(seconds=60)
    await sink.send("north", "next minute")
    assert len(wechat.robot_texts(robot)) == 21


@pytest.mark.parametrize(("errcode", "failure"), [(-1, TransientFailure), (40008, PermanentFailure)])
async def test_other_errors(sink: WeComRobotSink, wechat: FakeWeChat, errcode: int, failure: type[Exception]) -> None:
    wechat.fail_next(WEBHOOK, errcode)
    with pytest.raises(failure):
        await sink.send("north", "alert")


async def test_dead_webhook_and_unknown_robot_are_dropped_without_showing_the_key(
    http: httpx.AsyncClient, wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    caplog.set_level(logging.DEBUG)
    removed = wechat.webhook_url("0" * 36)  # a key WeCom does not know (robot removed from the group)
    sink = WeComRobotSink(http, {"north": removed})
    with pytest.raises(PermanentFailure) as dead:
        await sink.send("north", "alert")
    assert dead.value.reason == "invalid_webhook"
    with pytest.raises(PermanentFailure) as unknown:
        await sink.send("south", "alert")
    assert unknown.value.reason == "unknown_robot"
    unreachable = WeComRobotSink(http, {"north": "http://127.0.0.1:9/cgi-bin/webhook/send?key=" + "1" * 36})
    with pytest.raises(TransientFailure) as network:
        await unreachable.send("north", "alert")
    assert network.value.__context__ is None and network.value.__cause__ is None
    assert "north" in caplog.text  # the operator learns which robot to fix
    shown = caplog.text + repr(sink) + repr(unreachable) + str(dead.value) + str(network.value)
    assert "0" * 36 not in shown and "1" * 36 not in shown


def test_robots_are_named_by_site(tmp_path: Path, wechat: FakeWeChat) -> None:
    url = wechat.add_robot()
    config = make_config(
        "sqlite+aiosqlite:///unused",
        tmp_path,
        main={"name": "一号厂"},
        north={"name": "北厂", "hr_chats": ["wecom:north"], "wecom_webhook_url": url},
    )
    webhooks = webhooks_from_config(config)
    assert list(webhooks) == ["north"]
    assert webhooks["north"].get_secret_value() == url
    assert _key(url) not in repr(config.sites["north"])


async def test_the_sender_keeps_to_20_a_minute(
    runtime: Core, clock: Clock, sink: WeComRobotSink, wechat: FakeWeChat, robot: str
) -> None:
    async with runtime.database.transaction() as session:
        for n in range(25):
            await runtime.services.outbox.enqueue(session, Delivery("wecom:north", f"m{n}"), clock())
    sender = OutboxSender(runtime.database, runtime.services.outbox, {"wecom": sink}, clock, rng=random.Random(1))
    assert await sender.run_once() == 20
    assert await sender.run_once() == 0  # the rest wait for the minute to pass
    clock.advance(seconds=61)
    assert await sender.run_once() == 5
    assert wechat.robot_texts(robot) == [f"m{n}" for n in range(25)]
    assert len(wechat.calls(WEBHOOK)) == 25  # none was refused with 45009
