"""Telegram updates through the real PTB Application and our journal, beside a bare PTB echo.

Two child processes run side by side, each with its own PTB ``Application`` whose Bot API is
answered in-process by ``LocalBotApi`` (the network edge, and nothing else, is faked):

* **ours**: the bot — journal (one commit per getUpdates batch), PTB ``process_update``, the
  conversation core in one transaction with the journal claim, the replies, the /hide window;
  FAQ loaded, receipts hashed with argon2id at full strength;
* **echo**: the baseline — a bare PTB handler that answers every text with ``reply_text``.

The parent sends the same number of updates to each in alternating rounds (A B A B …), so both
see the same machine load, and prints for each batch size (updates handed in per journal
commit, as one getUpdates answer would be): updates/s, p50 and p99 latency, the ratio, and each
child's resident memory (VmRSS now, VmHWM peak), from /proc/<pid>/status. An update's latency is
the time from its batch being handed in to the last reply of that batch being sent.

Workloads (``--workload``):

* ``mixed`` (default): per 100 updates, 10 new workers' first messages (/start), 60 draft
  messages (a worker telling what happened), 5 submits (the review's "Submit" button: argon2id
  hash, case, alert), 5 status lookups with a real receipt (argon2id verify), 20 FAQ questions;
* ``drafts``: draft messages only.

Workers are brought to the step they need (the review, the receipt prompt, the FAQ, "what
happened") between timed rounds, through the same channel, not timed.

Usage: python bench/telegram_updates.py [--workload mixed,drafts] [--batches 1,10,100]
       [--samples 1000] [--database postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from steady import like_hapbot_run  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler  # noqa: E402
from telegram.request import BaseRequest, RequestData  # noqa: E402

TOKEN = "123456:BENCHMARKTOKENBENCHMARKTOKEN00000"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "HAP", "username": "hap_bot"}
MIX = {"new": 10, "draft": 60, "submit": 5, "status": 5, "faq": 20}  # per 100 updates
QUESTIONS = ["怎么匿名举报？", "What counts as sexual harassment?", "举报以后会被报复吗", "How do I check my report?",
             "主管骚扰我怎么办", "我的信息会保密吗"]
DRAFT_MESSAGES_PER_WORKER = 25  # a draft keeps at most 30 messages


class LocalBotApi(BaseRequest):
    """Answers Bot API calls in-process: the network edge, and nothing else, is faked.

    Message ids are sequential per chat, as in Telegram's private chats; ``sent`` keeps the
    text of each chat's messages from the bot (the bench reads receipts from it).
    """

    def __init__(self) -> None:
        self.calls = 0
        self._next_id: dict[int, int] = defaultdict(lambda: 1)
        self.sent: dict[int, list[tuple[int, str]]] = defaultdict(list)
        self.keep_texts = False

    def next_id(self, chat_id: int) -> int:
        message_id = self._next_id[chat_id]
        self._next_id[chat_id] = message_id + 1
        return message_id

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **_: Any
    ) -> tuple[int, bytes]:
        self.calls += 1
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        if name == "getMe":
            result: Any = BOT_USER
        elif name == "sendMessage":
            chat_id = int(str(params.get("chat_id", 0)))
            message_id = self.next_id(chat_id)
            text = str(params.get("text", ""))
            if self.keep_texts:
                self.sent[chat_id].append((message_id, text))
            result = {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                      "from": BOT_USER, "text": text}
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()


def text_update(update_id: int, user_id: int, message_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "W", "language_code": "zh"},
            "text": text,
        },
    }


def updates_for(users: int, messages: int, start_id: int = 1) -> list[dict[str, Any]]:
    """Text messages from ``users`` workers, ``messages`` each, interleaved as they would arrive."""
    result = []
    update_id = start_id
    for number in range(messages):
        for user in range(users):
            result.append(text_update(update_id, 10_000_000 + user, update_id, f"第{number}条：他在车间里又说了那些话"))
            update_id += 1
    return result


def application(api: LocalBotApi) -> Application:  # type: ignore[type-arg]
    built: Application = ApplicationBuilder().token(TOKEN).request(api).updater(None).build()  # type: ignore[type-arg]
    return built


def memory_kib() -> dict[str, int]:
    """This process's VmRSS and VmHWM (peak), in KiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


# -- the echo child ---------------------------------------------------------------------------


class Echo:
    def __init__(self) -> None:
        self.api = LocalBotApi()
        self.app = application(self.api)
        self.next_update = 1

        async def echo(update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
            assert isinstance(update, Update) and update.message is not None
            await update.message.reply_text(update.message.text or "")

        self.app.add_handler(TypeHandler(Update, echo))

    async def start(self) -> None:
        await self.app.initialize()

    async def round(self, count: int, batch: int, _workload: str) -> tuple[list[float], float]:
        updates = []
        for index in range(count):
            user_id = 20_000_000 + index % 500
            updates.append(text_update(self.next_update, user_id, self.api.next_id(user_id), "他又说了那些话"))
            self.next_update += 1
        latencies: list[float] = []
        started = time.perf_counter()
        for offset in range(0, count, batch):
            handed_in = time.perf_counter()
            chunk = updates[offset : offset + batch]
            for raw in chunk:
                await self.app.process_update(Update.de_json(raw, self.app.bot))
            latencies += [time.perf_counter() - handed_in] * len(chunk)
        return latencies, time.perf_counter() - started


# -- the bot child ----------------------------------------------------------------------------


class Ours:
    """The bot with its Telegram channel, and workers standing at every step the mix needs."""

    def __init__(self, database: str | None, directory: str) -> None:
        self.url = database or f"sqlite+aiosqlite:///{Path(directory) / 'bench.sqlite3'}"
        self.directory = directory
        self.api = LocalBotApi()
        self.api.keep_texts = True
        self.next_update = 1
        self.next_user = 30_000_000
        self.random = random.Random(7)
        self.drafting: dict[int, int] = {}  # worker -> draft messages left
        self.reviewing: list[int] = []
        self.asking_status: list[int] = []
        self.asking_faq: list[int] = []
        self.receipts: list[str] = []

    async def start(self) -> None:
        from bot.channels.telegram.adapter import TelegramAdapter
        from bot.channels.telegram.channel import TelegramChannel
        from bot.config import Config
        from bot.core import build_core, load_faq
        from storage.conversations import trace_store
        from storage.crypto import KeyRing
        from storage.journal import UpdateJournal

        config = Config.model_validate({"storage": {"url": self.url}, "bot": {"data_dir": self.directory}})
        core = await build_core(config, keyring=KeyRing.generate(), faq=load_faq(config))
        self.core = core
        self.channel = TelegramChannel(
            application(self.api), core.dispatcher, core.database, UpdateJournal(core.crypto),
            TelegramAdapter(core.crypto, list(core.services.settings.sites)), trace_store(core.crypto),
        )
        await self.channel.application.initialize()
        self.pragmas = await self.core.database.pragmas()

    # updates -------------------------------------------------------------------------------

    def _text(self, user_id: int, text: str) -> dict[str, Any]:
        self.next_update += 1
        return text_update(self.next_update, user_id, self.api.next_id(user_id), text)

    def _tap(self, user_id: int, choice: str) -> dict[str, Any]:
        self.next_update += 1
        shown = self.api.sent[user_id][-1][0] if self.api.sent[user_id] else 1
        user = {"id": user_id, "is_bot": False, "first_name": "W", "language_code": "zh"}
        message = {"message_id": shown, "date": int(time.time()), "chat": {"id": user_id, "type": "private"},
                   "from": BOT_USER, "text": "…"}
        data = self.channel._adapter.callback_data(user_id, choice)
        return {"update_id": self.next_update,
                "callback_query": {"id": f"q{self.next_update}", "from": user, "chat_instance": "1",
                                   "message": message, "data": data}}

    def _step(self, user_id: int, step: dict[str, str]) -> dict[str, Any]:
        return self._tap(user_id, step["choice"]) if "choice" in step else self._text(user_id, step["text"])

    def _new_user(self) -> int:
        self.next_user += 1
        return self.next_user

    async def _feed(self, updates: list[dict[str, Any]], batch: int) -> None:
        for offset in range(0, len(updates), batch):
            await self.channel.ingest(updates[offset : offset + batch])
            await self.channel.process_pending()

    async def _prepare_in_waves(self, scripts: dict[int, list[dict[str, str]]]) -> None:
        """Step k of every worker's script in one untimed wave, so each finds its choice offered."""
        longest = max((len(s) for s in scripts.values()), default=0)
        for index in range(longest):
            wave = [self._step(u, s[index]) for u, s in scripts.items() if index < len(s)]
            await self._feed(wave, 100)

    # preparation (not timed) ----------------------------------------------------------------

    async def prepare(self, plan: dict[str, int]) -> None:
        from tests.flows import report_script

        scripts: dict[int, list[dict[str, str]]] = {}
        needed_drafts = plan["draft"] - sum(self.drafting.values())
        while needed_drafts > 0:
            user = self._new_user()
            scripts[user] = [{"text": "/start"}, {"choice": "report"}, {"choice": "agree"}]
            self.drafting[user] = DRAFT_MESSAGES_PER_WORKER
            needed_drafts -= DRAFT_MESSAGES_PER_WORKER
        reviewers = [self._new_user() for _ in range(max(0, plan["submit"] - len(self.reviewing)))]
        receipt_makers = [self._new_user() for _ in range(0 if self.receipts else max(1, plan["status"]))]
        for user in reviewers + receipt_makers:
            scripts[user] = [{"text": "/start"}, *report_script(["组长在车间里动手动脚"])[:-1]]
        for _ in range(max(0, plan["faq"] // 4 + 1 - len(self.asking_faq))):
            user = self._new_user()
            scripts[user] = [{"text": "/start"}, {"text": "/faq"}]
            self.asking_faq.append(user)
        await self._prepare_in_waves(scripts)
        self.reviewing += reviewers
        if receipt_makers:
            await self._feed([self._tap(u, "submit") for u in receipt_makers], 100)
            self._harvest(receipt_makers)
        lookers = [self._new_user() for _ in range(plan["status"])]
        await self._prepare_in_waves({u: [{"text": "/start"}, {"text": "/status"}] for u in lookers})
        self.asking_status = lookers

    def _harvest(self, users: list[int]) -> None:
        from tests.flows import RECEIPT_LINE

        for user in users:
            found = [m for _, text in self.api.sent[user] for m in RECEIPT_LINE.findall(text)]
            self.receipts += found[-1:]

    # a timed round --------------------------------------------------------------------------

    def plan(self, count: int, workload: str) -> dict[str, int]:
        if workload == "drafts":
            return {"new": 0, "draft": count, "submit": 0, "status": 0, "faq": 0}
        plan = {kind: count * share // 100 for kind, share in MIX.items()}
        plan["draft"] += count - sum(plan.values())
        return plan

    def traffic(self, plan: dict[str, int]) -> list[dict[str, Any]]:
        updates: list[dict[str, Any]] = []
        updates += [self._text(self._new_user(), "/start") for _ in range(plan["new"])]
        drafters = [u for u, left in self.drafting.items() for _ in range(left)]
        self.random.shuffle(drafters)
        for user in drafters[: plan["draft"]]:
            self.drafting[user] -= 1
            updates.append(self._text(user, f"他又说了那些话（{self.drafting[user]}）"))
        self.drafting = {u: left for u, left in self.drafting.items() if left > 0}
        submitters, self.reviewing = self.reviewing[: plan["submit"]], self.reviewing[plan["submit"] :]
        updates += [self._tap(u, "submit") for u in submitters]
        updates += [self._text(u, self.random.choice(self.receipts)) for u in self.asking_status[: plan["status"]]]
        updates += [self._text(self.random.choice(self.asking_faq), self.random.choice(QUESTIONS))
                    for _ in range(plan["faq"])]
        self.random.shuffle(updates)
        self._submitters = submitters
        return updates

    async def round(self, count: int, batch: int, workload: str) -> tuple[list[float], float]:
        plan = self.plan(count, workload)
        await self.prepare(plan)
        updates = self.traffic(plan)
        latencies: list[float] = []
        started = time.perf_counter()
        for offset in range(0, len(updates), batch):
            handed_in = time.perf_counter()
            chunk = updates[offset : offset + batch]
            await self.channel.ingest(chunk)
            await self.channel.process_pending()
            latencies += [time.perf_counter() - handed_in] * len(chunk)
        elapsed = time.perf_counter() - started
        self._harvest(self._submitters)
        return latencies, elapsed


async def child(role: str, database: str | None) -> None:
    with tempfile.TemporaryDirectory() as directory:
        if role == "ours":
            like_hapbot_run(directory)
        worker: Echo | Ours = Echo() if role == "echo" else Ours(database, directory)
        await worker.start()
        settings = getattr(worker, "pragmas", {})
        print(json.dumps({"ready": True, "settings": settings, **memory_kib()}), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            request = json.loads(line)
            latencies, elapsed = await worker.round(request["count"], request["batch"], request["workload"])
            print(json.dumps({"latencies": latencies, "elapsed": elapsed, **memory_kib()}), flush=True)


# -- the parent -------------------------------------------------------------------------------


class Child:
    def __init__(self, role: str, process: asyncio.subprocess.Process) -> None:
        self.role, self.process = role, process

    @classmethod
    async def start(cls, role: str, database: str | None, script: str = __file__) -> tuple[Child, dict[str, Any]]:
        """Starts ``script --child role`` (this file by default); returns it and its first answer."""
        arguments = [sys.executable, script, "--child", role] + (["--database", database] if database else [])
        process = await asyncio.create_subprocess_exec(
            *arguments, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**26
        )
        me = cls(role, process)
        return me, await me.read()

    async def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.role} child stopped")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def round(self, count: int, batch: int, workload: str) -> dict[str, Any]:
        return await self.ask({"count": count, "batch": batch, "workload": workload})

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.read()

    async def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def describe(latencies: list[float], elapsed: float) -> str:
    return (f"{len(latencies) / elapsed:8.0f} updates/s   p50 {statistics.median(latencies) * 1000:7.1f} ms"
            f"   p99 {percentile(latencies, 0.99) * 1000:7.1f} ms")


async def compare(args: argparse.Namespace) -> None:
    ours, ready = await Child.start("ours", args.database)
    echo, _ = await Child.start("echo", None)
    print(f"load average at start: {load_average()}   cores: {os.cpu_count()}")
    print("database: " + ("postgresql" if args.database else "sqlite") + "; "
          + ", ".join(f"{k}={v}" for k, v in ready["settings"].items()))
    print(f"idle RSS after start: ours {ready['VmRSS'] / 1024:.0f} MiB")
    last: dict[str, dict[str, Any]] = {}
    try:
        for workload in args.workload.split(","):
            for batch in (int(b) for b in args.batches.split(",")):
                per_round = max(batch, min(args.round, args.samples))
                rounds = -(-args.samples // per_round)
                results: dict[str, tuple[list[float], float]] = {"ours": ([], 0.0), "echo": ([], 0.0)}
                for _ in range(rounds):  # A B A B: both see the same load
                    for child_process in (ours, echo):
                        answer = await child_process.round(per_round, batch, workload)
                        latencies, elapsed = results[child_process.role]
                        results[child_process.role] = (latencies + answer["latencies"], elapsed + answer["elapsed"])
                        last[child_process.role] = answer
                ours_rate = len(results["ours"][0]) / results["ours"][1]
                echo_rate = len(results["echo"][0]) / results["echo"][1]
                print(f"[{workload}, batch {batch:3d}, {len(results['ours'][0])} samples each, {rounds} rounds ABAB,"
                      f" load {load_average()}]")
                print(f"  echo (bare PTB): {describe(*results['echo'])}")
                print(f"  ours (durable) : {describe(*results['ours'])}   ours/echo = {ours_rate / echo_rate:.3f}")
    finally:
        await ours.stop()
        await echo.stop()
    for role in ("ours", "echo"):
        if role in last:
            print(f"RSS of the {role} process: now {last[role]['VmRSS'] / 1024:.0f} MiB,"
                  f" peak {last[role]['VmHWM'] / 1024:.0f} MiB")
    print(f"load average at end: {load_average()}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workload", default="mixed,drafts", help="mixed and/or drafts, comma-separated")
    parser.add_argument("--batches", default="1,10,100", help="updates per journal commit, comma-separated")
    parser.add_argument("--samples", type=int, default=1000, help="timed updates per batch size and side")
    parser.add_argument("--round", type=int, default=200, help="updates per round (rounds alternate ours/echo)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--database", help="a postgresql+asyncpg:// URL instead of a temporary SQLite file")
    parser.add_argument("--child", choices=["ours", "echo"], help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        asyncio.run(child(arguments.child, arguments.database))
    else:
        asyncio.run(compare(arguments))
