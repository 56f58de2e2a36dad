"""storage.database: the SQLite database and its -wal and -shm files are the bot user's alone."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core import build_core
from storage.database import Database
from storage.receipts import ReceiptHasher

from .conftest import Worker, make_config


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022 umask, under which files are created readable by all unless we say otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("usual_umask")
async def test_first_start_creates_the_database_wal_and_shm_0600_in_a_0700_directory(
    tmp_path: Path, receipt_hasher: ReceiptHasher
) -> None:
    """The default first start: development keys in data/keys first, then the database in data/."""
    data_dir = tmp_path / "data"
    database = data_dir / "hapbot.sqlite3"
    runtime = await build_core(make_config(f"sqlite+aiosqlite:///{database}", data_dir), hasher=receipt_hasher)
    try:
        await Worker(runtime, "worker-1").send("/start")
        wal, shm = database.with_name("hapbot.sqlite3-wal"), database.with_name("hapbot.sqlite3-shm")
        assert wal.exists() and shm.exists(), "WAL mode keeps -wal and -shm while a connection is open"
        assert {path.name: mode(path) for path in (database, wal, shm)} == {
            "hapbot.sqlite3": "0o600",
            "hapbot.sqlite3-wal": "0o600",
            "hapbot.sqlite3-shm": "0o600",
        }
        assert (mode(data_dir), mode(data_dir / "keys")) == ("0o700", "0o700")
    finally:
        await runtime.close()


@pytest.mark.usefixtures("usual_umask")
async def test_an_existing_database_others_can_read_is_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "old.sqlite3"
    database.touch(mode=0o644)
    with caplog.at_level(logging.WARNING, logger="storage.database"):
        await Database(f"sqlite+aiosqlite:///{database}").dispose()
    assert [record.getMessage() for record in caplog.records] == [
        f"database file {database} has mode 0o644: other users can read it; run `chmod 600 {database}`"
    ]
    assert mode(database) == "0o644", "an existing file's mode is the administrator's to change"


@pytest.mark.usefixtures("usual_umask")
async def test_missing_parents_are_made_0700_and_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    await Database(f"sqlite+aiosqlite:///{shared / 'srv' / 'hapbot' / 'hapbot.sqlite3'}").dispose()
    assert [mode(path) for path in (shared, shared / "srv", shared / "srv" / "hapbot")] == ["0o755", "0o700", "0o700"]
    assert mode(shared / "srv" / "hapbot" / "hapbot.sqlite3") == "0o600"
