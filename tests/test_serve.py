"""`hapbot run` with the WeChat channel enabled: a real process serves /wechat and /healthz and
stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.channels.wechat.callback import sha1_signature

from .test_telegram_durability import free_port
from .wechat_harness import AES_KEY, APP_ID, TOKEN

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
async def test_run_serves_the_wechat_callback(tmp_path: Path) -> None:
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
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
