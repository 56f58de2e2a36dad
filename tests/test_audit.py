"""storage.audit: entries are added in the caller's transaction, read back per case oldest first,
and chained: editing, deleting, reordering or inserting an entry, even with every later hash
recomputed, makes ``hapbot audit verify`` fail and name the entry. (What CaseDesk audits is tested
in test_hr_cases.)"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import audit as audit_cli
from bot.cli import main
from bot.config import Config
from bot.core import Core
from bot.preflight import audit_key_path
from storage import audit
from storage.audit import GENESIS, Fault, entry_hash
from storage.audit_key import AuditKeyError, create_audit_key_file, load_audit_key
from storage.crypto import AuditKey, KeyRing
from storage.database import Database
from storage.models import AuditChainHead, AuditEntry

from .conftest import Clock

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def test_entries_are_read_back_per_case_in_order(runtime: Core) -> None:
    async with runtime.database.transaction() as session:
        await audit.record(session, "wang", "reply", "HAP-AAAA", T0 + timedelta(minutes=5))
        await audit.record(session, "wang", "read", "HAP-AAAA", T0)
        await audit.record(session, "li", "read", "HAP-BBBB", T0 + timedelta(minutes=1))
        await audit.record(session, "wang", "list", None, T0 + timedelta(minutes=2))
        entries = await audit.entries_for(session, "HAP-AAAA")  # the session's own pending entries count
    assert [(e.actor, e.action) for e in entries] == [("wang", "read"), ("wang", "reply")]
    async with runtime.database.transaction(write=False) as session:
        entries = await audit.entries_for(session, "HAP-AAAA")
        assert await audit.entries_for(session, "HAP-CCCC") == []
    assert [(_aware(e.at), e.actor, e.action) for e in entries] == [
        (T0, "wang", "read"),
        (T0 + timedelta(minutes=5), "wang", "reply"),
    ]


async def test_an_entry_vanishes_with_its_rolled_back_action(runtime: Core) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with runtime.database.transaction() as session:
            await audit.record(session, "wang", "read", "HAP-AAAA", T0)
            raise Abort
    async with runtime.database.transaction(write=False) as session:
        assert await audit.entries_for(session, "HAP-AAAA") == []
    assert (await audit.verify_chain(runtime.database)).entries == 0, "no position was used up"


async def test_a_refusal_is_kept_when_the_refused_transaction_rolls_back(runtime: Core) -> None:
    class Refused(Exception):
        pass

    try:
        async with runtime.database.transaction() as session:
            await audit.record(session, "zhao", "read", "HAP-AAAA", T0)
            raise Refused
    except Refused:
        await audit.record_refusal(runtime.database, "zhao", "refused:read", "HAP-AAAA", T0)
    async with runtime.database.transaction(write=False) as session:
        entries = await audit.entries_for(session, "HAP-AAAA")
    assert [(e.actor, e.action) for e in entries] == [("zhao", "refused:read")]
    assert (await audit.verify_chain(runtime.database)).ok


# --- the chain -----------------------------------------------------------------------------------


async def _fill(runtime: Core, count: int = 6) -> list[str]:
    """``count`` entries, one transaction each; returns their ids in chain order."""
    for n in range(count):
        async with runtime.database.transaction() as session:
            await audit.record(session, f"hr-{n % 2}", "read", f"HAP-{n:04d}", T0 + timedelta(minutes=n))
    async with runtime.database.transaction(write=False) as session:
        return list((await session.execute(select(AuditEntry.id).order_by(AuditEntry.position))).scalars())


async def _rehash_from(session: AsyncSession, position: int) -> None:
    """What someone with write access to the database but without the audit key can do: recompute
    every hash and link from ``position`` on, and point the head at the new last hash (the MACs they
    cannot recompute)."""
    rows = (await session.execute(select(AuditEntry).order_by(AuditEntry.position))).scalars().all()
    last = GENESIS
    for row in rows:
        assert row.position is not None and row.entry_hash is not None
        if row.position >= position:
            row.prev_hash = last
            row.entry_hash = entry_hash(
                row.position, row.id, row.at, row.actor, row.action, row.case_reference, last
            )
        last = row.entry_hash
    await session.execute(
        update(AuditChainHead).values(position=rows[-1].position if rows else 0, last_hash=last)
    )


async def _tamper(runtime: Core, change: str, ids: list[str], *, rehash: bool) -> None:
    """Edits, deletes, reorders or inserts an entry at position 3 (or deletes the newest)."""
    async with runtime.database.transaction() as session:
        if change == "edit":
            await session.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(actor="someone-else"))
        elif change == "edit-time":
            await session.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(at=T0 - timedelta(days=1)))
        elif change == "delete":
            await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[2]))
            for n, entry_id in enumerate(ids[3:], start=3):  # close the gap
                await session.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(position=n))
        elif change == "reorder":
            await session.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(position=-1))
            await session.execute(update(AuditEntry).where(AuditEntry.id == ids[3]).values(position=3))
            await session.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(position=4))
        elif change == "insert":
            for n, entry_id in reversed(list(enumerate(ids[2:], start=4))):  # make room at position 3
                await session.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(position=n))
            await session.execute(
                insert(AuditEntry).values(
                    id="f" * 32, at=T0 + timedelta(minutes=2, seconds=30), actor="ghost", action="read",
                    case_reference="HAP-FAKE", position=3, prev_hash=GENESIS, entry_hash=GENESIS, mac=GENESIS,
                )
            )
        elif change == "delete-newest":
            await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[-1]))
        if rehash:
            await _rehash_from(session, 3)


@pytest.mark.parametrize("rehash", [False, True], ids=["as-is", "later-hashes-recomputed"])
@pytest.mark.parametrize(
    ("change", "fault_plain", "fault_rehashed"),
    [
        ("edit", Fault.HASH, Fault.MAC),
        ("edit-time", Fault.HASH, Fault.MAC),
        ("delete", Fault.LINK, Fault.MAC),
        ("reorder", Fault.LINK, Fault.MAC),
        ("insert", Fault.LINK, Fault.MAC),
    ],
)
async def test_tampering_with_any_entry_fails_verification_naming_it(
    runtime: Core, config: Config, change: str, fault_plain: Fault, fault_rehashed: Fault, rehash: bool
) -> None:
    ids = await _fill(runtime)
    assert (await audit.verify_chain(runtime.database)).ok
    await _tamper(runtime, change, ids, rehash=rehash)
    verdict = await audit.verify_chain(runtime.database)
    assert verdict.fault is (fault_rehashed if rehash else fault_plain), verdict.describe()
    assert verdict.position == 3 and verdict.entries == 2
    named = {"delete": ids[3], "reorder": ids[3], "insert": "f" * 32}.get(change, ids[2])
    assert verdict.entry_id == named
    out = io.StringIO()
    assert await audit_cli.verify(config, out) == 1
    assert "FAILS" in out.getvalue() and "position 3" in out.getvalue() and named in out.getvalue()


async def test_deleting_a_position_without_closing_the_gap_names_the_missing_position(runtime: Core) -> None:
    ids = await _fill(runtime)
    async with runtime.database.transaction() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[2]))
    verdict = await audit.verify_chain(runtime.database)
    assert (verdict.fault, verdict.position, verdict.entry_id) == (Fault.MISSING, 3, ids[3])
    assert "position 3" in verdict.describe() and "missing" in verdict.describe()


@pytest.mark.parametrize("rehash", [False, True], ids=["as-is", "head-recomputed"])
async def test_deleting_the_newest_entries_fails_at_the_head(runtime: Core, rehash: bool) -> None:
    ids = await _fill(runtime)
    await _tamper(runtime, "delete-newest", ids, rehash=rehash)
    verdict = await audit.verify_chain(runtime.database)
    assert verdict.fault is Fault.HEAD and verdict.entries == len(ids) - 1, verdict.describe()
    if not rehash:
        assert verdict.position == len(ids)


async def test_an_entry_added_outside_the_chain_is_named(runtime: Core) -> None:
    await _fill(runtime, 3)
    async with runtime.database.transaction() as session:
        await session.execute(
            insert(AuditEntry).values(id="e" * 32, at=T0, actor="ghost", action="read", case_reference="HAP-X")
        )
    verdict = await audit.verify_chain(runtime.database)
    assert (verdict.fault, verdict.entry_id) == (Fault.UNCHAINED, "e" * 32)


async def test_an_untouched_chain_verifies_and_the_cli_says_so(runtime: Core, config: Config) -> None:
    ids = await _fill(runtime)
    out = io.StringIO()
    assert await audit_cli.verify(config, out) == 0
    assert out.getvalue() == f"audit chain verifies: {len(ids)} entries\n"


async def test_deleting_the_newest_entries_and_putting_back_an_older_head_fails_after_a_verification(
    runtime: Core, config: Config, clock: Clock
) -> None:
    """The chain alone cannot tell: without the key, a database writer can delete the newest entries
    and restore an older copy of the head row, and what is left is consistent. The head the last
    ``hapbot audit verify`` saw, kept MAC'd beside the audit key, can."""
    async with runtime.database.transaction() as session:
        await audit.record(session, "Wang", "list", None, clock())
    async with runtime.database.transaction(write=False) as session:
        old = (await session.execute(select(AuditChainHead))).scalar_one()
        saved = {"position": old.position, "last_hash": old.last_hash, "mac": old.mac}
    async with runtime.database.transaction() as session:  # the read someone wants to erase
        await audit.record(session, "Wang", "read", "HAP-ABC234", clock())
    out = io.StringIO()
    assert await audit_cli.verify(config, out) == 0  # the witness now holds position 2
    async with runtime.database.transaction() as session:  # write access to the database, no key
        await session.execute(delete(AuditEntry).where(AuditEntry.position > saved["position"]))
        await session.execute(update(AuditChainHead).values(**saved))
    assert (await audit.verify_chain(runtime.database)).ok, "consistent on its own: why a witness is needed"
    out = io.StringIO()
    assert await audit_cli.verify(config, out) == 1
    assert "behind what an earlier verification saw" in out.getvalue()


async def test_a_witness_someone_edited_is_refused(runtime: Core, config: Config) -> None:
    await _fill(runtime, 2)
    assert await audit_cli.verify(config, io.StringIO()) == 0
    witness = audit_key_path(config).parent / "audit.witness"
    assert witness.stat().st_mode & 0o777 == 0o600
    witness.write_text(witness.read_text().replace('"position": 2', '"position": 1'))
    with pytest.raises(AuditKeyError, match="not signed by this audit key"):
        await audit_cli.verify(config, io.StringIO())


# --- the audit key -------------------------------------------------------------------------------


async def test_the_audit_key_file_is_made_at_first_start_0600_beside_the_keys(runtime: Core, config: Config) -> None:
    path = audit_key_path(config)
    assert path == config.bot.data_dir / "keys" / "audit.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert "AuditKey(**********)" == repr(load_audit_key(path))


async def test_a_wrong_audit_key_is_reported_clearly(runtime: Core, config: Config, tmp_path: Path) -> None:
    await _fill(runtime, 2)
    verdict = await audit.verify_chain(runtime.database, AuditKey.generate())
    assert verdict.fault is Fault.WRONG_KEY and "wrong or replaced audit key file" in verdict.describe()
    other = tmp_path / "other.key"
    create_audit_key_file(other)
    with pytest.raises(AuditKeyError, match="not the one this database's audit chain was made with"):
        await audit.open_chain(runtime.database, other)
    path = audit_key_path(config)
    path.rename(tmp_path / "moved.key")
    with pytest.raises(AuditKeyError, match=r"audit key file not found.*restore it"):
        await audit.open_chain(runtime.database, path)


def test_the_cli_with_a_missing_audit_key_exits_2_and_says_which_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "audit.key"
    config_file = tmp_path / "hapbot.toml"
    config_file.write_text(f'[storage]\naudit_key_file = "{missing}"\n[bot]\ndata_dir = "{tmp_path / "data"}"\n')
    assert main(["--config", str(config_file), "audit", "verify"]) == 2
    assert f"{missing}: audit key file not found" in capsys.readouterr().err


async def test_a_commit_with_entries_but_no_audit_key_fails_and_records_nothing(runtime: Core) -> None:
    bare = Database(runtime.config.storage_url)
    try:
        with pytest.raises(audit.AuditChainError, match="no audit key"):
            async with bare.transaction() as session:
                await audit.record(session, "wang", "read", "HAP-AAAA", T0)
    finally:
        await bare.dispose()
    assert (await audit.verify_chain(runtime.database)).entries == 0


async def test_entries_written_before_the_chain_join_it_in_time_order(runtime: Core, tmp_path: Path) -> None:
    """What the migration leaves: old entries without chain columns and no head; the first start
    with an audit key links them, oldest first."""
    async with runtime.database.transaction() as session:
        await session.execute(delete(AuditChainHead))
        for n, minutes in enumerate((30, 10, 20)):
            await session.execute(
                insert(AuditEntry).values(id=f"{n}" * 32, at=T0 + timedelta(minutes=minutes), actor="old",
                                          action="read", case_reference="HAP-OLD")
            )
    await audit.open_chain(runtime.database, tmp_path / "fresh" / "audit.key")
    async with runtime.database.transaction() as session:
        await audit.record(session, "new", "read", "HAP-NEW", T0 + timedelta(hours=1))
    verdict = await audit.verify_chain(runtime.database)
    assert verdict.ok and verdict.entries == 4
    async with runtime.database.transaction(write=False) as session:
        order = list((await session.execute(select(AuditEntry.id).order_by(AuditEntry.position))).scalars())
    assert order[:3] == ["1" * 32, "2" * 32, "0" * 32]


# --- concurrency ---------------------------------------------------------------------------------


async def test_concurrent_appends_from_several_processes_make_one_valid_chain(runtime: Core) -> None:
    """Four engines (as four replicas would have), each committing entries at once."""
    replicas = [Database(runtime.config.storage_url) for _ in range(4)]
    key = runtime.database.session_info[audit.KEY_INFO]
    assert isinstance(key, AuditKey)
    for replica in replicas:
        audit.attach_key(replica, key)

    async def append(replica: Database, n: int) -> None:
        for m in range(8):
            async with replica.transaction() as session:
                await audit.record(session, f"hr-{n}", "read", f"HAP-{n}{m:03d}", T0 + timedelta(seconds=m))
                await asyncio.sleep(0)

    try:
        await asyncio.gather(*(append(replica, n) for n, replica in enumerate(replicas)))
    finally:
        for replica in replicas:
            await replica.dispose()
    verdict = await audit.verify_chain(runtime.database)
    assert verdict.ok and verdict.entries == 32, verdict.describe()


async def test_check_config_names_a_missing_wrong_or_broken_audit_key(runtime: Core, config: Config) -> None:
    from bot.config import ConfigError
    from bot.preflight import check_startup, check_storage

    await _fill(runtime, 1)
    await check_storage(config)
    path = audit_key_path(config)
    original = path.read_bytes()
    path.unlink()
    with pytest.raises(ConfigError, match="audit key file not found, but this database's audit chain"):
        await check_storage(config)
    create_audit_key_file(path)
    with pytest.raises(ConfigError, match="not the one this database's audit chain was made with"):
        await check_storage(config)
    path.write_text("{}")
    with pytest.raises(ConfigError, match=f"{path}: not a HAP Bot audit key file"):
        check_startup(config, {})
    path.write_bytes(original)
    await check_storage(config)


async def test_a_refused_cases_command_is_on_record(
    runtime: Core, config: Config, keyring: KeyRing, clock: Clock
) -> None:
    import argparse

    from bot.cli.cases import run as run_cases

    from .desk_kit import QuickPasswordHasher, enrolled_account, terminal

    wang = await enrolled_account(runtime, clock, "wang")
    out = io.StringIO()
    args = argparse.Namespace(actor="wang", cases_command="show", reference="hap-zzzzzz")
    assert await run_cases(config, args, out, keyring=keyring, prompt=terminal(wang, clock), clock=clock,
                           hasher=QuickPasswordHasher()) == 2
    async with runtime.database.transaction(write=False) as session:
        entries = await audit.entries_for(session, "HAP-ZZZZZZ")
    assert [(e.actor, e.action) for e in entries] == [("wang", "refused:read")]
    assert (await audit.verify_chain(runtime.database)).ok


async def test_entries_of_a_store_from_before_the_chain_are_chained_after_the_migration(
    empty_database_url: str, tmp_path: Path
) -> None:
    """The real path: a store at the revision before the chain, with entries; upgraded, then opened."""
    from sqlalchemy import text

    from storage.migrate import upgrade_to_head

    from .migration_kit import upgrade_to

    database = Database(empty_database_url)
    try:
        async with database.engine.connect() as connection:  # outside a transaction: see migrations/env.py
            await connection.run_sync(upgrade_to, "de0d11e5ca5e")
            for n, minutes in enumerate((5, 1, 3)):
                await connection.execute(
                    text("INSERT INTO audit_log (id, at, actor, action) VALUES (:id, :at, 'wang', 'read')"),
                    {"id": f"{n}" * 32, "at": T0 + timedelta(minutes=minutes)},
                )
            await connection.commit()
        await upgrade_to_head(database)
        await audit.open_chain(database, tmp_path / "keys" / "audit.key")
        verdict = await audit.verify_chain(database)
        async with database.transaction(write=False) as session:
            order = list((await session.execute(select(AuditEntry.id).order_by(AuditEntry.position))).scalars())
    finally:
        await database.dispose()
    assert verdict.ok and verdict.entries == 3
    assert order == ["1" * 32, "2" * 32, "0" * 32]


@pytest.mark.parametrize("same_file", [True, False], ids=["one-key-file", "a-key-file-each"])
async def test_replicas_starting_together_make_one_chain(database_url: str, tmp_path: Path, same_file: bool) -> None:
    """At the first start of two replicas with old entries: one key chains them once; a replica that
    made a key of its own is refused with one line, and writes nothing."""
    replicas = [Database(database_url) for _ in range(2)]
    try:
        async with replicas[0].transaction() as session:
            for n in range(3):
                await session.execute(
                    insert(AuditEntry).values(id=f"{n}" * 32, at=T0 + timedelta(minutes=n), actor="old", action="read")
                )
        shared = tmp_path / "keys" / "audit.key"
        paths = [shared, shared] if same_file else [tmp_path / f"host{n}" / "audit.key" for n in (0, 1)]
        results = await asyncio.gather(
            *(audit.open_chain(replica, path) for replica, path in zip(replicas, paths, strict=True)),
            return_exceptions=True,
        )
        refused = [result for result in results if isinstance(result, BaseException)]
        if same_file:
            assert refused == []
        else:
            assert len(refused) == 1 and isinstance(refused[0], AuditKeyError), results
            # Which line depends on the race: it made a key of its own and lost ("not the one this
            # database's audit chain was made with"), or it found the chain keyed first ("audit key
            # file not found, but this database's audit chain was made with one").
            assert "audit chain was made with" in str(refused[0])
        winner = next(result for result in results if isinstance(result, AuditKey))
        verdict = await audit.verify_chain(replicas[0], winner)
    finally:
        for replica in replicas:
            await replica.dispose()
    assert verdict.ok and verdict.entries == 3, verdict.describe()
