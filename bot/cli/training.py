"""``hapbot training export|stats``: the arguments; the work is in ``training_tools``.

``export`` writes the training records workers chose to keep (employee number, quiz, date, passed)
as CSV, for an HR handler of the site signed in with ``--as`` (password and code; audited).
``stats`` prints the quiz figures of a site, in Chinese or English, leaving out every group of
fewer than five workers.
"""

from __future__ import annotations

import argparse
import re
from datetime import date

from bot.config import Config

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-03-31") from None


def _month(value: str) -> str:
    if not MONTH.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month like 2026-03")
    return value


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    training = commands.add_parser("training", help="HR: quiz figures and training records")
    actions = training.add_subparsers(dest="training_command", required=True)
    export = actions.add_parser("export", help="training records as CSV (employee number, quiz, date, passed)")
    export.add_argument(
        "--as", dest="actor", required=True, help="your desk account, an HR handler of the site (asks password, code)"
    )
    export.add_argument("--site", required=True)
    export.add_argument("--from", dest="first", type=_day, required=True, help="first day, like 2026-01-01")
    export.add_argument("--to", dest="last", type=_day, required=True, help="last day, like 2026-03-31")
    export.add_argument("--out", help="write to this file instead of the screen")
    stats = actions.add_parser("stats", help="quiz figures (groups of fewer than 5 workers are not shown)")
    stats.add_argument("--site", required=True)
    stats.add_argument("--month", type=_month, help="one month, like 2026-03 (default: every month)")
    stats.add_argument("--lang", choices=["zh", "en"], help="language of the figures (default: the bot's)")


def execute(config: Config, args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from bot.cli import training_tools

    if args.training_command == "export":
        return asyncio.run(training_tools.run_export(config, args, sys.stdout))
    return asyncio.run(training_tools.run_stats(config, args, sys.stdout))
