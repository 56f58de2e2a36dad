"""``hapbot chat``: the real conversation in this terminal (numbered choices), or JSON lines for scripts."""

from __future__ import annotations

import argparse
import asyncio
import io
import sys

from bot.config import Config


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--json", action="store_true", help="JSON lines on stdin/stdout, for scripts")
    chat.add_argument("--user", default="console", help="simulate a distinct worker")
    chat.add_argument("--lang", choices=["zh", "en"], help="language of a new conversation")
    chat.add_argument("--site", help="site id, as a deep link or QR code would give it")


def execute(config: Config, args: argparse.Namespace) -> int:
    asyncio.run(chat(config, user=args.user, language=args.lang, site=args.site, as_json=args.json))
    return 0


async def chat(config: Config, *, user: str, language: str | None, site: str | None, as_json: bool) -> None:
    from bot.admin.faq_reload import FaqAdmin
    from bot.admin.faq_watch import watch_faq
    from bot.channels.console import ConsoleChannel
    from bot.core import build_core, load_faq, load_quizzes, start_danger_reading
    from bot.preflight import check_startup

    check_startup(config)
    faq = load_faq(config, config.bot.faq_dir)
    quizzes = load_quizzes(config, config.bot.faq_dir)
    core = await build_core(config, faq=faq, quizzes=quizzes)
    start_danger_reading(core, background=False)
    clock = core.services.clock
    admin = FaqAdmin(faq, core.database, core.services.outbox, config.bot.admin_chats, clock, quizzes=quizzes)
    watchers = [
        asyncio.create_task(watch_faq(faq.library, admin.report_problems)),
        asyncio.create_task(watch_faq(quizzes, admin.report_quiz_problems)),
    ]
    try:
        channel = ConsoleChannel(
            core.dispatcher, core.crypto, core.services.clock, user=user, language=language, site=site, admin=admin
        )
        if as_json:
            await channel.run_json(sys.stdin.buffer, sys.stdout)
        else:
            if isinstance(sys.stdin, io.TextIOWrapper):
                # A pasted line that is not UTF-8 shows as U+FFFD instead of ending the session.
                sys.stdin.reconfigure(errors="replace")
            await channel.run_interactive(sys.stdin, sys.stdout)
    finally:
        for watcher in watchers:
            watcher.cancel()
        await core.close()
