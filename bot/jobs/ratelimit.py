"""Send-rate limits per platform: overall, per chat, per group, and pauses ordered by the platform.

Telegram allows about 30 messages a second in all, one a second in a chat and 20 a minute in a
group; over a limit it answers 429 with ``retry_after``. WeCom group robots allow 20 a minute.

The limits are kept as sliding windows (the send times of the last N messages) rather than token
buckets with a burst allowance: a bucket that lets a group burst 20 messages and then refills at
20 a minute admits up to about 40 in one 60-second window, which is exactly what draws a 429.
A window never admits more than N in any period, so a sender that asks first is never refused.

Time comes from an injected clock (seconds as a float) and waiting from an injected ``sleep``,
so tests step time instead of sleeping. The limiter is per process: with several replicas each
keeps its own windows, and Telegram's ``retry_after`` (always honoured) covers the difference.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MonotonicClock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
PRUNE_ABOVE = 1024


@dataclass(frozen=True)
class Limit:
    """At most ``count`` sends in any ``period`` seconds."""

    count: int
    period: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.period <= 0:
            raise ValueError("a limit needs count >= 1 and period > 0")


def _wait(times: deque[float], limit: Limit, now: float) -> float:
    """Seconds until one more send fits ``limit`` (0 when it fits now); the same rule the
    platform applies: a send at ``t`` stops counting once ``now >= t + period``. Only the last
    ``count`` sends can matter, so this looks at no more than those (a broadcast keeps thousands)."""
    if len(times) < limit.count:
        return 0.0
    oldest_that_counts = times[-limit.count]
    if oldest_that_counts <= now - limit.period:
        return 0.0
    return oldest_that_counts + limit.period - now


def telegram_is_group(chat_id: str) -> bool:
    """Telegram group and supergroup ids are negative; private chats (users) are positive."""
    return chat_id.startswith("-")


class RateLimiter:
    """Decides when the next message to a chat may go; ``delay`` asks, ``take`` records a send."""

    def __init__(
        self,
        clock: MonotonicClock,
        *,
        overall: Limit | None = None,
        per_chat: Limit | None = None,
        per_group: Limit | None = None,
        is_group: Callable[[str], bool] = telegram_is_group,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._overall = overall
        self._per_chat = per_chat
        self._per_group = per_group
        self._is_group = is_group
        self._sent_overall: deque[float] = deque()
        self._sent: dict[str, deque[float]] = {}
        self._paused: dict[str, float] = {}
        self._paused_all_until = float("-inf")
        self._prune_above = PRUNE_ABOVE

    @classmethod
    def telegram(
        cls, clock: MonotonicClock, sleep: Sleep = asyncio.sleep, *, per_second: int = 30, margin: float = 0.0
    ) -> RateLimiter:
        """Telegram's published limits: 30/s overall (``[telegram] messages_per_second``), 1/s in
        any chat, 20/min in a group. ``margin`` lengthens every window by that many seconds: the
        platform counts arrivals, and a request sent first can arrive after one sent later."""
        return cls(
            clock,
            overall=Limit(per_second, 1.0 + margin),
            per_chat=Limit(1, 1.0 + margin),
            per_group=Limit(20, 60.0 + margin),
            sleep=sleep,
        )

    @classmethod
    def wecom(cls, clock: MonotonicClock, sleep: Sleep = asyncio.sleep) -> RateLimiter:
        """A WeCom group robot takes at most 20 messages a minute."""
        return cls(clock, per_chat=Limit(20, 60.0), is_group=lambda _chat: False, sleep=sleep)

    def delay(self, chat: str) -> float:
        """Seconds to wait before the next send to ``chat``; 0 means it may go now."""
        now = self._clock()
        waits = [self._paused_all_until - now, self._paused.get(chat, float("-inf")) - now]
        if self._overall is not None:
            waits.append(_wait(self._sent_overall, self._overall, now))
        history = self._sent.get(chat)
        if history is not None:
            if self._per_chat is not None:
                waits.append(_wait(history, self._per_chat, now))
            if self._per_group is not None and self._is_group(chat):
                waits.append(_wait(history, self._per_group, now))
        return max(0.0, *waits)

    def take(self, chat: str) -> None:
        """Record a send to ``chat`` now (call it just before sending)."""
        now = self._clock()
        history = self._sent.setdefault(chat, deque())
        history.append(now)
        self._trim(history, now, self._chat_period(chat))
        if self._overall is not None:
            self._sent_overall.append(now)
            self._trim(self._sent_overall, now, self._overall.period)
        if len(self._sent) > self._prune_above:
            self._prune(now)
            # Amortised: prune again only when the chats kept have doubled, so a broadcast to
            # thousands of chats does not walk them all on every send.
            self._prune_above = max(PRUNE_ABOVE, 2 * len(self._sent))

    async def acquire(self, chat: str) -> None:
        """Wait (with the injected sleep) until a send to ``chat`` is allowed, then record it."""
        while (wait := self.delay(chat)) > 0:
            await self._sleep(wait)
        self.take(chat)

    def pause(self, chat: str, seconds: float, *, everywhere: bool = False) -> None:
        """The platform said wait ``seconds`` (a 429): nothing goes to ``chat`` before then.

        Telegram does not say whether a 429 is about one chat or the bot's overall rate. When
        a second chat is told to wait while another chat's wait is still running, the limit is
        the bot's, so every chat pauses; ``everywhere`` says so outright.
        """
        now = self._clock()
        until = now + max(0.0, seconds)
        others_paused = any(end > now for other, end in self._paused.items() if other != chat)
        self._paused[chat] = max(self._paused.get(chat, until), until)
        if everywhere or others_paused:
            self._paused_all_until = max(self._paused_all_until, until)

    def paused_until(self, chat: str) -> float:
        """When the latest pause affecting ``chat`` ends (``-inf`` when none)."""
        return max(self._paused_all_until, self._paused.get(chat, float("-inf")))

    def _chat_period(self, chat: str) -> float:
        """How long a chat's sends can count against one of its limits."""
        limits = [self._per_chat, self._per_group if self._is_group(chat) else None]
        return max((limit.period for limit in limits if limit), default=0.0)

    def _trim(self, times: deque[float], now: float, period: float) -> None:
        horizon = now - period
        while times and times[0] <= horizon:
            times.popleft()

    def _prune(self, now: float) -> None:
        """Forget chats with no send inside any window and no running pause, so memory stays flat."""
        for chat in list(self._sent):
            self._trim(self._sent[chat], now, self._chat_period(chat))
            if not self._sent[chat] and self._paused.get(chat, float("-inf")) <= now:
                del self._sent[chat]
                self._paused.pop(chat, None)
