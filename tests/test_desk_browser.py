"""The HR desk in a real browser at a phone's size (Chromium through Playwright, the app under
uvicorn): from the alert's link to the report and its picture, a reply, a note and closing with an
outcome; the board sees its case and a handler gets "not found" for it from the list, the page and
the picture; the reporter reads the reply with the receipt and never the note.

Phone-sized screenshots of the list and the case page in Chinese go to ``screenshots/`` at the
repository root (not committed).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.middleware import Middleware

from bot.core import Core
from bot.jobs.alert_routing import AlertRouter, SiteRoute
from bot.web.app import build_web_app
from bot.web.desk.pages import build_desk_pages, desk_mount
from bot.web.server import serving
from storage.messages import CaseAlert, Delivery

from .conftest import Clock, Worker
from .desk_kit import COOKIE, LI, WANG, TestIdentity, new_case, picture

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STORY = "The line leader keeps touching my shoulder at the night shift"
NOTE = "Internal: interview the night-shift team first"
REPLY = "Thank you. Can we talk on Tuesday afternoon?"
PICTURE_SHOWN = (
    "() => { const img = document.querySelector('.evidence img');"
    " return !!img && img.complete && img.naturalWidth > 0; }"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),  # the browser adds nothing per database
]


@pytest.fixture
async def desk_server(runtime: Core) -> AsyncIterator[str]:
    app = build_web_app([desk_mount(build_desk_pages(runtime), middleware=[Middleware(TestIdentity)])])
    async with serving(app, "127.0.0.1", 0) as port:
        yield f"http://127.0.0.1:{port}"


async def alert_link(runtime: Core, clock: Clock, base: str, reference: str) -> str:
    """The link in the alert the HR group gets, through the real router and alert text."""
    services = runtime.services
    route = SiteRoute({"zh": "一号厂", "en": "Factory One"}, ("telegram:-1001",), ("telegram:-1002",), desk_url=base)
    async with runtime.database.transaction() as session:
        await services.outbox.enqueue(session, CaseAlert("main", reference, "physical", "soon", "hr"), clock())
        await AlertRouter(services.outbox, {"main": route}, services.translators).route_due(session, clock(), 10)
    async with runtime.database.transaction(write=False) as session:
        texts = [i.message.text for i in await services.outbox.pending(session) if isinstance(i.message, Delivery)]
    [text] = texts
    found = re.search(r"🔗 (\S+)", text)
    assert found is not None
    return found.group(1)


async def test_a_handler_works_a_case_on_a_phone_and_the_board_case_stays_hidden(
    runtime: Core, clock: Clock, desk_server: str
) -> None:
    receipt, reference = await new_case(
        runtime, clock(), story=STORY, category="physical", urgency="soon", contact="console:mei", photo=picture(21)
    )
    for urgency, category in (("danger_now", "verbal"), ("normal", "messages"), ("normal", "other")):
        clock.advance(hours=5)
        await new_case(runtime, clock(), urgency=urgency, category=category)
    _, board_case = await new_case(runtime, clock(), involved="supervisor", photo=picture(22))
    clock.advance(days=2)
    link = await alert_link(runtime, clock, desk_server, reference)
    assert link == f"{desk_server}/desk/cases/{reference}"
    SCREENSHOTS.mkdir(exist_ok=True)

    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            handler = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, locale="zh-CN")
            await handler.add_cookies([{"name": COOKIE, "value": WANG.account_id, "url": desk_server}])
            page = await handler.new_page()
            await page.goto(link)
            assert await page.locator("h1").inner_text() == reference
            assert STORY in await page.locator(".report").inner_text()
            await page.wait_for_function(PICTURE_SHOWN, timeout=15_000)
            await page.screenshot(path=str(SCREENSHOTS / "desk-case-zh.png"), full_page=True)

            await page.fill("#reply", REPLY)
            await page.click("text=发送回复")
            assert "回复已保存" in await page.locator(".done").inner_text()
            await page.fill("#note", NOTE)
            await page.click("text=保存备注")
            assert NOTE in await page.locator(".notes").inner_text()
            await page.select_option("#status", "closed")
            await page.click("text=更改状态")
            assert "结案前请写下处理结果" in await page.locator(".error-summary").inner_text()
            await page.select_option("#status", "closed")
            await page.fill("#outcome", "Warning given to the line leader; the team repeats the training.")
            await page.click("text=更改状态")
            assert "状态已更改" in await page.locator(".done").inner_text()
            assert "Warning given" in await page.content()

            await page.goto(f"{desk_server}/desk/cases?view=all")
            listed = await page.locator(".cases").inner_text()
            assert reference in listed and board_case not in listed
            await page.screenshot(path=str(SCREENSHOTS / "desk-list-zh.png"), full_page=True)
            await page.goto(f"{desk_server}/desk/cases")
            await page.screenshot(path=str(SCREENSHOTS / "desk-list-open-zh.png"))
            hidden = await page.goto(f"{desk_server}/desk/cases/{board_case}")
            assert hidden is not None and hidden.status == 404
            assert await page.locator("h1").inner_text() == "找不到案件"
            hidden_picture = await page.goto(f"{desk_server}/desk/cases/{board_case}/evidence/1")
            assert hidden_picture is not None and hidden_picture.status == 404

            board = await browser.new_context(viewport=PHONE, is_mobile=True, locale="zh-CN")
            await board.add_cookies([{"name": COOKIE, "value": LI.account_id, "url": desk_server}])
            board_page = await board.new_page()
            await board_page.goto(f"{desk_server}/desk/cases")
            await board_page.click(f"text={board_case}")
            assert await board_page.locator("h1").inner_text() == board_case
            await board_page.wait_for_function(PICTURE_SHOWN, timeout=15_000)
            assert reference not in await board_page.content()
        finally:
            await browser.close()

    mei = Worker(runtime, "mei")
    await mei.choose("status")
    await mei.send(receipt)
    assert REPLY in mei.text and NOTE not in mei.text
