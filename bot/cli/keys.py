"""``hapbot keys init|rotate|status|retire``: the key file that keeps reports readable only with it.

``rotate`` adds a new master key and re-seals the store under it while the bot keeps running
(running processes follow the key file); run it again to continue one that stopped. ``status``
shows what still depends on each key; ``retire`` removes an old key once nothing does, so that
backups taken before the rotation can no longer be read with the key file in use.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config

if TYPE_CHECKING:
    from storage.master_keys import RotationResult


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = commands.add_parser("keys", help="create, rotate and retire encryption keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    init = key_commands.add_parser("init", help="create a new key file")
    init.add_argument("--file", required=True, type=Path)
    init.add_argument("--force", action="store_true", help="overwrite (destroys access to existing data)")
    rotate = key_commands.add_parser(
        "rotate", help="add a new master key and re-seal the store under it (run again to continue)"
    )
    rotate.add_argument("--file", required=True, type=Path)
    rotate.add_argument("--batch-size", type=int, default=200, help="rows per transaction (default 200)")
    status = key_commands.add_parser("status", help="show what depends on each master key")
    status.add_argument("--file", required=True, type=Path)
    retire = key_commands.add_parser("retire", help="remove an old master key once nothing depends on it")
    retire.add_argument("key_id")
    retire.add_argument("--file", required=True, type=Path)


def execute(config: Config, args: argparse.Namespace) -> int:
    from storage.keys import create_key_file

    if args.keys_command == "init":
        create_key_file(args.file, overwrite=args.force)
        print(f"created {args.file} (keep it secret, back it up apart from the database)", file=sys.stderr)
        return 0
    return asyncio.run(_with_store(config, args))


async def _with_store(config: Config, args: argparse.Namespace) -> int:
    from storage.database import Database
    from storage.master_keys import describe, retire, rotate, status
    from storage.migrate import upgrade_to_head

    database = Database(config.storage_url)
    try:
        await upgrade_to_head(database)
        if args.keys_command == "rotate":
            if args.batch_size < 1:
                print("hapbot: --batch-size must be at least 1", file=sys.stderr)
                return 2
            result = await rotate(
                database,
                args.file,
                batch_size=args.batch_size,
                progress=lambda column, done: _say(f"re-sealed {done} in {column}"),
            )
            _report_rotation(result, args.file)
            return 0
        if args.keys_command == "status":
            for state in await status(database, args.file):
                role = "current" if state.current else "old"
                where = "" if state.in_key_file else " (not in the key file)"
                depends = describe(state.dependents) if state.total else "nothing depends on it"
                print(f"{state.key_id}\t{role}{where}\t{state.total}\t{depends}")
            return 0
        await retire(database, args.file, args.key_id)
        print(f"retired master key {args.key_id}: removed from {args.file} and from the store", file=sys.stderr)
        return 0
    finally:
        await database.dispose()


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _report_rotation(result: RotationResult, path: Path) -> None:
    from storage.master_keys import describe

    if result.added_key:
        _say(f"added master key {result.added_key} to {path}; it is now current")
    else:
        _say(f"continued the rotation to master key {result.current_key}")
    report = result.report
    _say(f"re-sealed {sum(report.resealed.values())} rows")
    if report.changed_meanwhile:
        _say(f"changed meanwhile, left for the next run: {describe(report.changed_meanwhile)}")
    if report.unreadable:
        _say(f"could not be opened: {describe(report.unreadable)}")
    for state in result.remaining:
        if state.total:
            _say(f"{state.key_id}: still {describe(state.dependents)}; run rotate again")
        elif state.in_key_file:
            _say(f"{state.key_id}: nothing depends on it; `hapbot keys retire {state.key_id} --file {path}` removes it")
