"""Master key rotation for real: re-seal online, resume, show dependents, retire, and old backups die.

The bot runs from a key file throughout (as in production), keeps serving while the store is
re-sealed under it, and after the old key is retired everything still opens; while a copy of the
database taken before the rotation, with the key file now in use, opens nothing of a case deleted
since.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.core import Core, build_core
from handlers.faq.service import LibraryFaqService
from storage.cases import Author, CaseStatus
from storage.crypto import Binding, Crypto, DecryptionError, master_key_id_of
from storage.database import Database, sqlite_path
from storage.evidence import hour_number
from storage.keys import KeyFileError, create_key_file, load_key_file
from storage.master_keys import retire, rotate, status
from storage.messages import CaseAlert
from storage.models import Base, DraftFile, OutboxItem, PlatformToken
from storage.rotation import find_dependents, sealed_columns

from .cli_kit import hapbot_in_process
from .conftest import Clock, Worker, make_config, seed_faq_cache
from .flows import receipt_in, reference_in, report_script
from .test_cli import GOOD_SITE, environment, json_lines

TOKEN_BINDING = Binding("platform_tokens", "token_ct", "wechat")


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "secrets" / "keys.json"
    create_key_file(path)
    return path


@pytest.fixture
def file_config(database_url: str, tmp_path: Path, key_path: Path) -> Config:
    config = make_config(database_url, tmp_path / "data")
    storage = config.storage.model_copy(update={"keys_file": key_path})
    return config.model_copy(update={"storage": storage})


@pytest.fixture
async def core(file_config: Config, clock: Clock, faq_service: LibraryFaqService) -> AsyncIterator[Core]:
    built = await build_core(file_config, clock=clock, faq=faq_service)
    try:
        yield built
    finally:
        await built.close()


async def file_report(worker: Worker, story: str) -> tuple[str, str]:
    await worker.send("/start")
    for line in report_script([story]):
        await worker.send(line.get("text"), choice=line.get("choice"))
    return receipt_in(worker.text), reference_in(worker.text)


async def opens(core: Core, receipt: str) -> str | None:
    reader = Worker(core, f"reader-{receipt}")
    await reader.choose("status")
    await reader.send(receipt)
    return None if "No report matches" in reader.text else reference_in(reader.text)


async def copy_of(database: Database) -> dict[str, list[dict[str, Any]]]:
    """A logical copy of every table (a backup, as a dump would keep it)."""
    async with database.engine.connect() as connection:
        return {
            table.name: [dict(row._mapping) for row in await connection.execute(select(table))]
            for table in Base.metadata.sorted_tables
        }


async def populate(core: Core) -> dict[str, Any]:
    """A store with a bit of everything: cases, an unfinished draft, a draft file, outbox rows, a token."""
    kept = await file_report(Worker(core, "reporter-kept"), "he follows me to the dormitory")
    doomed = await file_report(Worker(core, "reporter-doomed"), "the foreman grabbed my arm")
    drafting = Worker(core, "drafting")
    await drafting.send("/start")
    await drafting.choose("report")
    await drafting.choose("agree")
    await drafting.send("it started last month")
    crypto, services = core.crypto, core.services
    async with core.database.transaction() as session:
        assert services.evidence is not None
        draft_file = await services.evidence.store_draft_file(
            session, b"\xff\xd8 not really a jpeg", "image/jpeg", hour_number(services.clock()) + 24
        )
        session.add(
            PlatformToken(
                name="wechat",
                token_ct=crypto.seal_internal(b"wechat-access-token", TOKEN_BINDING),
                expires_at=services.clock() + timedelta(hours=2),
            )
        )
        case = await services.cases.by_receipt(session, kept[0])
        assert case is not None
        await services.cases.add_message(session, case.id, Author.HR, "We are looking into it", services.clock())
    return {"kept": kept, "doomed": doomed, "drafting": drafting, "draft_file": draft_file}


async def everything_opens(core: Core, story: dict[str, Any]) -> None:
    """Every case, message, draft, draft file, outbox row and token opens with ``core``'s keys."""
    services = core.services
    assert await opens(core, story["kept"][0]) == story["kept"][1]
    async with core.database.transaction(write=False) as session:
        for case in await services.cases.find(session):
            assert (await services.cases.read_report(session, case.id))["version"] == 1
            await services.cases.messages(session, case.id)
            await services.cases.read_contact(session, case.id)
        items = list((await session.execute(select(OutboxItem))).scalars())
        assert items, "the reports queued alerts"
        pending = await services.outbox.pending(session)
        assert len(pending) == len(items), "every outbox row still opens"
        assert all(isinstance(p.message, CaseAlert) and p.message.reference for p in pending)
        token = (await session.execute(select(PlatformToken))).scalar_one()
        assert core.crypto.open_internal(token.token_ct, TOKEN_BINDING) == b"wechat-access-token"
        draft = await session.get(DraftFile, story["draft_file"])
        assert draft is not None
        core.crypto.open_internal(draft.data_ct, Binding("draft_files", "data_ct", draft.id))
    drafting = Worker(core, "drafting")
    await drafting.send("/start")
    await drafting.choose("report")
    assert drafting.choices == ["resume", "review", "discard", "danger"], "the draft did not open"
    await drafting.choose("review")
    assert "it started last month" in drafting.text


async def test_every_binary_column_is_covered_with_one_column_keys() -> None:
    names = {column.name for column in sealed_columns()}
    assert {"cases.wrapped_key", "conversations.state_ct", "outbox.payload_ct", "platform_tokens.token_ct",
            "draft_files.data_ct", "inbound_updates.payload_ct", "case_links.state_ct"} <= names
    assert "key_checks.check_ct" not in names


async def test_rotate_online_then_retire_and_old_backups_open_nothing_of_a_deleted_case(
    core: Core, file_config: Config, key_path: Path, clock: Clock, faq_service: LibraryFaqService, tmp_path: Path
) -> None:
    story = await populate(core)
    old_key = load_key_file(key_path).current_master_id
    backup = await copy_of(core.database)
    database_file = sqlite_path(file_config.storage_url)
    if database_file is not None:
        for part in database_file.parent.glob(database_file.name + "*"):  # with its WAL, as a backup holds it
            shutil.copy2(part, tmp_path / part.name.replace(database_file.name, "backup.sqlite3"))
    assert (await find_dependents(core.database)).total(old_key) > 5

    with pytest.raises(KeyFileError, match=f"{old_key} is the current master key"):
        await retire(core.database, key_path, old_key)
    result = await rotate(core.database, key_path, batch_size=2)
    new_key = result.current_key
    assert result.added_key == new_key != old_key and result.report.complete
    assert set(load_key_file(key_path).master_keys) == {old_key, new_key}
    states = {state.key_id: state for state in await status(core.database, key_path)}
    assert states[old_key].total == 0 and states[new_key].current and states[new_key].total > 5

    # The running bot still holds only the old key in memory: it follows the key file.
    drafting: Worker = story["drafting"]
    await drafting.send("and again yesterday")
    assert "Saved (2 messages)" in drafting.text, drafting.text
    await everything_opens(core, story)
    assert core.crypto.current_master_id == new_key

    await retire(core.database, key_path, old_key)
    assert set(load_key_file(key_path).master_keys) == {new_key}
    assert old_key not in {state.key_id for state in await status(core.database, key_path)}

    doomed_receipt, doomed_reference = story["doomed"]
    async with core.database.transaction() as session:
        doomed = await core.services.cases.by_receipt(session, doomed_receipt)
        assert doomed is not None
        await core.services.cases.set_status(session, doomed.id, CaseStatus.CLOSED, clock.now - timedelta(days=9999))
        assert await core.services.cases.delete_finished_before(session, clock.now) == 1
    await core.close()

    restarted = await build_core(file_config, clock=clock, faq=faq_service)
    try:
        assert restarted.crypto.master_key_ids == {new_key}
        await everything_opens(restarted, story)
        assert await opens(restarted, doomed_receipt) is None
    finally:
        await restarted.close()

    current = Crypto(load_key_file(key_path))
    old_case = next(row for row in backup["cases"] if row["id"] == doomed.id)
    with pytest.raises(DecryptionError):
        current.unwrap_data_key(old_case["wrapped_key"], Binding("cases", "wrapped_key", doomed.id))
    for column in sealed_columns():
        for row in backup[column.table.name]:
            sealed = row[column.column.name]
            if sealed is not None and master_key_id_of(sealed) is not None:
                with pytest.raises(DecryptionError):
                    current.reseal(sealed, column.binding(row[column.key.name]))
    if database_file is not None:
        copy_config = make_config(f"sqlite+aiosqlite:///{tmp_path / 'backup.sqlite3'}", tmp_path / "data")
        copy_config = copy_config.model_copy(update={"storage": file_config.storage.model_copy(
            update={"url": copy_config.storage.url})})
        with pytest.raises(KeyFileError, match="does not belong to this database"):
            await build_core(copy_config, clock=clock, faq=faq_service)
    assert doomed_reference


async def test_an_interrupted_rotation_continues_and_retire_waits_for_it(core: Core, key_path: Path) -> None:
    await populate(core)
    old_key = core.crypto.current_master_id
    calls = 0

    def crash_after_first_batch(_column: str, _done: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await rotate(core.database, key_path, batch_size=1, progress=crash_after_first_batch)
    keys = load_key_file(key_path)
    new_key = keys.current_master_id
    assert set(keys.master_keys) == {old_key, new_key}
    left = (await find_dependents(core.database)).total(old_key)
    assert left > 0

    with pytest.raises(KeyFileError) as refused:
        await retire(core.database, key_path, old_key)
    assert f"still protects {left} rows" in str(refused.value) and "conversations.state_ct" in str(refused.value)
    assert set(load_key_file(key_path).master_keys) == {old_key, new_key}

    again = await rotate(core.database, key_path)
    assert again.added_key is None and again.current_key == new_key, "a re-run continues, it adds no key"
    assert (await find_dependents(core.database)).total(old_key) == 0
    await retire(core.database, key_path, old_key)
    third = await rotate(core.database, key_path)
    assert third.added_key not in (None, new_key), "a finished rotation lets the next one add a key"


async def test_cli_rotate_status_retire(tmp_path: Path, warm_faq_cache: Path) -> None:
    """``hapbot keys`` and ``hapbot chat`` through the CLI's own entry point, in this process
    (tests/cli_kit.py); tests/test_cli.py and tests/test_key_check.py start real processes."""
    seed_faq_cache(warm_faq_cache, tmp_path / "data")
    keys = tmp_path / "keys.json"
    database = tmp_path / "store.sqlite3"
    (tmp_path / "config.toml").write_text(f'[storage]\nkeys_file = "{keys}"\n\n{GOOD_SITE}', encoding="utf-8")
    env = environment(f"sqlite+aiosqlite:///{database}")
    assert (await hapbot_in_process(["keys", "init", "--file", str(keys)], tmp_path, env))[0] == 0
    old_key = load_key_file(keys).current_master_id
    script = json_lines([{"text": "/start"}, *report_script(["he keeps touching my hair"])])
    code, _out, err = await hapbot_in_process(["chat", "--json", "--lang", "en"], tmp_path, env, script)
    assert code == 0, err[-2000:]

    code, out, err = await hapbot_in_process(["keys", "status", "--file", str(keys)], tmp_path, env)
    assert code == 0, err[-2000:]
    assert out.startswith(f"{old_key}\tcurrent\t") and "cases.wrapped_key 1" in out

    code, out, err = await hapbot_in_process(["keys", "rotate", "--file", str(keys)], tmp_path, env)
    assert code == 0, err[-2000:]
    new_key = load_key_file(keys).current_master_id
    assert f"added master key {new_key}" in err and f"hapbot keys retire {old_key}" in err

    code, out, err = await hapbot_in_process(["keys", "status", "--file", str(keys)], tmp_path, env)
    assert f"{old_key}\told\t0\tnothing depends on it" in out.splitlines()
    assert f"{new_key}\tcurrent\t" in out

    code, out, err = await hapbot_in_process(["keys", "retire", new_key, "--file", str(keys)], tmp_path, env)
    assert code == 2 and err.strip().splitlines() == [f"hapbot: {keys}: {new_key} is the current master key; "
                                                       "rotate to a new one first"]
    code, out, err = await hapbot_in_process(["keys", "retire", old_key, "--file", str(keys)], tmp_path, env)
    assert code == 0, err[-2000:]
    assert set(load_key_file(keys).master_keys) == {new_key}
    code, _out, err = await hapbot_in_process(["chat", "--json"], tmp_path, env, b'{"text": "/start"}\n')
    assert code == 0, err[-2000:]
