"""WeChat's push window: an official account may send customer-service messages to a user only
within 48 hours of the user's last message. We keep a 10-minute margin, so a message queued just
inside the window is not refused on its way out; outside it, the push waits for the next contact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.channels.push import PushMode

CUSTOMER_SERVICE_WINDOW = timedelta(hours=48)
WINDOW_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class WeChatPushWindow:
    window: timedelta = CUSTOMER_SERVICE_WINDOW
    margin: timedelta = WINDOW_MARGIN

    def mode(self, last_seen: datetime | None, now: datetime) -> PushMode:
        """Now while the worker's last message is less than 47 h 50 min old; otherwise at their next contact."""
        if last_seen is not None and now - last_seen < self.window - self.margin:
            return PushMode.NOW
        return PushMode.NEXT_CONTACT
