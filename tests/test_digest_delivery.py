"""The weekly digest reaches the chats: through the real outbox sender, the text and then the chart
to a Telegram group (PTB's sendPhoto against the Bot API emulator) and to a WeCom group robot (an
``image`` message, base64 and MD5, over real HTTP to the fake webhook); a platform whose sink cannot
send pictures drops the chart, counted (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bot.channels.telegram.sink import TelegramSink
from bot.channels.wecom import WeComRobotSink, webhooks_from_config
from bot.config import Config
from bot.core import Core, build_core
from bot.jobs import build_sender
from bot.jobs.digest import DigestJob, DigestSchedules
from bot.serve import job_deps
from handlers.quiz.library import QuizLibrary
from storage.crypto import KeyRing
from storage.messages import ImageDelivery
from storage.receipts import ReceiptHasher
from tests.wechat_fake import FakeWeChat
from tests.wechat_fake.harness import fake_clock

from .conftest import Clock, make_config
from .telegram_emulator import TelegramEmulator

PNG = b"\x89PNG\r\n\x1a\n"
WEBHOOK = "/cgi-bin/webhook/send"


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
def wechat(clock: Clock) -> Iterator[FakeWeChat]:
    with FakeWeChat(clock=fake_clock(clock)) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def core_for(
    config: Config, keyring: KeyRing, clock: Clock, hasher: ReceiptHasher, quizzes: QuizLibrary
) -> Core:
    return await build_core(config, keyring=keyring, clock=clock, hasher=hasher, quizzes=quizzes)


def site(**chats: object) -> dict[str, object]:
    return {"name": {"zh": "北厂", "en": "North Plant"}, "digest": {"weekday": "monday", "send_at": "09:00"}, **chats}


@pytest.mark.slow
async def test_a_telegram_group_gets_the_text_then_the_chart(
    emu: TelegramEmulator,
    database_url: str,
    tmp_path: Path,
    keyring: KeyRing,
    clock: Clock,
    receipt_hasher: ReceiptHasher,
    quiz_library: QuizLibrary,
) -> None:
    group = emu.create_group("HR case handlers")["id"]
    config = make_config(database_url, tmp_path / "data", main=site(hr_chats=[f"telegram:{group}"]))
    core = await core_for(config, keyring, clock, receipt_hasher, quiz_library)
    try:
        assert await DigestJob(core.database, core.services, DigestSchedules.from_config(config)).run_once() == 2
        async with emu.make_bot() as bot:
            sender = build_sender(job_deps(core, {"telegram": TelegramSink(bot)}))
            assert await sender.run_once() == 1, "the text first; the chart is due a second later"
            clock.advance(seconds=1)
            assert await sender.run_once() == 1
            shown = emu.visible_messages(group)
            assert [("photo" in m, "text" in m) for m in shown] == [(False, True), (True, False)]
            assert "每周汇总：北厂" in shown[0]["text"] and "Weekly digest: North Plant" in shown[0]["text"]
            assert "每周汇总：北厂" in shown[1]["caption"]
            largest = shown[1]["photo"][-1]
            picture = bytes(await (await bot.get_file(largest["file_id"])).download_as_bytearray())
        assert picture.startswith(PNG)
        (call,) = [c for c in emu.calls("sendPhoto") if c["ok"]]
        assert str(call["params"]["chat_id"]) == str(group)
        assert await sender.run_once() == 0
    finally:
        await core.close()


@pytest.mark.slow
async def test_a_wecom_robot_gets_a_correctly_encoded_image_message(
    wechat: FakeWeChat,
    http: httpx.AsyncClient,
    database_url: str,
    tmp_path: Path,
    keyring: KeyRing,
    clock: Clock,
    receipt_hasher: ReceiptHasher,
    quiz_library: QuizLibrary,
) -> None:
    robot = wechat.add_robot()
    config = make_config(database_url, tmp_path / "data", main=site(hr_chats=["wecom:main"], wecom_webhook_url=robot))
    core = await core_for(config, keyring, clock, receipt_hasher, quiz_library)
    try:
        assert await DigestJob(core.database, core.services, DigestSchedules.from_config(config)).run_once() == 2
        sender = build_sender(job_deps(core, {"wecom": WeComRobotSink(http, webhooks_from_config(config))}))
        assert await sender.run_once() == 1
        clock.advance(seconds=1)
        assert await sender.run_once() == 1
    finally:
        await core.close()
    (text,) = wechat.robot_texts(robot)
    assert text.startswith("📊 每周汇总：北厂") and len(text.encode()) <= 2048
    (picture,) = wechat.robot_images(robot)
    assert picture.startswith(PNG)
    body = wechat.calls(WEBHOOK)[-1].body
    assert body["msgtype"] == "image" and set(body["image"]) == {"base64", "md5"}
    assert base64.b64decode(body["image"]["base64"]) == picture
    assert body["image"]["md5"] == hashlib.md5(picture).hexdigest()


async def test_the_fake_robot_refuses_a_wrong_md5(wechat: FakeWeChat, http: httpx.AsyncClient) -> None:
    """The fake checks what WeCom checks, so the test above can fail."""
    robot = wechat.add_robot()
    body = {"msgtype": "image", "image": {"base64": base64.b64encode(PNG).decode(), "md5": "0" * 32}}
    answer = (await http.post(robot, json=body)).json()
    assert answer["errcode"] != 0 and wechat.robot_images(robot) == []


class TextOnly:
    """A platform sink that sends text and nothing else."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send(self, chat_id: str, text: str) -> None:
        self.texts.append(text)


async def test_a_sink_without_pictures_drops_the_chart_counted(runtime: Core, clock: Clock) -> None:
    async with runtime.database.transaction() as session:
        await runtime.services.outbox.enqueue(session, ImageDelivery("console:hr", "iVBORw0KGgo=", "chart"), clock())
    sink = TextOnly()
    assert await build_sender(job_deps(runtime, {"console": sink})).run_once() == 0
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.outbox.count(session) == 0
        assert (await runtime.services.outbox.counts(session)).get("no_images") == 1
    assert sink.texts == []
