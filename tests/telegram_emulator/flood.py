"""Opt-in flood control: Telegram's published send limits, enforced with 429 and retry_after.

Telegram allows about one message per second in a chat, twenty a minute in a
group, and thirty a second in all. Real enforcement is fuzzier (short bursts
pass); the emulator is strict so that an outbox that paces itself correctly
never sees a 429 here, and one that does not, does. Windows use the emulator
clock, so a test can step time instead of sleeping.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from .errors import too_many_requests


@dataclass
class FloodLimits:
    """Sliding-window limits: (count, seconds) per chat, per group chat, and for the whole bot."""

    per_chat: tuple[int, float] = (1, 1.0)
    per_group: tuple[int, float] = (20, 60.0)
    overall: tuple[int, float] = (30, 1.0)
    sent: dict[int, deque[float]] = field(default_factory=dict)
    sent_overall: deque[float] = field(default_factory=deque)

    def check_and_count(self, chat_id: int, is_group: bool, now: float) -> None:
        """Raise 429 if one more message to `chat_id` now would exceed a limit; else count it."""
        history = self.sent.setdefault(chat_id, deque())
        windows = [(history, self.per_chat), (self.sent_overall, self.overall)]
        if is_group:
            windows.append((history, self.per_group))
        waits = [_wait(times, limit, now) for times, limit in windows]
        if max(waits) > 0:
            raise too_many_requests(max(1, math.ceil(max(waits))))
        history.append(now)
        self.sent_overall.append(now)
        longest = max(self.per_chat[1], self.per_group[1], self.overall[1])
        for times in (history, self.sent_overall):
            while times and times[0] <= now - longest:
                times.popleft()


def _wait(times: deque[float], limit: tuple[int, float], now: float) -> float:
    """Seconds until one more event fits in `limit`, 0 if it fits now. The times are in order, so
    only the `count`-th newest can decide (a broadcast keeps thousands in the overall window)."""
    count, seconds = limit
    if len(times) < count or times[-count] <= now - seconds:
        return 0.0
    return times[-count] + seconds - now
