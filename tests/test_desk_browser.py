"""The HR desk in a real browser at phone size, as WeChat's in-app browser: enrol from the link,
set a password, add the second factor and confirm a code, sign in, see the desk, sign out; and the
whole way with the case pages mounted as ``hapbot run`` mounts them: from the alert's link through
sign-in to the report and its picture, a reply, a note, closing with an outcome and signing out,
while a board member sees the board's case and the handler gets "not found" for it everywhere.

Phone-sized screenshots of the case list and the case page in Chinese go to ``screenshots/`` at the
repository root (not committed)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.async_api import Page

from bot.config import Config
from bot.core import Core
from bot.jobs.alert_routing import AlertRouter, SiteRoute
from bot.web.desk import totp
from storage.messages import CaseAlert, Delivery
from storage.people import Role

from .browser import desk_server, phone
from .conftest import Clock, Worker, _copy_private
from .desk_kit import PASSWORD, add_account, desk_config, new_case, picture, quick_desk

SCREENSHOTS = os.environ.get("DESK_SCREENSHOTS")  # a folder: the test saves what the phone shows


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the browser is what this test is about (the database tests run on both)."""
    path = tmp_path / "hapbot.sqlite3"
    _copy_private(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return desk_config(database_url, tmp_path / "data", public_url="http://127.0.0.1", secure_cookies=False)


async def test_enrol_sign_in_and_out_on_a_phone(runtime: Core, clock: Clock) -> None:
    desk = quick_desk(runtime, clock)
    token = await add_account(desk, "wang")
    async with desk_server(desk) as base, phone() as browser:
        page = browser.page
        await page.goto(f"{base}/desk/enrol/{token}")
        assert page.url == f"{base}/desk/enrol", "the token leaves the address bar at once"
        assert await page.locator(".qr svg").is_visible()
        if SCREENSHOTS:
            await page.screenshot(path=f"{SCREENSHOTS}/enrol.png", full_page=True)
        secret = (await page.locator("#secret").inner_text()).replace(" ", "")
        await page.fill("#password", PASSWORD)
        await page.fill("#repeat", PASSWORD)
        await page.fill("#code", totp.code_at(secret, clock()))
        await page.get_by_role("button", name="完成").click()
        await page.wait_for_url(f"{base}/desk/login?done=enrolled")
        assert "您的账号已设置好" in await page.locator("main").inner_text()

        clock.advance(seconds=totp.STEP_SECONDS)
        await page.fill("#name", "wang")
        await page.fill("#password", PASSWORD)
        await page.fill("#code", totp.code_at(secret, clock()))
        await page.get_by_role("button", name="登录").click()
        await page.wait_for_url(f"{base}/desk/")
        assert "已登录：wang" in await page.locator("main").inner_text()
        if SCREENSHOTS:
            await page.screenshot(path=f"{SCREENSHOTS}/landing.png", full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "nothing overflows a phone's width"
        button = await page.get_by_role("button", name="退出登录").bounding_box()
        assert button is not None and button["height"] >= 44, "tap targets are at least 44 px"

        await page.get_by_role("button", name="退出登录").click()
        await page.wait_for_url(f"{base}/desk/login?done=signed_out")
        await page.goto(f"{base}/desk/")
        assert page.url.startswith(f"{base}/desk/login")
        assert browser.outside(base) == [], "nothing is loaded from outside the server"
        assert browser.csp_reports == []


STORY = "The line leader keeps touching my shoulder at the night shift"
NOTE = "Internal: interview the night-shift team first"
REPLY = "Thank you. Can we talk on Tuesday afternoon?"
OUTCOME = "Warning given to the line leader; the team repeats the training."
PICTURE_SHOWN = (
    "() => { const img = document.querySelector('.evidence img');"
    " return !!img && img.complete && img.naturalWidth > 0; }"
)
SHOTS = Path(__file__).resolve().parents[1] / "screenshots"  # phone-sized, Chinese; not committed


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


async def enrol_and_sign_in(page: Page, base: str, token: str, name: str, clock: Clock, then: str) -> None:
    """From the enrolment link to signed in at ``then`` (the login page sends the person on there)."""
    await page.goto(f"{base}/desk/enrol/{token}")
    secret = (await page.locator("#secret").inner_text()).replace(" ", "")
    await page.fill("#password", PASSWORD)
    await page.fill("#repeat", PASSWORD)
    await page.fill("#code", totp.code_at(secret, clock()))
    await page.get_by_role("button", name="完成").click()
    await page.wait_for_url(f"{base}/desk/login?done=enrolled")
    clock.advance(seconds=totp.STEP_SECONDS)
    await page.goto(then)
    assert page.url.startswith(f"{base}/desk/login?next="), "the desk asks who is reading first"
    await page.fill("#name", name)
    await page.fill("#password", PASSWORD)
    await page.fill("#code", totp.code_at(secret, clock()))
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(then)


async def test_a_handler_works_a_case_from_the_alert_on_a_phone_and_the_board_case_stays_hidden(
    runtime: Core, clock: Clock
) -> None:
    receipt, reference = await new_case(
        runtime, clock(), story=STORY, category="physical", urgency="soon", contact="console:mei", photo=picture(21)
    )
    for urgency, category in (("danger_now", "verbal"), ("normal", "messages")):
        clock.advance(hours=5)
        await new_case(runtime, clock(), urgency=urgency, category=category)
    _, board_case = await new_case(runtime, clock(), involved="supervisor", photo=picture(22))
    clock.advance(days=2)
    desk = quick_desk(runtime, clock)
    wang_link = await add_account(desk, "wang", Role.HANDLER, ("main",))
    li_link = await add_account(desk, "li", Role.BOARD, ())
    SHOTS.mkdir(exist_ok=True)

    async with desk_server(desk, runtime) as base:
        link = await alert_link(runtime, clock, base, reference)
        assert link == f"{base}/desk/cases/{reference}"
        async with phone() as browser:
            page = browser.page
            await enrol_and_sign_in(page, base, wang_link, "wang", clock, link)
            assert await page.locator("h1").inner_text() == reference
            assert STORY in await page.locator(".report").inner_text()
            await page.wait_for_function(PICTURE_SHOWN, timeout=15_000)
            await page.screenshot(path=str(SHOTS / "desk-case-zh.png"), full_page=True)

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
            await page.fill("#outcome", OUTCOME)
            await page.click("text=更改状态")
            assert "状态已更改" in await page.locator(".done").inner_text()
            assert OUTCOME in await page.content()

            await page.goto(f"{base}/desk/")
            assert page.url == f"{base}/desk/cases", "/desk/ is the case list"
            await page.goto(f"{base}/desk/cases?view=all")
            listed = await page.locator(".cases").inner_text()
            assert reference in listed and board_case not in listed
            await page.screenshot(path=str(SHOTS / "desk-list-zh.png"), full_page=True)
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            hidden = await page.goto(f"{base}/desk/cases/{board_case}")
            assert hidden is not None and hidden.status == 404
            assert await page.locator("h1").inner_text() == "找不到案件"
            hidden_picture = await page.goto(f"{base}/desk/cases/{board_case}/evidence/1")
            assert hidden_picture is not None and hidden_picture.status == 404
            unknown = await page.goto(f"{base}/desk/cases/HAP-000000")
            assert unknown is not None and unknown.status == 404, "the same answer as a case that does not exist"

            await page.goto(f"{base}/desk/cases")
            await page.get_by_role("button", name="退出登录").click()
            await page.wait_for_url(f"{base}/desk/login?done=signed_out")
            await page.goto(link)
            assert page.url.startswith(f"{base}/desk/login"), "signed out: the case is not shown"
            assert browser.outside(base) == [], "nothing is loaded from outside the server"
            assert browser.csp_reports == []

        async with phone() as board_browser:
            board = board_browser.page
            clock.advance(seconds=totp.STEP_SECONDS)
            await enrol_and_sign_in(board, base, li_link, "li", clock, f"{base}/desk/cases")
            await board.click(f"text={board_case}")
            assert await board.locator("h1").inner_text() == board_case
            await board.wait_for_function(PICTURE_SHOWN, timeout=15_000)
            assert reference not in await board.content()

    mei = Worker(runtime, "mei")
    await mei.choose("status")
    await mei.send(receipt)
    assert REPLY in mei.text and NOTE not in mei.text
