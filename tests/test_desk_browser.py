"""The HR desk in a real browser at phone size, as WeChat's in-app browser: enrol from the link,
set a password, add the second factor and confirm a code, sign in, see the desk, sign out.

The landing page is the sign-in's placeholder until the case pages are mounted at ``/desk/``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import Config
from bot.core import Core
from bot.web.desk import totp

from .browser import desk_server, phone
from .conftest import Clock, _copy_private
from .desk_kit import PASSWORD, add_account, desk_config, quick_desk

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
