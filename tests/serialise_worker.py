"""A separate bot process for the cross-process serialisation test.

``python -m tests.serialise_worker URL KEYS_FILE USER TAG COUNT`` starts the bot, prints ``ready``,
waits for a line on stdin (the test sends it to both processes once both are ready, so they start
together however long each took to start), then sends COUNT messages as USER.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.core import build_core
from storage.keys import load_key_file

from .conftest import Worker, make_config


async def main(url: str, keys_file: str, user: str, tag: str, count: int) -> None:
    config = make_config(url, Path(keys_file).parent)
    runtime = await build_core(config, keyring=load_key_file(Path(keys_file)))
    try:
        worker = Worker(runtime, user)
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        for index in range(count):
            await worker.send(f"{tag}-{index}")
            assert "Saved" in worker.text, worker.text
    finally:
        await runtime.close()


if __name__ == "__main__":
    url, keys_file, user, tag, count = sys.argv[1:6]
    asyncio.run(main(url, keys_file, user, tag, int(count)))
