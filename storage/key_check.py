"""Refuse to start with keys that do not belong to the store, before anything is written.

A store sealed under one set of keys and opened with another looks empty: every conversation
"expires", every receipt "matches no report", and new rows are sealed under keys that the old
rows never see again. So each master key the store uses gets a *key-check record* in
``key_checks`` (written once, when that key first becomes current here): the fingerprints of the
pseudonym keys, sealed under that master key and bound to its row (:meth:`Crypto.seal_key_check`).

At every start (:func:`verify_store_keys`, after migration) the keys in hand must hold every
master key that has a record, each must open its record, and the pseudonym fingerprints must
match; otherwise :class:`KeyFileError` stops the process with one line that names the problem
and nothing in the store has changed. Only then, if the current master key is new to the store,
is its record added. A store that predates the records (no rows yet, but sealed data) is checked
against its data instead: every master key its ciphertexts name must be present and open one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .crypto import Binding, Crypto, DecryptionError, KeyCheck
from .database import Database
from .keys import KeyFileError
from .models import KeyCheckRecord
from .rotation import any_sealed, find_dependents, read_ciphertext

FIX = "start with the key file made for this database (restore the newest one from your backup)"


def key_check_binding(key_id: str) -> Binding:
    return Binding(KeyCheckRecord.__tablename__, "check_ct", key_id)


async def read_records(database: Database) -> dict[str, bytes]:
    async with database.transaction(write=False) as session:
        rows = (await session.execute(select(KeyCheckRecord.key_id, KeyCheckRecord.check_ct))).all()
    return {key_id: bytes(sealed) for key_id, sealed in rows}


def _names(key_ids: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(key_ids))


def records_problem(records: dict[str, bytes], crypto: Crypto, source: str) -> str | None:
    """One line naming what is wrong with the keys in hand for these records, or None."""
    if not records:
        return None
    used = set(records)
    held = crypto.master_key_ids
    if not used & held:
        return (
            f"{source} does not belong to this database: the database was sealed with master key "
            f"{_names(used)}, the keys hold {_names(held)} (a wrong key file, or a database created with "
            f"other keys); {FIX}"
        )
    missing = used - held
    if missing:
        return (
            f"{source} lacks master key {_names(missing)}, which this database still uses (an old or "
            f"incomplete key file); {FIX}"
        )
    for key_id in sorted(used):
        result = crypto.check_key_record(key_id, records[key_id], key_check_binding(key_id))
        if result is KeyCheck.WRONG_MASTER:
            return (
                f"{source}: master key {key_id} is not the one this database was sealed with (a wrong key "
                f"file, or a database created with other keys); {FIX}"
            )
        if result is KeyCheck.WRONG_PSEUDONYM:
            return (
                f"{source}: the pseudonym keys are not the ones this database was created with (a wrong "
                f"key file); {FIX}"
            )
    return None


async def _legacy_problem(database: Database, crypto: Crypto, source: str) -> str | None:
    """For a store with sealed data but no records yet: its data must open with the keys in hand."""
    if not await any_sealed(database):
        return None  # a new store: nothing is sealed yet, so there is nothing the keys must open
    dependents = await find_dependents(database)
    used = dependents.key_ids()
    if not used:
        return None
    held = crypto.master_key_ids
    if not used & held:
        return (
            f"{source} does not belong to this database: its data is sealed with master key {_names(used)}, "
            f"the keys hold {_names(held)}; {FIX}"
        )
    if used - held:
        return f"{source} lacks master key {_names(used - held)}, which this database still uses; {FIX}"
    for key_id, (column, row_key) in sorted(dependents.samples.items()):
        sealed = await read_ciphertext(database, column, row_key)
        if sealed is None:
            continue
        try:
            crypto.reseal(sealed, column.binding(row_key))
        except DecryptionError:
            return f"{source}: master key {key_id} does not open this database's data (a wrong key file); {FIX}"
    return None


async def verify_store_keys(database: Database, crypto: Crypto, source: str, *, record: bool = True) -> None:
    """Raises KeyFileError (one line, nothing written) unless the keys open the store; then, if
    ``record``, records the current master key if it is new to the store."""
    records = await read_records(database)
    problem = records_problem(records, crypto, source)
    if problem is None and not records:
        problem = await _legacy_problem(database, crypto, source)
    if problem is not None:
        raise KeyFileError(problem)
    if record and crypto.current_master_id not in records:
        await record_current_key(database, crypto, source)


async def record_current_key(database: Database, crypto: Crypto, source: str) -> None:
    """Adds the current master key's record (a replica starting at the same moment may win the race;
    its record must then match ours)."""
    key_id = crypto.current_master_id
    if key_id in await read_records(database):
        return
    try:
        async with database.transaction() as session:
            sealed = crypto.seal_key_check(key_id, key_check_binding(key_id))
            session.add(KeyCheckRecord(key_id=key_id, check_ct=sealed))
    except IntegrityError:
        records = await read_records(database)
        problem = records_problem({key_id: records[key_id]}, crypto, source) if key_id in records else None
        if problem is not None:
            raise KeyFileError(problem) from None


async def forget_key(database: Database, key_id: str) -> None:
    """Deletes a retired master key's record (``hapbot keys retire``, once nothing depends on it)."""
    async with database.transaction() as session:
        row = await session.get(KeyCheckRecord, key_id)
        if row is not None:
            await session.delete(row)
