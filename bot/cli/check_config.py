"""``hapbot check-config``: the checks ``hapbot run`` makes before it starts, and nothing else."""

from __future__ import annotations

import argparse

from bot.config import Config


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    commands.add_parser("check-config", help="validate the config and print nothing else on success")


def execute(config: Config, args: argparse.Namespace) -> int:
    from bot.preflight import check_before_start

    check_before_start(config)
    return 0
