"""Telegram's push window: a bot may message a user who started it at any time."""

from __future__ import annotations

from datetime import datetime

from bot.channels.push import PushMode


class TelegramPushWindow:
    def mode(self, last_seen: datetime | None, now: datetime) -> PushMode:
        """Always now: Telegram sets no window on messages to users who started the bot."""
        return PushMode.NOW
