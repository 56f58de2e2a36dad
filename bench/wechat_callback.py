"""WeChat callback latency: 100 concurrent encrypted callbacks against the running web app.

The server is the bot's web app with the WeChat channel, in its own process; beside ``/wechat`` it
serves ``/fixed``, a fixed encrypted reply: the baseline, on the same server (Starlette on uvicorn)
and the same client. Timed rounds alternate (baseline, ours, baseline, ours …), each round one
callback from each of ``--users`` workers at once, so both sides see the same machine load.

Traffic per 100 callbacks: 10 new workers' first messages, 60 draft messages, 5 submits (argon2id
hash, case, alert), 5 status lookups with a real receipt (argon2id verify), 20 FAQ questions.
Workers are brought to their step between rounds (not timed). Prints p50/p99 for all callbacks,
for submits and lookups, and for the other workers (what a slow submit costs its neighbours), the
server's CPU time per callback (where the time goes: CPU, or waiting on disk and locks),
the server process's RSS when idle and its peak (VmHWM, from /proc/<pid>/status), and the load
average. WeChat waits 5 s; the aim is p99 under 200 ms.

Usage: python bench/wechat_callback.py [--users 100] [--rounds 10] [--workload mixed|drafts]
       [--database postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from wechatpy.crypto import WeChatCrypto

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from steady import like_hapbot_run
from telegram_updates import DRAFT_MESSAGES_PER_WORKER, MIX, QUESTIONS, load_average

from bot.channels.wechat.callback import CallbackVerifier, sha1_signature
from bot.channels.wechat.channel import WeChatChannel
from bot.config import Config
from bot.core import LoadingFaq, build_core
from bot.heap import freeze_loaded
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
    become what is measured (httpx costs milliseconds a request at this concurrency). uvicorn
    closes a connection idle for 5 s, so one idle for 3 s is replaced before use, untimed."""

    IDLE_SECONDS = 3.0

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int) -> None:
        self.reader, self.writer, self.host, self.port = reader, writer, host, port
        self.used = time.monotonic()

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host, port)

    async def fresh(self) -> None:
        """Replaces the connection if the server may have closed it (not timed)."""
        if time.monotonic() - self.used > self.IDLE_SECONDS or self.reader.at_eof():
            self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, query: dict[str, str], body: bytes) -> tuple[int, bytes]:
        target = f"{path}?{urlencode(query)}"
        head = f"POST {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        reply = await self.reader.readexactly(length)
        self.used = time.monotonic()
        return int(status_line.split()[1]), reply

    def close(self) -> None:
        self.writer.close()


Requests = list[tuple[dict[str, str], bytes]]


async def fire(connections: list[Connection], path: str, requests: Requests) -> tuple[list[float], list[bytes]]:
    """Sends all requests at once, one per connection; returns each one's latency (s) and reply body."""

    async def one(connection: Connection, query: dict[str, str], body: bytes) -> tuple[float, bytes]:
        started = time.perf_counter()
        status, reply = await connection.post(path, query, body)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"callback answered {status}")
        return elapsed, reply

    await asyncio.gather(*(connection.fresh() for connection in connections[: len(requests)]))
    answers = await asyncio.gather(*(one(c, q, b) for c, (q, b) in zip(connections, requests, strict=True)))
    return [latency for latency, _ in answers], [reply for _, reply in answers]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


def summary(name: str, latencies: list[float], wall: float | None = None) -> str:
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    rate = f"   {len(latencies) / wall:7.0f} callbacks/s" if wall else ""
    return (f"{name:<46} p50 {p50:7.1f} ms   p99 {percentile(latencies, 0.99) * 1000:7.1f} ms"
            f"   ({len(latencies)} samples){rate}")


def memory_mib(pid: int) -> dict[str, float]:
    """A process's VmRSS and VmHWM (peak), in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reply_text(crypto: WeChatCrypto, body: bytes) -> str:
    """The text of an encrypted passive reply ("" for ``success``)."""
    if not body.startswith(b"<xml>"):
        return ""
    envelope = ElementTree.fromstring(body)
    plain = crypto.decrypt_message(
        body, envelope.findtext("MsgSignature"), envelope.findtext("TimeStamp"), envelope.findtext("Nonce")
    )
    return ElementTree.fromstring(plain).findtext("Content") or ""


class Workers:
    """Workers (OpenIDs) standing at each step the traffic needs; brings them there, untimed."""

    def __init__(self, crypto: WeChatCrypto, connections: list[Connection]) -> None:
        self.crypto, self.connections = crypto, connections
        self.msg_ids = iter(range(9_000_000_000, 9_900_000_000))
        self.serial = 0
        self.random = random.Random(7)
        self.drafting: dict[str, int] = {}
        self.reviewing: list[str] = []
        self.asking_faq: list[str] = []
        self.receipts: list[str] = []

    def new(self) -> str:
        self.serial += 1
        return f"oBENCH{self.serial:021d}"

    def request(self, openid: str, text: str) -> tuple[dict[str, str], bytes]:
        return request_for(self.crypto, openid, text, next(self.msg_ids))

    async def send(self, messages: list[tuple[str, str]]) -> list[bytes]:
        """Untimed: at most one message per connection at a time."""
        bodies: list[bytes] = []
        width = len(self.connections)
        for offset in range(0, len(messages), width):
            chunk = messages[offset : offset + width]
            _, replies = await fire(self.connections[: len(chunk)], "/wechat", [self.request(o, t) for o, t in chunk])
            bodies += replies
        return bodies

    async def walk(self, scripts: dict[str, list[str]]) -> dict[str, str]:
        """Step k of every script in one wave; returns each worker's last reply text."""
        last: dict[str, str] = {}
        for index in range(max((len(s) for s in scripts.values()), default=0)):
            wave = [(openid, script[index]) for openid, script in scripts.items() if index < len(script)]
            for (openid, _), body in zip(wave, await self.send(wave), strict=True):
                last[openid] = reply_text(self.crypto, body)
        return last

    async def prepare(self, plan: dict[str, int]) -> dict[str, list[str]]:
        """Workers for one round: which OpenIDs send what, by kind."""
        from tests.flows import report_script

        steps = [step.get("choice") or step["text"] for step in report_script(["组长在车间里动手动脚"])]
        scripts: dict[str, list[str]] = {}
        while sum(1 for left in self.drafting.values() if left > 0) < plan["draft"]:
            openid = self.new()
            scripts[openid] = ["你好", "report", "agree"]
            self.drafting[openid] = DRAFT_MESSAGES_PER_WORKER
        reviewers = [self.new() for _ in range(max(0, plan["submit"] - len(self.reviewing)))]
        receipt_makers = [self.new() for _ in range(0 if self.receipts else max(1, plan["status"]))]
        for openid in reviewers + receipt_makers:
            scripts[openid] = ["你好", *steps[:-1]]
        for _ in range(max(0, plan["faq"] - len(self.asking_faq))):
            openid = self.new()
            scripts[openid] = ["你好", "问答"]
            self.asking_faq.append(openid)
        lookers = [self.new() for _ in range(plan["status"])]
        scripts.update({openid: ["你好", "查询"] for openid in lookers})
        await self.walk(scripts)
        self.reviewing += reviewers
        if receipt_makers:
            last = await self.walk({openid: ["submit"] for openid in receipt_makers})
            self.harvest(last.values())
        drafters = [openid for openid, left in self.drafting.items() if left > 0]
        self.random.shuffle(drafters)
        drafters = drafters[: plan["draft"]]
        for openid in drafters:
            self.drafting[openid] -= 1
        submitters, self.reviewing = self.reviewing[: plan["submit"]], self.reviewing[plan["submit"] :]
        return {
            "new": [self.new() for _ in range(plan["new"])],
            "draft": drafters,
            "submit": submitters,
            "status": lookers,
            "faq": self.random.sample(self.asking_faq, plan["faq"]),
        }

    def harvest(self, texts: Iterable[str]) -> None:
        from tests.flows import RECEIPT_LINE

        for text in texts:
            self.receipts += RECEIPT_LINE.findall(text)[-1:]

    def messages(self, cast: dict[str, list[str]]) -> list[tuple[str, str, str]]:
        """(kind, OpenID, text) of one round, shuffled."""
        texts = {
            "new": lambda: "你好",
            "draft": lambda: "他又在车间里说那些话",
            "submit": lambda: "submit",
            "status": lambda: self.random.choice(self.receipts),
            "faq": lambda: self.random.choice(QUESTIONS),
        }
        round_ = [(kind, openid, texts[kind]()) for kind, openids in cast.items() for openid in openids]
        self.random.shuffle(round_)
        return round_


def plan_for(users: int, workload: str = "mixed") -> dict[str, int]:
    if workload == "drafts":
        return {"new": 0, "draft": users, "submit": 0, "status": 0, "faq": 0}
    plan = {kind: users * share // 100 for kind, share in MIX.items()}
    plan["draft"] += users - sum(plan.values())
    return plan


def fixed_reply(crypto: WeChatCrypto) -> str:
    return crypto.encrypt_message(
        f"<xml><ToUserName><![CDATA[x]]></ToUserName><FromUserName><![CDATA[{ACCOUNT}]]></FromUserName>"
        "<CreateTime>0</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ok]]></Content></xml>",
        "fixednonce",
        str(int(time.time())),
    )


async def serve(url: str, directory: str) -> None:
    """The server process: the bot's web app with the WeChat channel, plus the fixed-reply route."""
    like_hapbot_run(directory)
    config = Config.model_validate({"storage": {"url": url}, "bot": {"data_dir": directory}})
    faq = LoadingFaq(config)  # as ``hapbot run`` loads it: in a thread, after the freeze below
    runtime = await build_core(config, keyring=KeyRing.generate(), faq=faq)
    verifier = CallbackVerifier(TOKEN, AES_KEY, APP_ID, runtime.services.clock)
    channel = WeChatChannel(runtime.dispatcher, runtime.database, runtime.services, verifier)
    fixed = fixed_reply(WeChatCrypto(TOKEN, AES_KEY, APP_ID))

    async def baseline(_request: Request) -> Response:
        return Response(fixed, media_type="application/xml")

    app = build_web_app([channel.route(), Route("/fixed", baseline, methods=["POST"])])
    freeze_loaded()  # as ``hapbot run`` does before serving (bot.heap)
    await faq.loaded()
    async with serving(app, "127.0.0.1", 0) as port:
        pragmas = await runtime.database.pragmas()
        print(f"READY {port} {runtime.database.dialect}: " + ", ".join(f"{k}={v}" for k, v in pragmas.items()),
              flush=True)
        await asyncio.Event().wait()


async def main(args: argparse.Namespace) -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    with tempfile.TemporaryDirectory() as directory:
        url = args.database or f"sqlite+aiosqlite:///{Path(directory) / 'bench.sqlite3'}"
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", "--database", url, "--directory", directory,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        assert server.stdout is not None
        ready = (await asyncio.wait_for(server.stdout.readline(), 120)).decode().split(maxsplit=2)
        port, settings = int(ready[1]), ready[2].strip()
        idle = memory_mib(server.pid)
        connections = [await Connection.open("127.0.0.1", port) for _ in range(args.users)]
        workers = Workers(crypto, connections)
        samples: dict[str, list[float]] = {"fixed": [], "all": [], "argon2": [], "others": []}
        walls = {"fixed": 0.0, "all": 0.0}
        cpu = 0.0
        print(f"load average at start: {load_average()}   cores: {os.cpu_count()}")
        try:
            for _ in range(args.rounds):
                cast = await workers.prepare(plan_for(args.users, args.workload))
                round_ = workers.messages(cast)
                requests = [workers.request(openid, text) for _, openid, text in round_]
                started = time.perf_counter()
                latencies, _ = await fire(connections, "/fixed", requests)  # A: the baseline
                walls["fixed"] += time.perf_counter() - started
                samples["fixed"] += latencies
                requests = [workers.request(openid, text) for _, openid, text in round_]
                cpu_before, started = cpu_seconds(server.pid), time.perf_counter()
                latencies, bodies = await fire(connections, "/wechat", requests)  # B: ours
                walls["all"] += time.perf_counter() - started
                cpu += cpu_seconds(server.pid) - cpu_before
                for (kind, _, _), latency in zip(round_, latencies, strict=True):
                    samples["all"].append(latency)
                    samples["argon2" if kind in ("submit", "status") else "others"].append(latency)
                workers.harvest(reply_text(crypto, body) for (kind, _, _), body in zip(round_, bodies, strict=True)
                                if kind == "submit")
            peak = memory_mib(server.pid)
        finally:
            for connection in connections:
                connection.close()
            server.kill()
            await server.wait()
    print(f"settings: {settings}")
    print(summary(f"baseline: fixed reply, {args.users} concurrent", samples["fixed"], walls["fixed"]))
    print(summary(f"ours: all callbacks, {args.users} concurrent", samples["all"], walls["all"]))
    print(summary("ours: submits and status lookups (argon2id)", samples["argon2"]))
    print(summary("ours: the other workers", samples["others"]))
    print(f"server CPU during our rounds: {cpu / max(1, len(samples['all'])) * 1000:.2f} ms a callback"
          f" (all threads: event loop, SQLite, argon2id), {cpu / max(walls['all'], 1e-9):.2f} cores busy")
    print(f"server RSS: idle {idle['VmRSS']:.0f} MiB; after the rounds {peak['VmRSS']:.0f} MiB,"
          f" peak {peak['VmHWM']:.0f} MiB")
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workload", choices=["mixed", "drafts"], default="mixed",
                        help="drafts: draft messages only (no argon2id in the rounds)")
    parser.add_argument("--database", help="a postgresql+asyncpg:// URL instead of a temporary SQLite file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        asyncio.run(serve(arguments.database, arguments.directory))
    else:
        asyncio.run(main(arguments))
