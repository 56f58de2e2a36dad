"""The operations behind ``hapbot keys rotate|status|retire``: retiring a master key for real.

Rotation adds a new current master key to the key file, records it in the store, then re-seals
everything that depends on an older key (:func:`storage.rotation.reseal_all`: wrapped case data
keys and internal data; case data itself stays under its data key). Running processes follow the
key file (:class:`storage.keys.KeyFileWatcher`), so the bot keeps serving meanwhile. A rotation
that stopped half-way is continued by running it again: a new key is added only when nothing
depends on an older one any more.

Retiring removes an old key from the key file once :func:`storage.rotation.find_dependents`
finds nothing sealed under it. From then on, a backup of the database taken before the rotation
cannot be read with the key file in use: with old backups expiring, a deleted case is gone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .crypto import Crypto, KeyRing
from .database import Database
from .key_check import forget_key, read_records, record_current_key, verify_store_keys
from .keys import KeyFileError, add_master_key, load_key_file, remove_master_key
from .rotation import BATCH_SIZE, RotationReport, find_dependents, reseal_all


@dataclass(frozen=True)
class KeyState:
    """One master key: whether the key file holds it, the store records it, and what depends on it."""

    key_id: str
    current: bool
    in_key_file: bool
    recorded: bool
    dependents: Counter[str]

    @property
    def total(self) -> int:
        return sum(self.dependents.values())


@dataclass(frozen=True)
class RotationResult:
    added_key: str | None  # None when an unfinished rotation was continued
    current_key: str
    report: RotationReport
    remaining: list[KeyState]


def _source(path: Path) -> str:
    return f"key file {path}"


async def _checked_keys(database: Database, path: Path) -> KeyRing:
    keyring = load_key_file(path)
    await verify_store_keys(database, Crypto(keyring), _source(path), record=False)
    return keyring


async def key_states(database: Database, keyring: KeyRing) -> list[KeyState]:
    """Every master key the key file or the store knows of, the current one first."""
    dependents = await find_dependents(database)
    recorded = set(await read_records(database))
    ids = set(keyring.master_keys) | recorded | dependents.key_ids()
    states = [
        KeyState(
            key_id=key_id,
            current=key_id == keyring.current_master_id,
            in_key_file=key_id in keyring.master_keys,
            recorded=key_id in recorded,
            dependents=dependents.counts.get(key_id, Counter()),
        )
        for key_id in ids
    ]
    return sorted(states, key=lambda state: (not state.current, state.key_id))


async def status(database: Database, path: Path) -> list[KeyState]:
    """What depends on each master key (reads only)."""
    return await key_states(database, await _checked_keys(database, path))


async def rotate(
    database: Database,
    path: Path,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str, int], None] | None = None,
) -> RotationResult:
    """Adds a new current master key (unless an earlier rotation is unfinished) and re-seals
    everything under it, in batches; safe to stop and run again."""
    keyring = await _checked_keys(database, path)
    unfinished = (await find_dependents(database)).key_ids() - {keyring.current_master_id}
    added = None
    if not unfinished:
        added = add_master_key(path)
        keyring = load_key_file(path)
    crypto = Crypto(keyring)
    await record_current_key(database, crypto, _source(path))
    report = await reseal_all(database, crypto, batch_size=batch_size, progress=progress)
    remaining = [state for state in await key_states(database, keyring) if not state.current]
    return RotationResult(added, keyring.current_master_id, report, remaining)


def describe(dependents: Counter[str]) -> str:
    return ", ".join(f"{column} {count}" for column, count in sorted(dependents.items()))


async def retire(database: Database, path: Path, key_id: str) -> None:
    """Removes an old master key from the key file and its record from the store, once nothing
    depends on it; otherwise refuses (KeyFileError) naming what still does."""
    keyring = await _checked_keys(database, path)
    if key_id == keyring.current_master_id:
        raise KeyFileError(f"{path}: {key_id} is the current master key; rotate to a new one first")
    if key_id not in keyring.master_keys:
        raise KeyFileError(f"{path}: no master key {key_id}")
    dependents = (await find_dependents(database)).counts.get(key_id, Counter())
    if dependents:
        raise KeyFileError(
            f"master key {key_id} still protects {sum(dependents.values())} rows ({describe(dependents)}); "
            f"run `hapbot keys rotate --file {path}` to re-seal them, then retire it"
        )
    await forget_key(database, key_id)
    remove_master_key(path, key_id)
