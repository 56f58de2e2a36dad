"""Resident memory of the ``hapbot run`` process: idle when ready, and its peak under 100 workers.

Starts the real process (``python -m bot run``) with every channel on, as bench/start_time.py
does: Telegram in webhook mode against the Bot API emulator of the tests (it delivers each update
to the bot's ``/telegram``), WeChat, SQLite in a temporary directory. One untimed start first
creates the keys, the schema and the FAQ cache, as a deployment's first start would; the figures
come from a second start. Reads the bot process's own /proc/<pid>/status (VmRSS, VmHWM), never
this process's, sampled every 20 ms.

Phases, with ``--workers`` (default 100) Telegram workers at once:

1. idle: ready, then ``--idle`` seconds with nothing to do;
2. drafting: every worker goes from /start through the privacy notice, a three-line account and
   every question to the review (no receipt hashing yet);
3. submitting: every worker taps "Submit" at once: the case is sealed, a receipt hashed with
   argon2id (``storage/receipts.py``; its memory is the hasher's ``memory_cost`` per hash running
   at once), the alert queued;
4. FAQ: every worker asks one question.

Prints VmRSS at idle, the highest VmRSS sampled in each phase with its rise over the phase before
(the submitting rise is what the receipt hashing adds, with the case and alert work beside it),
VmHWM at the end, the argon2 parameters, and the load average.

Usage: python bench/memory.py [--workers 100] [--idle 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from start_time import free_port, readyz, write_config  # noqa: E402

from tests.flows import report_script  # noqa: E402
from tests.telegram_emulator import TelegramEmulator  # noqa: E402

STORY = ["组长在车间里动手动脚", "上周三下班的时候", "旁边的同事也看到了"]
QUESTION = "举报以后会被报复吗"
SEPARATOR = "|"  # bot.channels.telegram.adapter.CALLBACK_SEPARATOR: "<choice id>|<tag>"


def status_kib(pid: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            found[name] = int(value.split()[0])
    return found


class Sampler:
    """The bot process's VmRSS every 20 ms; the highest since the last ``take``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.highest = 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.highest = max(self.highest, status_kib(self.pid)["VmRSS"])
            await asyncio.sleep(0.02)

    def take(self) -> int:
        highest, self.highest = max(self.highest, status_kib(self.pid)["VmRSS"]), 0
        return highest

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class Replies:
    """How many messages the bot has sent to each chat, from one poll of the emulator's call log."""

    def __init__(self, emu: TelegramEmulator) -> None:
        self.emu = emu
        self.sent: dict[int, int] = defaultdict(int)
        self.seen = 0
        self.changed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            calls = await asyncio.to_thread(self.emu.calls, "sendMessage")
            for call in calls[self.seen :]:
                self.sent[int(call["params"]["chat_id"])] += 1
            if len(calls) > self.seen:
                self.seen = len(calls)
                self.changed.set()
                self.changed = asyncio.Event()
            await asyncio.sleep(0.1)

    async def after(self, chat: int, before: int, seconds: float = 900) -> None:
        deadline = time.monotonic() + seconds
        while self.sent[chat] <= before:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply in chat {chat} within {seconds} s")
            await asyncio.wait_for(self.changed.wait(), seconds)
        await asyncio.sleep(0.3)  # the rest of the update's replies

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def step(emu: TelegramEmulator, replies: Replies, user: int, action: dict[str, str]) -> None:
    """Writes a text, or taps the button whose callback data names the choice, then waits for the reply."""
    before = replies.sent[user]
    if "text" in action:
        await asyncio.to_thread(emu.send_text, user, action["text"])
    else:
        for _ in range(600):  # the message with the buttons may be the second of the reply, still on its way
            messages = await asyncio.to_thread(emu.visible_messages, user)
            for message in reversed(messages):
                for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                    for button in row:
                        if str(button.get("callback_data", "")).rpartition(SEPARATOR)[0] == action["choice"]:
                            await asyncio.to_thread(
                                emu.tap_button, user, user, message["message_id"], button["callback_data"]
                            )
                            await replies.after(user, before)
                            return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"no {action['choice']!r} button in chat {user}")
    await replies.after(user, before)


async def everyone(emu: TelegramEmulator, replies: Replies, users: list[int], actions: list[dict[str, str]]) -> None:
    async def one(user: int) -> None:
        for action in actions:
            await step(emu, replies, user, action)

    await asyncio.gather(*(one(user) for user in users))


async def start_bot(config: Path, port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "run", cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    while await readyz(port) != 200:
        if process.returncode is not None:
            assert process.stderr is not None
            raise RuntimeError("hapbot run stopped: " + (await process.stderr.read()).decode()[-2000:])
        await asyncio.sleep(0.01)
    return process


async def stop_bot(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        await asyncio.wait_for(process.wait(), 60)


def mib(kib: int) -> str:
    return f"{kib / 1024:6.1f} MiB"


async def main(args: argparse.Namespace) -> None:
    from storage.receipts import ReceiptHasher

    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}   cores: {os.cpu_count()}")
    with TelegramEmulator() as emu, tempfile.TemporaryDirectory() as directory:
        port = free_port()
        config = write_config(Path(directory), emu, port)
        await stop_bot(await start_bot(config, port))  # first start: keys, schema, FAQ cache
        process = await start_bot(config, port)
        sampler = Sampler(process.pid)
        replies = Replies(emu)
        print(f"bot process ({args.workers} Telegram workers at once, every channel on, SQLite):", flush=True)
        try:
            await asyncio.sleep(args.idle)
            idle = status_kib(process.pid)
            sampler.take()
            print(f"  idle, {args.idle:g} s after ready:  VmRSS {mib(idle['VmRSS'])}  (anon {mib(idle['RssAnon'])}, "
                  f"file {mib(idle['RssFile'])}), VmHWM so far {mib(idle['VmHWM'])}", flush=True)
            users = [int(emu.create_user(f"W{n}", language_code="zh")["id"]) for n in range(args.workers)]
            started = time.perf_counter()
            await everyone(emu, replies, users, [{"text": "/start"}, *report_script(STORY)[:-1]])
            drafting = sampler.take()
            rise = (drafting - idle["VmRSS"]) / 1024
            print(f"  drafting to the review:     peak VmRSS {mib(drafting)}  (+{rise:.1f} over idle)  "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            started = time.perf_counter()
            await everyone(emu, replies, users, [{"choice": "submit"}])
            submitting = sampler.take()
            print(f"  submitting (argon2id):      peak VmRSS {mib(submitting)}  "
                  f"(+{(submitting - drafting) / 1024:.1f} over drafting)  {time.perf_counter() - started:.1f} s",
                  flush=True)
            started = time.perf_counter()
            await everyone(emu, replies, users, [{"text": "/faq"}, {"text": QUESTION}])
            asking = sampler.take()
            print(f"  FAQ questions:              peak VmRSS {mib(asking)}  {time.perf_counter() - started:.1f} s")
            end = status_kib(process.pid)
            print(f"  at the end: VmRSS {mib(end['VmRSS'])}, VmHWM (peak of the whole run) {mib(end['VmHWM'])}")
        finally:
            await replies.stop()
            await sampler.stop()
            await stop_bot(process)
    hasher: Any = ReceiptHasher()._hasher
    print(f"argon2id: memory_cost {hasher.memory_cost} KiB, time_cost {hasher.time_cost}, "
          f"parallelism {hasher.parallelism}: each hash running at once holds {hasher.memory_cost / 1024:.0f} MiB")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--idle", type=float, default=2.0)
    asyncio.run(main(parser.parse_args()))
