"""``hapbot faq check|ask|eval``: the arguments; the tools themselves are in ``faq_tools``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import Config


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    faq = commands.add_parser("faq", help="check and try the policy FAQ")
    faq_commands = faq.add_subparsers(dest="faq_command", required=True)
    check = faq_commands.add_parser("check", help="validate FAQ and quiz files")
    check.add_argument("directory", nargs="?", type=Path)
    ask = faq_commands.add_parser("ask", help="rank FAQ topics for a question")
    ask.add_argument("question")
    ask.add_argument("--lang", choices=["zh", "en"])
    ask.add_argument("--json", action="store_true")
    evaluate = faq_commands.add_parser("eval", help="accuracy and latency over a JSONL file")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--json", action="store_true")


def execute(config: Config, args: argparse.Namespace) -> int:
    from bot.cli import faq_tools
    from bot.preflight import faq_directory, site_facts

    directory = faq_directory(config)
    if args.faq_command == "check":
        return faq_tools.run_check(args.directory or directory, site_facts(config), sys.stdout)
    if args.faq_command == "ask":
        return faq_tools.run_ask(args.question, args.lang, args.json, directory, sys.stdout)
    return faq_tools.run_eval(args.file, args.json, directory, sys.stdout)
