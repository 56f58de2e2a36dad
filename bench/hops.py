"""How many hops a worker's Telegram message takes through our code, channel to committed reply.

A hop is a distinct call edge from a function in one of our files (``bot/``, ``handlers/``,
``storage/``) to a function in another of our files; calls within a file, and calls into libraries
(PTB, SQLAlchemy), are not hops, and an edge taken many times (a loop) counts once. Also printed:
the distinct functions so entered (a function reached from two places counts once: the count that
comes closest to the issue's "about 34 hops through 16 files", 32 through 15 files on 1c07612, the
commit before the layout), the total of cross-file calls, and the files.

The message is a worker's "what happened" text in the middle of a report, fed through the real PTB
Application, our journal, the core and the reply, with the Bot API answered in-process
(``telegram_updates.LocalBotApi``). Counted with ``sys.setprofile`` over one update, after a
warm-up update, so first-use imports and caches do not count.

Usage: python bench/hops.py [--edges]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from telegram_updates import LocalBotApi, application, updates_for  # noqa: E402

from bot.config import Config  # noqa: E402
from storage.crypto import KeyRing  # noqa: E402
from storage.journal import UpdateJournal  # noqa: E402

try:
    from bot.channels.telegram.adapter import TelegramAdapter
    from bot.channels.telegram.channel import TelegramChannel
    from bot.core import build_core
    from storage.conversations import trace_store as traces_store
except ImportError:  # the layout before bot/channels/telegram/ (for the before figure)
    from bot.channels.telegram_adapter import TelegramAdapter  # type: ignore[no-redef]
    from bot.runtime import build_runtime as build_core  # type: ignore[no-redef]

    from bot.channels.telegram import TelegramChannel, traces_store  # type: ignore[no-redef]

OURS = tuple(str(ROOT / folder) + "/" for folder in ("bot", "handlers", "storage"))


class HopCounter:
    def __init__(self) -> None:
        self.hops = 0
        self.files: Counter[str] = Counter()
        self.entries: Counter[str] = Counter()
        self.edges: set[tuple[str, str]] = set()
        self.callees: set[str] = set()

    def __call__(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        callee = frame.f_code.co_filename
        if not callee.startswith(OURS):
            return
        caller_frame = frame.f_back
        while caller_frame is not None and not caller_frame.f_code.co_filename.startswith(OURS):
            caller_frame = caller_frame.f_back
        name = callee[len(str(ROOT)) + 1 :]
        self.files[name] += 1
        caller = caller_frame.f_code.co_filename if caller_frame is not None else None
        if caller is not None and caller_frame is not None and caller != callee:
            self.hops += 1
            self.entries[name] += 1
            self.edges.add((f"{caller}:{caller_frame.f_code.co_name}", f"{callee}:{frame.f_code.co_name}"))
            self.callees.add(f"{callee}:{frame.f_code.co_name}")


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'hops.sqlite3'}"
        config = Config.model_validate({"storage": {"url": url}, "bot": {"data_dir": directory}})
        core = await build_core(config, keyring=KeyRing.generate())
        app = application(LocalBotApi())
        channel = TelegramChannel(
            app, core.dispatcher, core.database, UpdateJournal(core.crypto),
            TelegramAdapter(core.crypto, list(core.services.settings.sites)), traces_store(core.crypto),
        )
        await app.initialize()
        for index, text in enumerate(["/start", "举报"]):
            setup = updates_for(1, 1, start_id=1_000 + index)
            setup[0]["message"]["text"] = text
            await channel.ingest(setup)
            await channel.process_pending()
        key = channel._adapter.user_key(10_000_000)
        async with core.database.transaction() as session:
            document = await core.services.conversations.load(session, key) or {}
            document.update({"state": "report.what", "draft": {"what": []},
                             "draft_expires_at": time.time() + 86400, "offered": ["done", "danger"]})
            await core.services.conversations.save(session, key, document, int(time.time() // 3600) + 48)
        await channel.ingest(updates_for(1, 1, start_id=2_000))  # warm-up
        await channel.process_pending()
        counter = HopCounter()
        update = updates_for(1, 1, start_id=3_000)
        sys.setprofile(counter)
        try:
            await channel.ingest(update)
            await channel.process_pending()
        finally:
            sys.setprofile(None)
        await app.shutdown()
        await core.close()
    channel_file = next(name for name in counter.files if ("telegram" in name and name.endswith("channel.py"))
                        or name.endswith("channels/telegram.py"))
    print(f"hops (distinct cross-file call edges, function to function): {len(counter.edges)}")
    print(f"functions entered from another of our files (distinct): {len(counter.callees)}")
    print(f"cross-file calls made (every call counted): {counter.hops}")
    file_edges = {(caller.rsplit(":", 1)[0], callee.rsplit(":", 1)[0]) for caller, callee in counter.edges}
    print(f"file-to-file edges (distinct): {len(file_edges)}")
    print(f"files of ours entered: {len(counter.files)}")
    print(f"entries into {channel_file}: {counter.entries[channel_file]}")
    for name, count in counter.entries.most_common():
        print(f"  {count:3d}  {name}")
    if "--edges" in sys.argv:
        root = str(ROOT) + "/"
        for caller, callee in sorted(counter.edges):
            print(f"  {caller.replace(root, '')} -> {callee.replace(root, '')}")


if __name__ == "__main__":
    asyncio.run(main())
