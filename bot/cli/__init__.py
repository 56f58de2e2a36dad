"""``hapbot``: run the bot, chat on the console, manage keys and check content."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli import cases as cases_cli
from bot.config import Config, ConfigError, find_config_path, load_config
from bot.logs import configure_logging
from storage.keys import KeyFileError, add_master_key, create_key_file

log = logging.getLogger("hapbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hapbot", description="HAP Bot: anonymous harassment reporting")
    parser.add_argument("--config", help="config file (default: $HAPBOT_CONFIG or ./config.toml if present)")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("run", help="start the channels the config enables (the console when none is)")

    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--json", action="store_true", help="JSON lines on stdin/stdout, for scripts")
    chat.add_argument("--user", default="console", help="simulate a distinct worker")
    chat.add_argument("--lang", choices=["zh", "en"], help="language of a new conversation")
    chat.add_argument("--site", help="site id, as a deep link or QR code would give it")

    commands.add_parser("check-config", help="validate the config and print nothing else on success")

    keys = commands.add_parser("keys", help="create or rotate encryption keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    init = key_commands.add_parser("init", help="create a new key file")
    init.add_argument("--file", required=True, type=Path)
    init.add_argument("--force", action="store_true", help="overwrite (destroys access to existing data)")
    rotate = key_commands.add_parser("rotate", help="add a new current master key")
    rotate.add_argument("--file", required=True, type=Path)

    cases_cli.add_commands(commands)

    wechat = commands.add_parser("wechat", help="WeChat official account set-up")
    wechat_commands = wechat.add_subparsers(dest="wechat_command", required=True)
    wechat_commands.add_parser("menu", help="create the account's custom menu (举报 / 查询 / 更多)")

    faq = commands.add_parser("faq", help="check and try the policy FAQ")
    faq_commands = faq.add_subparsers(dest="faq_command", required=True)
    check = faq_commands.add_parser("check", help="validate FAQ files")
    check.add_argument("directory", nargs="?", type=Path)
    ask = faq_commands.add_parser("ask", help="rank FAQ topics for a question")
    ask.add_argument("question")
    ask.add_argument("--lang", choices=["zh", "en"])
    ask.add_argument("--json", action="store_true")
    evaluate = faq_commands.add_parser("eval", help="accuracy and latency over a JSONL file")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--json", action="store_true")
    return parser


def _config(args: argparse.Namespace) -> Config:
    return load_config(find_config_path(args.config))


async def _chat(config: Config, args: argparse.Namespace) -> None:
    from bot.admin.faq_reload import FaqAdmin
    from bot.admin.faq_watch import watch_faq
    from bot.channels.console import ConsoleChannel
    from bot.core import build_core, load_faq

    faq = load_faq(config, config.bot.faq_dir)
    runtime = await build_core(config, faq=faq)
    admin = FaqAdmin(faq, runtime.database, runtime.services.outbox, config.bot.admin_chats, runtime.services.clock)
    watcher = asyncio.create_task(watch_faq(faq.library, admin.report_problems))
    try:
        channel = ConsoleChannel(
            runtime.dispatcher,
            runtime.crypto,
            runtime.services.clock,
            user=args.user,
            language=args.lang,
            site=args.site,
            admin=admin,
        )
        if args.json:
            await channel.run_json(sys.stdin.buffer, sys.stdout)
        else:
            await channel.run_interactive(sys.stdin, sys.stdout)
    finally:
        watcher.cancel()
        await runtime.close()


def _run(config: Config, args: argparse.Namespace) -> int:
    if config.wechat.enabled or config.telegram.enabled:
        from bot.serve import serve

        asyncio.run(serve(config))
        return 0
    log.info("no channel enabled in the config: starting the console channel")
    args.user, args.lang, args.site, args.json = "console", None, None, False
    asyncio.run(_chat(config, args))
    return 0


def _faq(config: Config, args: argparse.Namespace) -> int:
    from bot.cli import faq as faq_cli
    from bot.core import handler_settings
    from faq import CONTENT_DIR

    directory = config.bot.faq_dir or CONTENT_DIR
    if args.faq_command == "check":
        sites = handler_settings(config).sites
        facts = {site_id: dict(site.facts) for site_id, site in sites.items()}
        return faq_cli.run_check(args.directory or directory, facts, sys.stdout)
    if args.faq_command == "ask":
        return faq_cli.run_ask(args.question, args.lang, args.json, directory, sys.stdout)
    return faq_cli.run_eval(args.file, args.json, directory, sys.stdout)


async def _wechat_menu(config: Config) -> int:
    from bot.channels.wechat.menu import publish_menu
    from bot.core import build_core

    if not config.wechat.enabled:
        print("hapbot: [wechat] enabled = false; configure the official account first", file=sys.stderr)
        return 2
    runtime = await build_core(config)
    try:
        await publish_menu(runtime, config.wechat)
    finally:
        await runtime.close()
    print("menu created", file=sys.stderr)
    return 0


def _keys(args: argparse.Namespace) -> int:
    if args.keys_command == "init":
        create_key_file(args.file, overwrite=args.force)
        print(f"created {args.file} (keep it secret, back it up apart from the database)", file=sys.stderr)
    else:
        key_id = add_master_key(args.file)
        print(f"added master key {key_id} to {args.file}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
    except ConfigError as error:
        print(f"hapbot: {error}", file=sys.stderr)
        return 2
    configure_logging(config.bot.log_level)
    try:
        if args.command == "run":
            return _run(config, args)
        if args.command == "chat":
            asyncio.run(_chat(config, args))
            return 0
        if args.command == "check-config":
            return 0
        if args.command == "keys":
            return _keys(args)
        if args.command == "cases":
            return asyncio.run(cases_cli.run(config, args, sys.stdout))
        if args.command == "wechat":
            return asyncio.run(_wechat_menu(config))
        return _faq(config, args)
    except KeyFileError as error:
        print(f"hapbot: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
