"""``hapbot audit verify``: checks the whole audit chain with the audit key and names the first bad
entry (its position, id and time). Exit 0 when the chain verifies, 1 when it does not, 2 when the
audit key file is missing or unreadable. Each successful run leaves the head it saw in the audit
witness beside the key (``storage.audit_witness``); the next run fails if the chain has fallen
behind it (its newest entries deleted and an older head row put back)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from bot.config import Config


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    audit = commands.add_parser("audit", help="check the tamper-evident audit log")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    actions.add_parser("verify", help="check every entry's hash, link and MAC; name the first bad entry")


def execute(config: Config, args: argparse.Namespace) -> int:
    return asyncio.run(verify(config, sys.stdout))


async def verify(config: Config, out: TextIO) -> int:
    from bot.preflight import audit_key_path
    from storage.audit import verify_chain
    from storage.audit_key import load_audit_key
    from storage.audit_witness import Witness, load_witness, save_witness, witness_path
    from storage.database import Database

    key_path = audit_key_path(config)
    key = load_audit_key(key_path)
    witnessed = witness_path(key_path)
    seen = load_witness(witnessed, key)
    database = Database(config.storage_url)
    try:
        verdict = await verify_chain(database, key, seen)
    finally:
        await database.dispose()
    out.write(verdict.describe() + "\n")
    if not verdict.ok or verdict.last_hash is None:
        return 1
    save_witness(witnessed, key, Witness(verdict.entries, verdict.last_hash))  # the next verify holds it to this
    return 0
