"""``hapbot``: run the bot, chat on the console, manage keys, read cases, check content, read training figures,
verify the audit log.

Each subcommand is a module here with ``add_commands`` (its arguments) and ``execute`` (the work);
modules import what their work needs only when it runs, so ``hapbot check-config`` or ``keys``
starts without loading the FAQ search or the database drivers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Protocol

from bot.cli import audit, cases, chat, check_config, faq, hr, keys, remind, run, training, wechat
from bot.config import Config, ConfigError, find_config_path, load_config
from bot.logs import configure_logging


class Command(Protocol):
    """A subcommand module: its arguments, and its work (which returns the exit code)."""

    def add_commands(self, commands: argparse._SubParsersAction) -> None: ...  # type: ignore[type-arg]

    def execute(self, config: Config, args: argparse.Namespace) -> int: ...


COMMANDS: dict[str, Command] = {
    "run": run,
    "chat": chat,
    "check-config": check_config,
    "keys": keys,
    "cases": cases,
    "hr": hr,
    "wechat": wechat,
    "faq": faq,
    "training": training,
    "remind": remind,
    "audit": audit,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hapbot", description="HAP Bot: anonymous harassment reporting")
    parser.add_argument("--config", help="config file (default: $HAPBOT_CONFIG or ./config.toml if present)")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from storage.keys import KeyFileError

    try:
        config = load_config(find_config_path(args.config))
        configure_logging(config.bot.log_level)
        return COMMANDS[args.command].execute(config, args)
    except (ConfigError, KeyFileError) as error:
        print(f"hapbot: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
