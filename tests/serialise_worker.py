"""A separate bot process for the cross-process serialisation test.

``python -m tests.serialise_worker URL KEYS_FILE USER TAG COUNT START_AT`` waits until the wall
clock reaches START_AT (so two processes start together), then sends COUNT messages as USER.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from bot.core import build_core
from storage.keys import load_key_file

from .conftest import Worker, make_config


async def main(url: str, keys_file: str, user: str, tag: str, count: int, start_at: float) -> None:
    config = make_config(url, Path(keys_file).parent)
    runtime = await build_core(config, keyring=load_key_file(Path(keys_file)))
    try:
        worker = Worker(runtime, user)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        for index in range(count):
            await worker.send(f"{tag}-{index}")
            assert "Saved" in worker.text, worker.text
    finally:
        await runtime.close()


if __name__ == "__main__":
    url, keys_file, user, tag, count, start_at = sys.argv[1:7]
    asyncio.run(main(url, keys_file, user, tag, int(count), float(start_at)))
