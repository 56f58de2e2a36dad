"""``hapbot audit verify``: checks the whole audit chain with the audit key and names the first bad
entry (its position, id and time). Exit 0 when the chain verifies, 1 when it does not, 2 when the
audit key file is missing or unreadable."""

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
    from storage.database import Database

    key = load_audit_key(audit_key_path(config))
    database = Database(config.storage_url)
    try:
        verdict = await verify_chain(database, key)
    finally:
        await database.dispose()
    out.write(verdict.describe() + "\n")
    return 0 if verdict.ok else 1
