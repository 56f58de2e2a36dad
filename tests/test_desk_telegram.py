"""From a Telegram report to the HR desk and back: the real PTB stack against the Bot API emulator,
the desk's pages over HTTP; the worker reads HR's reply with the receipt, never the internal note."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.core import Core
from bot.web.app import build_web_app
from bot.web.desk.pages import build_desk_pages

from .desk_kit import COOKIE, ZHAO, TestIdentity, pages_mount
from .flows import receipt_in, reference_in
from .telegram_emulator import TelegramEmulator
from .telegram_harness import TelegramWorker, running_channel
from .test_images import loaded_jpeg

NOTE = "Internal: the shift lead was told"
REPLY = "We have read your report. Can we meet on Tuesday?"


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


async def test_a_telegram_report_is_worked_on_the_desk_and_the_reply_read_with_the_receipt(
    runtime: Core, emu: TelegramEmulator
) -> None:
    app = build_web_app([pages_mount(build_desk_pages(runtime))])
    desk = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test")
    desk.cookies.set(COOKIE, ZHAO.account_id)
    desk.cookies.set("desk_lang", "en")
    token = TestIdentity.token_for(ZHAO.account_id)
    async with desk, running_channel(runtime, emu):
        mei = TelegramWorker(emu, "Mei")
        await mei.say("/start north")
        await mei.tap("Report harassment (anonymous)")
        await mei.tap("I understand, continue")
        await mei.say("The line leader keeps touching my shoulders")
        await mei.send_photo(loaded_jpeg())
        for label in ("Done", "Touching or physical acts", "This week", "Workshop or production line",
                      "No: a co-worker", "Skip", "Not urgent", "No, I will check with my receipt"):
            await mei.tap(label)
        await mei.tap("Submit the report")
        receipt, reference = receipt_in(mei.all_text()), reference_in(mei.all_text())

        page = await desk.get(f"/desk/cases/{reference}")
        assert page.status_code == 200 and "touching my shoulders" in page.text
        picture = await desk.get(f"/desk/cases/{reference}/evidence/1")
        assert picture.status_code == 200 and picture.content.startswith(b"\xff\xd8")
        for action, text in (("note", NOTE), ("reply", REPLY)):
            done = await desk.post(f"/desk/cases/{reference}/{action}", data={"csrf_token": token, "text": text})
            assert done.status_code == 303

        await mei.say("hello")
        assert REPLY not in mei.all_text(), "the content waits for the receipt"
        await mei.say("/status")
        await mei.say(receipt)
        assert REPLY in mei.all_text()
        assert NOTE not in mei.all_text()
