"""``hapbot keys init|rotate``: the key file that keeps reports readable only with it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import Config


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = commands.add_parser("keys", help="create or rotate encryption keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    init = key_commands.add_parser("init", help="create a new key file")
    init.add_argument("--file", required=True, type=Path)
    init.add_argument("--force", action="store_true", help="overwrite (destroys access to existing data)")
    rotate = key_commands.add_parser("rotate", help="add a new current master key")
    rotate.add_argument("--file", required=True, type=Path)


def execute(config: Config, args: argparse.Namespace) -> int:
    from storage.keys import add_master_key, create_key_file

    if args.keys_command == "init":
        create_key_file(args.file, overwrite=args.force)
        print(f"created {args.file} (keep it secret, back it up apart from the database)", file=sys.stderr)
    else:
        key_id = add_master_key(args.file)
        print(f"added master key {key_id} to {args.file}", file=sys.stderr)
    return 0
