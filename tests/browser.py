"""Browser fixtures for the HR desk's tests: the desk served on a real port, and a phone-sized
Chromium driven by Playwright.

Playwright drives the system's Chromium (``/usr/bin/chromium``, installed by ``.ci/run`` and the
README's set-up); its own browser download is never used. The page looks like WeChat's in-app
browser (its user agent, a 390×844 phone, touch), and every request it makes is recorded, so a
test can assert that nothing was loaded from outside the server and that no Content-Security-
Policy violation was reported.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from playwright.async_api import ConsoleMessage, Page, Request, async_playwright

from bot.core import Core
from bot.web.app import build_web_app
from bot.web.desk.context import Desk
from bot.web.desk.mount import build_case_desk, build_desk
from bot.web.server import serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
WECHAT_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/111.0.5563.116 Mobile Safari/537.36 XWEB/1110017 MMWEBSDK/20230805 MMWEBID/1234 "
    "MicroMessenger/8.0.42.2460(0x28002A58) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)


@asynccontextmanager
async def desk_server(desk: Desk, runtime: Core | None = None) -> AsyncIterator[str]:
    """The web app with the desk, served by uvicorn on a free port of 127.0.0.1; yields its base URL.
    With ``runtime``, the case pages too, put together exactly as ``hapbot run`` does."""
    mount = build_case_desk(runtime, desk) if runtime is not None else build_desk(desk)
    async with serving(build_web_app([mount]), "127.0.0.1", 0) as port:
        yield f"http://127.0.0.1:{port}"


@dataclass
class PhonePage:
    """A Playwright page, with every URL it requested and every console message about the CSP."""

    page: Page
    requested: list[str] = field(default_factory=list)
    csp_reports: list[str] = field(default_factory=list)

    def outside(self, base_url: str) -> list[str]:
        """Requests that went anywhere but ``base_url`` (inline ``data:`` images aside)."""
        return [url for url in self.requested if not url.startswith((base_url + "/", "data:"))]


@asynccontextmanager
async def phone(locale: str = "zh-CN") -> AsyncIterator[PhonePage]:
    """A phone-sized Chromium page that presents itself as WeChat's in-app browser."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs it (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = await browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=3, locale=locale,
                user_agent=WECHAT_USER_AGENT,
            )
            page = await context.new_page()
            recorded = PhonePage(page)

            def on_request(request: Request) -> None:
                recorded.requested.append(request.url)

            def on_console(message: ConsoleMessage) -> None:
                if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
                    recorded.csp_reports.append(message.text)

            page.on("request", on_request)
            page.on("console", on_console)
            yield recorded
        finally:
            await browser.close()
