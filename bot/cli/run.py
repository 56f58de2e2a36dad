"""``hapbot run``: every channel the config enables in one process; the console when none is."""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot.config import Config

log = logging.getLogger("hapbot")


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    commands.add_parser("run", help="start the channels the config enables (the console when none is)")


def execute(config: Config, args: argparse.Namespace) -> int:
    from bot.malloc import return_big_buffers
    from bot.preflight import check_before_start

    return_big_buffers()
    check_before_start(config)
    if config.wechat.enabled or config.telegram.enabled:
        from bot.serve import serve

        asyncio.run(serve(config))
        return 0
    from bot.cli.chat import chat

    log.info("no channel enabled in the config: starting the console channel")
    asyncio.run(chat(config, user="console", language=None, site=None, as_json=False))
    return 0
