"""``hapbot wechat menu``: the official account's custom menu (举报 / 查询 / 更多)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import Config


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    wechat = commands.add_parser("wechat", help="WeChat official account set-up")
    wechat_commands = wechat.add_subparsers(dest="wechat_command", required=True)
    wechat_commands.add_parser("menu", help="create the account's custom menu (举报 / 查询 / 更多)")


def execute(config: Config, args: argparse.Namespace) -> int:
    if not config.wechat.enabled:
        print("hapbot: [wechat] enabled = false; configure the official account first", file=sys.stderr)
        return 2
    return asyncio.run(_publish_menu(config))


async def _publish_menu(config: Config) -> int:
    from bot.channels.wechat.menu import publish_menu
    from bot.core import build_core

    core = await build_core(config)
    try:
        await publish_menu(core, config.wechat)
    finally:
        await core.close()
    print("menu created", file=sys.stderr)
    return 0
