"""Messages of one worker never interleave, even from two bot processes sharing one PostgreSQL.

Two processes append to the same worker's draft at the same moment; every message must survive.
Without the per-worker lock, their read-modify-write of the sealed state would lose updates.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

import pytest

from bot.core import build_core
from storage.keys import create_key_file

from .conftest import Worker, conversation_with_account, create_pg_database, drop_pg_database, make_config

PER_PROCESS = 12
ROOT = Path(__file__).resolve().parents[1]


async def start_process(url: str, keys: Path, tag: str) -> asyncio.subprocess.Process:
    """A bot process sending as the shared worker, once it has printed that it is ready."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.serialise_worker", url, str(keys), "shared-worker", tag, str(PER_PROCESS),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    ready = await asyncio.wait_for(process.stdout.readline(), timeout=120)
    if ready != b"ready\n":
        _, stderr = await process.communicate()
        raise AssertionError(stderr.decode()[-2000:])
    return process


async def finish(process: asyncio.subprocess.Process) -> None:
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()[-2000:]


@pytest.mark.slow
@pytest.mark.postgres
async def test_two_processes_never_lose_a_message_of_one_worker(tmp_path: Path) -> None:
    url = await create_pg_database()
    keys = tmp_path / "keys" / "keys.json"
    keyring = create_key_file(keys)
    try:
        # Wall clock, and the workers' data folder: all three processes share its audit key.
        runtime = await build_core(make_config(url, keys.parent), keyring=keyring)
        worker = Worker(runtime, "shared-worker")
        await worker.send("/start")
        await worker.choose("report")
        await worker.choose("agree")
        processes = await asyncio.gather(start_process(url, keys, "alpha"), start_process(url, keys, "beta"))
        for process in processes:  # both are ready: let them go together
            assert process.stdin is not None
            process.stdin.write(b"go\n")
        await asyncio.gather(*(finish(process) for process in processes))
        async with runtime.database.transaction(write=False) as session:
            state = await conversation_with_account(runtime.crypto, session, worker.user_key)
        await runtime.close()
        assert state is not None
        what = state["draft"]["what"]
        expected = {f"{tag}-{i}" for tag in ("alpha", "beta") for i in range(PER_PROCESS)}
        assert sorted(what) == sorted(expected), f"lost {sorted(expected - set(what))}"
        for tag in ("alpha", "beta"):
            mine = [line for line in what if line.startswith(tag)]
            assert mine == [f"{tag}-{i}" for i in range(PER_PROCESS)], "one process's messages out of order"
        interleaved = any(a.split("-")[0] != b.split("-")[0] for a, b in itertools.pairwise(what))
        assert interleaved, "the processes did not overlap, so the test proved nothing; raise PER_PROCESS"
    finally:
        await drop_pg_database(url)
