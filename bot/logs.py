"""Logging set-up: everything to stderr, libraries that could log secrets or content kept quiet.

httpx logs request URLs, which carry the Telegram bot token; python-telegram-bot at DEBUG logs
update contents; SQLAlchemy echo would log parameters. None of them may run below WARNING.
"""

from __future__ import annotations

import logging
import sys

QUIET = (
    "httpx",
    "httpcore",
    "telegram",
    "apscheduler",
    "sqlalchemy",
    "aiosqlite",
    "asyncio",
    "jieba",
    "uvicorn.access",
    "alembic",
    "urllib3",
    "requests",
    "wechatpy",
)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
