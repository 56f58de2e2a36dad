"""`hapbot run` with the WeChat channel enabled: a real process serves /wechat, /healthz and the
HR desk's case pages behind the desk's sign-in gate, and stops cleanly on SIGTERM; /readyz says
503 until the channels, the FAQ and the jobs are up."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import bot.core
from bot.channels.wechat.callback import sha1_signature
from bot.config import Config
from bot.serve import serve

from .conftest import seed_faq_cache
from .test_telegram_durability import free_port
from .wechat_harness import AES_KEY, APP_ID, TOKEN

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
async def test_run_serves_the_wechat_callback(tmp_path: Path, warm_faq_cache: Path) -> None:
    seed_faq_cache(warm_faq_cache, tmp_path / "data")
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[bot]
data_dir = "{tmp_path / 'data'}"
[wechat]
enabled = true
token = "{TOKEN}"
encoding_aes_key = "{AES_KEY}"
app_id = "{APP_ID}"
app_secret = "not-a-real-secret"
api_base_url = "http://127.0.0.1:9"
[web]
port = {port}
""",
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "run", cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            timestamp, nonce = str(int(time.time())), "abc123"
            query = {"timestamp": timestamp, "nonce": nonce, "echostr": "ok-42",
                     "signature": sha1_signature(TOKEN, timestamp, nonce)}
            answer = await client.get(f"http://127.0.0.1:{port}/wechat", params=query)
            assert answer.status_code == 200 and answer.text == "ok-42"
            # The HR desk's case pages are served, behind the desk's gate: no session, no case.
            home = await client.get(f"http://127.0.0.1:{port}/desk/")
            assert home.status_code == 303 and home.headers["location"] == "/desk/cases", "/desk/ is the case list"
            for path in ("/desk/cases", "/desk/cases/HAP-000000"):
                page = await client.get(f"http://127.0.0.1:{port}{path}")
                assert page.status_code == 303 and page.headers["location"] == f"/desk/login?next={path}"
                assert "script-src 'self'" in page.headers["content-security-policy"]
            forged = await client.post(f"http://127.0.0.1:{port}/desk/cases/HAP-000000/reply", data={"text": "hi"})
            assert forged.status_code == 403, "a form without the gate's CSRF token is refused"
            assert (await client.get(f"http://127.0.0.1:{port}/desk/static/desk.css")).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_readyz_says_503_until_the_faq_and_channels_are_up(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, warm_faq_cache: Path
) -> None:
    seed_faq_cache(warm_faq_cache, tmp_path / "data")
    port = free_port()
    config = Config.model_validate({
        "bot": {"data_dir": str(tmp_path / "data")},
        "storage": {"url": database_url},
        "wechat": {"enabled": True, "token": TOKEN, "encoding_aes_key": AES_KEY, "app_id": APP_ID,
                   "app_secret": "not-a-real-secret", "api_base_url": "http://127.0.0.1:9"},
        "web": {"port": port},
    })
    release = threading.Event()
    real_load_faq = bot.core.load_faq

    def held_load_faq(*args: Any) -> Any:  # the FAQ index is being built until the test says so
        release.wait(60)
        return real_load_faq(*args)

    monkeypatch.setattr(bot.core, "load_faq", held_load_faq)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(config, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                try:
                    answer = await client.get("/readyz")
                    break
                except httpx.TransportError:
                    assert not serving.done(), serving.exception()
                    await asyncio.sleep(0.05)
            assert answer.status_code == 503 and answer.json() == {"status": "starting"}
            assert (await client.get("/healthz")).status_code == 200, "alive while it starts"
            release.set()
            for _ in range(1200):
                answer = await client.get("/readyz")
                if answer.status_code != 503:
                    break
                await asyncio.sleep(0.05)
            assert answer.status_code == 200 and answer.json() == {"status": "ready"}
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(serving, 30)
