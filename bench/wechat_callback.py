"""WeChat callback latency: 100 concurrent encrypted callbacks against the running web app.

Prints p50/p99 reply latency and throughput for durable conversation messages through ``/wechat``
(signature and freshness checks, decryption, nonce and journal, the core, an encrypted passive
reply), beside the same server (Starlette on uvicorn, same HTTP client) answering a fixed reply:
the baseline measured in the same run. WeChat waits 5 s; the aim is p99 under 200 ms.

Usage: python bench/wechat_callback.py [--users 100] [--rounds 5] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from wechatpy.crypto import WeChatCrypto

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.channels.wechat.callback import CallbackVerifier, sha1_signature
from bot.channels.wechat.channel import WeChatChannel
from bot.config import Config
from bot.core import build_core
from bot.web.app import build_web_app
from bot.web.server import serving
from storage.crypto import KeyRing

TOKEN = "benchToken2026"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wxbench0000000001"
ACCOUNT = "gh_bench"


def request_for(crypto: WeChatCrypto, openid: str, text: str, msg_id: int) -> tuple[dict[str, str], bytes]:
    """A signed, encrypted callback as WeChat sends it (built before the clock starts)."""
    now = str(int(time.time()))
    nonce = secrets.token_hex(6)
    xml = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )
    envelope = crypto.encrypt_message(xml, nonce, now)
    encrypted = ElementTree.fromstring(envelope).findtext("Encrypt") or ""
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    query = {
        "timestamp": now,
        "nonce": nonce,
        "signature": sha1_signature(TOKEN, now, nonce),
        "msg_signature": sha1_signature(TOKEN, now, nonce, encrypted),
        "encrypt_type": "aes",
        "openid": openid,
    }
    return query, body.encode()


class Connection:
    """A bare keep-alive HTTP/1.1 client connection: cheap enough that the client does not
    become what is measured (httpx costs milliseconds a request at this concurrency)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def post(self, path: str, query: dict[str, str], body: bytes) -> int:
        target = f"{path}?{urlencode(query)}"
        head = f"POST {target} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        self.writer.close()


async def fire(connections: list[Connection], path: str, requests: list[tuple[dict[str, str], bytes]]) -> list[float]:
    """Sends all requests at once, one per connection; returns each one's latency in seconds."""

    async def one(connection: Connection, query: dict[str, str], body: bytes) -> float:
        started = time.perf_counter()
        status = await connection.post(path, query, body)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"callback answered {status}")
        return elapsed

    return list(await asyncio.gather(*(one(c, q, b) for c, (q, b) in zip(connections, requests, strict=True))))


def summary(name: str, latencies: list[float], wall: float) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000
    return f"{name:<44} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   {len(latencies) / wall:7.0f} callbacks/s"


Requests = list[tuple[dict[str, str], bytes]]


async def measure(connections: list[Connection], path: str, rounds: list[Requests]) -> tuple[list[float], float]:
    latencies: list[float] = []
    started = time.perf_counter()
    for batch in rounds:
        latencies += await fire(connections, path, batch)
    return latencies, time.perf_counter() - started


def fixed_reply(crypto: WeChatCrypto) -> str:
    return crypto.encrypt_message(
        f"<xml><ToUserName><![CDATA[x]]></ToUserName><FromUserName><![CDATA[{ACCOUNT}]]></FromUserName>"
        "<CreateTime>0</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ok]]></Content></xml>",
        "fixednonce",
        str(int(time.time())),
    )


async def serve(url: str, directory: str) -> None:
    """The server process: the bot's web app with the WeChat channel, plus the fixed-reply route."""
    config = Config.model_validate({"storage": {"url": url}, "bot": {"data_dir": directory}})
    runtime = await build_core(config, keyring=KeyRing.generate())
    verifier = CallbackVerifier(TOKEN, AES_KEY, APP_ID, runtime.services.clock)
    channel = WeChatChannel(runtime.dispatcher, runtime.database, runtime.services, verifier)
    fixed = fixed_reply(WeChatCrypto(TOKEN, AES_KEY, APP_ID))

    async def baseline(_request: Request) -> Response:
        return Response(fixed, media_type="application/xml")

    app = build_web_app([channel.route(), Route("/fixed", baseline, methods=["POST"])])
    async with serving(app, "127.0.0.1", 0) as port:
        pragmas = await runtime.database.pragmas()
        print(f"READY {port} {runtime.database.dialect}: " + ", ".join(f"{k}={v}" for k, v in pragmas.items()),
              flush=True)
        await asyncio.Event().wait()


async def main(args: argparse.Namespace) -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    openids = [f"oBENCH{index:021d}" for index in range(args.users)]
    msg_ids = iter(range(9_000_000_000, 9_100_000_000))
    with tempfile.TemporaryDirectory() as directory:
        url = args.database or f"sqlite+aiosqlite:///{Path(directory) / 'bench.sqlite3'}"
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", "--database", url, "--directory", directory,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        assert server.stdout is not None
        ready = (await asyncio.wait_for(server.stdout.readline(), 60)).decode().split(maxsplit=2)
        port, settings = int(ready[1]), ready[2].strip()
        connections = [await Connection.open("127.0.0.1", port) for _ in openids]
        try:
            for text in ("hello", "1", "1"):  # menu, report, agree: every worker at "what happened"
                await fire(connections, "/wechat", [request_for(crypto, o, text, next(msg_ids)) for o in openids])
            rounds = [
                [request_for(crypto, o, f"第{r}条：他又在车间里说那些话", next(msg_ids)) for o in openids]
                for r in range(args.rounds)
            ]
            base_latencies, base_wall = await measure(connections, "/fixed", rounds)
            ours, wall = await measure(connections, "/wechat", rounds)
        finally:
            for connection in connections:
                connection.close()
            server.kill()
            await server.wait()
    print(f"settings: {settings}")
    print(summary(f"baseline: fixed reply, {args.users} concurrent", base_latencies, base_wall))
    print(summary(f"ours: durable message, {args.users} concurrent", ours, wall))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", help="a postgresql+asyncpg:// URL instead of a temporary SQLite file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        asyncio.run(serve(arguments.database, arguments.directory))
    else:
        asyncio.run(main(arguments))
