"""Send-rate limits with a fake clock: 1/s per private chat, 20/min per group, 30/s overall,
pauses from 429s, and ``acquire`` waiting through an injected sleep (no real time passes)."""

from __future__ import annotations

import itertools

import pytest

from bot.jobs.ratelimit import Limit, RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def limiter(time: FakeTime) -> RateLimiter:
    return RateLimiter.telegram(time, sleep=time.sleep)


def send(limiter: RateLimiter, chat: str) -> bool:
    """Take a send if the limiter allows it now."""
    if limiter.delay(chat) > 0:
        return False
    limiter.take(chat)
    return True


def test_private_chat_one_per_second(limiter: RateLimiter, time: FakeTime) -> None:
    assert send(limiter, "5001")
    assert not send(limiter, "5001")
    assert limiter.delay("5001") == pytest.approx(1.0)
    assert send(limiter, "5002"), "another chat is not held back"
    time.now += 0.999
    assert not send(limiter, "5001")
    time.now += 0.001
    assert send(limiter, "5001")


def test_group_twenty_per_minute_and_one_per_second(limiter: RateLimiter, time: FakeTime) -> None:
    group = "-4001"
    sent_at = []
    while len(sent_at) < 25:
        if send(limiter, group):
            sent_at.append(time.now)
        time.now += 0.5
    # Never two in one second, never more than 20 in any 60-second window.
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(sent_at))
    assert all(sum(1 for t in sent_at if start <= t < start + 60) <= 20 for start in sent_at)
    assert sent_at[20] - sent_at[0] >= 60.0
    assert sent_at[19] - sent_at[0] == pytest.approx(19.0), "the first twenty go at one a second"


def test_thirty_per_second_overall(limiter: RateLimiter, time: FakeTime) -> None:
    allowed = [send(limiter, str(6000 + n)) for n in range(40)]
    assert allowed.count(True) == 30 and allowed[:30] == [True] * 30
    assert limiter.delay("9999") == pytest.approx(1.0)
    time.now += 1.0
    assert send(limiter, "9999")


def test_pause_holds_a_chat_exactly_for_retry_after(limiter: RateLimiter, time: FakeTime) -> None:
    limiter.take("5001")
    limiter.pause("5001", 7)
    assert limiter.delay("5002") == 0, "one chat's 429 does not stop the others"
    time.now += 6.999
    assert not send(limiter, "5001")
    time.now += 0.001
    assert send(limiter, "5001")


def test_second_chat_told_to_wait_pauses_everything(limiter: RateLimiter, time: FakeTime) -> None:
    limiter.pause("5001", 5)
    limiter.pause("5002", 3)
    assert limiter.delay("7777") == pytest.approx(3.0), "a bot-wide flood holds every chat"
    limiter.pause("5003", 2, everywhere=True)
    assert limiter.delay("5001") == pytest.approx(5.0)
    time.now += 3
    assert limiter.delay("7777") == 0


async def test_acquire_waits_with_the_injected_sleep(limiter: RateLimiter, time: FakeTime) -> None:
    for _ in range(3):
        await limiter.acquire("-4001")
    assert time.slept == [pytest.approx(1.0), pytest.approx(1.0)]
    limiter.pause("-4001", 10)
    await limiter.acquire("-4001")
    assert time.slept[-1] == pytest.approx(10.0)


def test_idle_chats_are_forgotten(time: FakeTime) -> None:
    limiter = RateLimiter(time, per_chat=Limit(1, 1.0))
    for n in range(1100):
        limiter.take(str(n))
        time.now += 0.01
    time.now += 5
    limiter.take("last")
    assert len(limiter._sent) < 1100


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="count >= 1"):
        Limit(0, 1.0)
