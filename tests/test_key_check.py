"""Keys that do not belong to the store stop the start with one line, exit 2, and change nothing.

The refused starts run the real ``python -m bot chat --json`` in a subprocess (as tests/test_cli.py
does) and compare the SQLite files byte for byte before and after; the starts that only prepare
the store run the same CLI in this process (tests/cli_kit.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import delete

from bot.config import Config
from bot.core import build_core
from storage.crypto import Crypto, KeyRing
from storage.database import Database
from storage.key_check import read_records, verify_store_keys
from storage.keys import KeyFileError, add_master_key, create_key_file
from storage.models import KeyCheckRecord

from .cli_kit import hapbot_in_process
from .conftest import Worker, seed_faq_cache
from .test_cli import GOOD_SITE, environment, hapbot, json_lines, parse_stdout

SCRIPT = json_lines([{"text": "/start"}, {"choice": "report"}, {"choice": "agree"}, {"text": "he follows me"}])


def store_files(database: Path) -> dict[str, bytes]:
    """Every file of the SQLite store (main file, WAL and shared memory if present), by name."""
    return {path.name: path.read_bytes() for path in sorted(database.parent.glob(database.name + "*"))}


class Installation:
    """A configured installation in ``tmp_path``: config.toml naming a key file, a SQLite store."""

    def __init__(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.keys = tmp_path / "secrets" / "keys.json"
        self.database = tmp_path / "store" / "hapbot.sqlite3"
        (tmp_path / "config.toml").write_text(f'[storage]\nkeys_file = "{self.keys}"\n\n{GOOD_SITE}', encoding="utf-8")
        self.env = environment(f"sqlite+aiosqlite:///{self.database}")

    async def chat(self, script: bytes = SCRIPT) -> tuple[int, str, str]:
        """A start in a process of its own, as an operator runs it."""
        return await hapbot(["chat", "--json", "--lang", "en"], self.directory, self.env, script)

    async def chat_in_process(self, script: bytes = SCRIPT) -> tuple[int, str, str]:
        """The same start through ``bot.cli.main`` in this process (tests/cli_kit.py), for the
        starts that only prepare the store; the refused starts under test run in real processes."""
        return await hapbot_in_process(["chat", "--json", "--lang", "en"], self.directory, self.env, script)

    async def refused(self, expected: str) -> str:
        """Runs a start that must be refused; returns its one line after checking nothing changed."""
        before = store_files(self.database)
        code, stdout, stderr = await self.chat()
        assert code == 2, (code, stderr[-2000:])
        assert stdout == ""
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, f"expected one line, got: {stderr!r}"
        assert lines[0].startswith("hapbot: ") and expected in lines[0], lines[0]
        assert "Traceback" not in stderr
        assert store_files(self.database) == before, "a refused start changed the store"
        assert not (self.directory / "data" / "keys").exists(), "development keys were created"
        return lines[0]


@pytest.fixture
async def installation(tmp_path: Path, warm_faq_cache: Path) -> Installation:
    """An installation that has run once: its store holds a report and a key-check record."""
    made = Installation(tmp_path)
    seed_faq_cache(warm_faq_cache, tmp_path / "data")
    create_key_file(made.keys)
    code, stdout, stderr = await made.chat_in_process()
    assert code == 0, stderr[-2000:]
    assert parse_stdout(stdout)
    assert made.database.is_file()
    return made


async def test_a_configured_but_missing_key_file_refuses_to_start(installation: Installation) -> None:
    installation.keys.unlink()
    line = await installation.refused("key file not found")
    assert str(installation.keys) in line
    assert not installation.keys.exists(), "a missing key file must not be created"


async def test_the_wrong_key_file_refuses_to_start(installation: Installation) -> None:
    create_key_file(installation.keys, overwrite=True)
    line = await installation.refused("does not belong to this database")
    assert str(installation.keys) in line and "wrong key file" in line


async def test_a_key_file_missing_a_key_the_store_uses_refuses_to_start(installation: Installation) -> None:
    backup = installation.directory / "backup-keys.json"
    shutil.copy2(installation.keys, backup)
    new_key = add_master_key(installation.keys)
    code, _stdout, stderr = await installation.chat_in_process()  # the store now uses the new key as well
    assert code == 0, stderr[-2000:]
    shutil.copy2(backup, installation.keys)  # an old backup of the key file comes back
    line = await installation.refused(f"lacks master key {new_key}")
    assert "old or incomplete key file" in line


async def test_same_keys_start_again_and_the_report_goes_on(installation: Installation) -> None:
    code, _stdout, stderr = await installation.chat(json_lines([{"text": "/start"}]))
    assert code == 0, stderr[-2000:]
    assert "DEVELOPMENT" not in stderr


async def test_development_keys_only_when_nothing_is_configured(tmp_path: Path, warm_faq_cache: Path) -> None:
    database = tmp_path / "dev.sqlite3"
    seed_faq_cache(warm_faq_cache, tmp_path / "data")
    env = environment(f"sqlite+aiosqlite:///{database}")
    script = json_lines([{"text": "/start"}, {"choice": "report"}, {"choice": "agree"}, {"text": "he follows me"}])
    code, _stdout, stderr = await hapbot_in_process(["chat", "--json"], tmp_path, env, script)
    assert code == 0 and "DEVELOPMENT KEYS" in stderr
    shutil.rmtree(tmp_path / "data" / "keys")  # the development keys are lost: new ones cannot open the store
    before = store_files(database)
    code, stdout, stderr = await hapbot(["chat", "--json"], tmp_path, env, script)
    assert code == 2 and stdout == ""
    assert "hapbot: development key file" in stderr and "does not belong to this database" in stderr
    assert store_files(database) == before


async def keyring_start(config: Config, keyring: KeyRing) -> None:
    core = await build_core(config, keyring=keyring)
    await core.close()


async def test_the_store_check_on_both_databases(config: Config, keyring: KeyRing) -> None:
    await keyring_start(config, keyring)
    database = Database(config.storage_url)
    try:
        assert set(await read_records(database)) == {keyring.current_master_id}
        other = KeyRing.generate()
        with pytest.raises(KeyFileError, match="does not belong to this database"):
            await keyring_start(config, other)
        same_id = KeyRing({keyring.current_master_id: other.master_keys[other.current_master_id]},
                          keyring.current_master_id, keyring.pseudonym_keys)
        with pytest.raises(KeyFileError, match=f"master key {keyring.current_master_id} is not the one"):
            await keyring_start(config, same_id)
        other_pseudonyms = KeyRing(keyring.master_keys, keyring.current_master_id, other.pseudonym_keys)
        with pytest.raises(KeyFileError, match="pseudonym keys are not the ones"):
            await keyring_start(config, other_pseudonyms)
        rotated = keyring.with_new_master_key()
        await keyring_start(config, rotated)
        assert set(await read_records(database)) == set(rotated.master_keys)
        with pytest.raises(KeyFileError, match=f"lacks master key {rotated.current_master_id}"):
            await keyring_start(config, keyring)
        assert set(await read_records(database)) == set(rotated.master_keys), "a refused start wrote a record"
    finally:
        await database.dispose()


async def test_a_store_from_before_the_records_is_checked_against_its_data(config: Config, keyring: KeyRing) -> None:
    """A store that holds sealed data but no record yet (made before this check existed)."""
    core = await build_core(config, keyring=keyring)
    try:
        worker = Worker(core, "early-reporter")
        await worker.send("/start")
        await worker.choose("report")
    finally:
        await core.close()
    database = Database(config.storage_url)
    try:
        async with database.transaction() as session:
            await session.execute(delete(KeyCheckRecord))
        with pytest.raises(KeyFileError, match="does not belong to this database"):
            await verify_store_keys(database, Crypto(KeyRing.generate()), "test keys")
        assert await read_records(database) == {}
        await verify_store_keys(database, Crypto(keyring), "test keys")
        assert set(await read_records(database)) == {keyring.current_master_id}
    finally:
        await database.dispose()
