"""HR alerts end to end: a report through the real handlers, the outbox sender, the real
python-telegram-bot ``Bot`` over HTTP to the Bot API emulator, on SQLite and PostgreSQL.

The emulator reads the test's clock, so its call log times and our due times are one timeline:
"never before retry_after" is checked on the times Telegram saw.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import telegram

from bot.channels.telegram.sink import TelegramSink, fit_text
from bot.core import Core
from bot.jobs.alert_routing import AlertRouter, SiteRoute
from bot.jobs.sender import OutboxSender
from storage.messages import AdminNotice, CaseAlert
from tests.telegram_emulator import TelegramEmulator

from .conftest import Clock, Worker
from .flows import reference_in, report_script

STORY = [
    "Leader Zhang keeps whispering filthy remarks CANARY-7731",
    "Yesterday he grabbed my waist near dormitory seven",
]
STORY_WORDS = {word.lower() for line in STORY for word in line.split() if len(word) > 3}


class SharedClock:
    """The emulator's clock protocol over the test clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock().timestamp()


@pytest.fixture
def emu(clock: Clock) -> Iterator[TelegramEmulator]:
    with TelegramEmulator(clock=SharedClock(clock)) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: TelegramEmulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[telegram.Bot]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB warns while building RetryAfter otherwise
    async with emu.make_bot() as real_bot:
        yield real_bot


@pytest.fixture
def groups(emu: TelegramEmulator) -> dict[str, int]:
    return {name: emu.create_group(name)["id"] for name in ("hr", "board")}


def sender_for(runtime: Core, bot: telegram.Bot, routes: dict[str, SiteRoute]) -> OutboxSender:
    services = runtime.services
    router = AlertRouter(services.outbox, routes, services.translators)
    sinks = {"telegram": TelegramSink(bot)}
    return OutboxSender(runtime.database, services.outbox, sinks, services.clock, router=router, rng=random.Random(7))


def north(hr: list[int], board: list[int]) -> dict[str, SiteRoute]:
    return {
        "north": SiteRoute(
            {"zh": "北厂", "en": "North Plant"},
            tuple(f"telegram:{chat}" for chat in hr),
            tuple(f"telegram:{chat}" for chat in board),
        )
    }


async def file_report(runtime: Core, name: str, *, involved: str = "coworker", urgency: str = "normal") -> str:
    worker = Worker(runtime, name, site="north")
    await worker.send("/start")
    for step in report_script(STORY, involved=involved, urgency=urgency):
        await worker.send(step.get("text"), choice=step.get("choice"))
    return reference_in(worker.text)


async def drain(runtime: Core, sender: OutboxSender, clock: Clock, *, step: float = 1.0, limit: int = 400) -> int:
    """Run passes, moving time by ``step`` seconds, until the outbox is empty; returns passes."""
    for passes in range(1, limit + 1):
        await sender.run_once()
        async with runtime.database.transaction(write=False) as session:
            if await runtime.services.outbox.count(session) == 0:
                return passes
        clock.advance(seconds=step)
    raise AssertionError("the outbox never emptied")


def texts(emu: TelegramEmulator, chat_id: int) -> list[str]:
    """What the bot posted in a chat (service messages such as a migration have no text)."""
    return [m["text"] for m in emu.visible_messages(chat_id) if m["from"]["is_bot"] and "text" in m]


def sends(emu: TelegramEmulator) -> list[dict[str, Any]]:
    return emu.calls("sendMessage")


async def counts(runtime: Core) -> dict[str, int]:
    async with runtime.database.transaction(write=False) as session:
        return await runtime.services.outbox.counts(session)


async def test_normal_report_alerts_the_hr_group_exactly_once_without_content(
    runtime: Core, clock: Clock, emu: TelegramEmulator, bot: telegram.Bot, groups: dict[str, int]
) -> None:
    reference = await file_report(runtime, "w-normal")
    sender = sender_for(runtime, bot, north([groups["hr"]], [groups["board"]]))
    clock.advance(hours=1, seconds=1)  # non-urgent alerts go out at a random moment within the hour
    assert await sender.run_once() == 1
    for _ in range(3):
        clock.advance(minutes=10)
        assert await sender.run_once() == 0
    (text,) = texts(emu, groups["hr"])
    assert reference in text and "North Plant" in text and "北厂" in text
    assert "CANARY-7731" not in text
    assert not {word.strip(".,").lower() for word in text.split()} & STORY_WORDS, "the alert must carry no report text"
    assert texts(emu, groups["board"]) == []
    assert len(sends(emu)) == 1


async def test_danger_now_goes_out_at_once(
    runtime: Core, clock: Clock, emu: TelegramEmulator, bot: telegram.Bot, groups: dict[str, int]
) -> None:
    reference = await file_report(runtime, "w-danger", urgency="danger_now")
    sender = sender_for(runtime, bot, north([groups["hr"]], [groups["board"]]))
    assert await sender.run_once() == 1
    (text,) = texts(emu, groups["hr"])
    assert reference in text and text.startswith("🆘")


async def test_report_about_a_manager_alerts_only_the_board(
    runtime: Core, clock: Clock, emu: TelegramEmulator, bot: telegram.Bot, groups: dict[str, int]
) -> None:
    reference = await file_report(runtime, "w-board", involved="supervisor")
    sender = sender_for(runtime, bot, north([groups["hr"]], [groups["board"]]))
    clock.advance(hours=1, seconds=1)
    await drain(runtime, sender, clock)
    (text,) = texts(emu, groups["board"])
    assert reference in text
    assert texts(emu, groups["hr"]) == []


async def test_board_alert_without_board_chat_reaches_nobody_and_is_counted(
    runtime: Core, clock: Clock, emu: TelegramEmulator, bot: telegram.Bot, groups: dict[str, int]
) -> None:
    await file_report(runtime, "w-noboard", involved="supervisor")
    sender = sender_for(runtime, bot, north([groups["hr"]], []))
    for _ in range(4):
        clock.advance(hours=1, seconds=1)
        assert await sender.run_once() == 0
    assert sends(emu) == []
    assert await counts(runtime) == {"no_board_chat": 1}
    async with runtime.database.transaction(write=False) as session:
        assert len(await runtime.services.outbox.pending(session, CaseAlert)) == 1, "held, not lost"


async def test_429_storm_delays_alerts_loses_none_and_honours_retry_after(
    runtime: Core, clock: Clock, emu: TelegramEmulator, bot: telegram.Bot
) -> None:
    hr = [emu.create_group(f"hr-{n}")["id"] for n in range(3)]
    routes = {f"site{n}": SiteRoute({"en": f"Site {n}"}, (f"telegram:{chat}",), ()) for n, chat in enumerate(hr)}
    sender = sender_for(runtime, bot, routes)
    references = {chat: [f"HAP-{n}{m}STORM"[:10] for m in range(4)] for n, chat in enumerate(hr)}
    async with runtime.database.transaction() as session:
        for n, chat in enumerate(hr):
            for reference in references[chat]:
                alert = CaseAlert(f"site{n}", reference, "verbal", "soon", "hr")
                await runtime.services.outbox.enqueue(session, alert, clock())
    emu.enforce_flood_limits()  # Telegram's real limits too: pacing must stay inside them
    emu.inject_retry_after(5, method="sendMessage", times=8)
    await drain(runtime, sender, clock, step=0.5)

    for chat in hr:
        delivered = texts(emu, chat)
        assert len(delivered) == 4, "every alert arrives exactly once"
        assert sorted(r for r in references[chat] for text in delivered if r in text) == sorted(references[chat])
    calls = sends(emu)
    refused = [c for c in calls if c["error_code"] == 429]
    assert len(refused) == 8, "only the injected 429s: the sender's own pacing never trips a flood limit"
    for refusal in refused:
        chat, until = refusal["params"]["chat_id"], refusal["time"] + 5
        later = [c for c in calls if c["params"]["chat_id"] == chat and c["time"] > refusal["time"]]
        assert later and all(c["time"] >= until for c in later), "nothing goes to a chat before retry_after"
    assert (await counts(runtime))["retry_after"] == 8


async def test_blocked_and_missing_chats_are_dropped_once_with_a_reason(
    runtime: Core, clock: Clock, emu: TelegramEmulator, bot: telegram.Bot
) -> None:
    admin = emu.create_user("Admin")
    emu.send_text(admin["id"], "/start")
    emu.block_bot(admin["id"])
    async with runtime.database.transaction() as session:
        for chat in (f"telegram:{admin['id']}", "telegram:987654321"):
            await runtime.services.outbox.enqueue(session, AdminNotice(chat, "notice"), clock())
    sender = sender_for(runtime, bot, {})
    assert await sender.run_once() == 0
    for _ in range(3):
        clock.advance(minutes=10)
        await sender.run_once()
    assert len(sends(emu)) == 2, "a permanent failure is never retried"
    assert await counts(runtime) == {"blocked": 1, "chat_not_found": 1}
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.outbox.count(session) == 0


async def test_migrated_group_is_followed_now_and_later(
    runtime: Core, clock: Clock, emu: TelegramEmulator, bot: telegram.Bot, groups: dict[str, int]
) -> None:
    member = emu.create_user()
    emu.add_member(groups["hr"], member["id"])
    supergroup = emu.migrate_group(groups["hr"])["id"]
    sender = sender_for(runtime, bot, north([groups["hr"]], [groups["board"]]))
    first = await file_report(runtime, "w-move-1", urgency="danger_now")
    assert await sender.run_once() == 1
    assert [c["params"]["chat_id"] for c in sends(emu)] == [str(groups["hr"]), str(supergroup)]
    clock.advance(seconds=2)
    second = await file_report(runtime, "w-move-2", urgency="danger_now")
    assert await sender.run_once() == 1
    assert [c["params"]["chat_id"] for c in sends(emu)][2:] == [str(supergroup)], "no second try at the old id"
    delivered = texts(emu, supergroup)
    assert len(delivered) == 2 and first in delivered[0] and second in delivered[1]
    assert await counts(runtime) == {"chat_migrated": 1}


async def test_network_error_is_retried_with_backoff(
    runtime: Core, clock: Clock, emu: TelegramEmulator, bot: telegram.Bot, groups: dict[str, int]
) -> None:
    emu.inject_error(502, "Bad Gateway", method="sendMessage", times=3)
    await file_report(runtime, "w-net", urgency="danger_now")
    sender = sender_for(runtime, bot, north([groups["hr"]], [groups["board"]]))
    passes = await drain(runtime, sender, clock, step=0.5)
    assert len(texts(emu, groups["hr"])) == 1
    assert (await counts(runtime))["network_error"] == 3
    failed = [c["time"] for c in sends(emu) if not c["ok"]]
    gaps = [b - a for a, b in itertools.pairwise(failed)]
    assert gaps[1] > gaps[0] >= 1.0, "backoff grows"
    assert passes > 5


def test_overlong_text_is_cut_to_telegram_limit() -> None:
    assert fit_text("short") == "short"
    cut = fit_text("😀" * 3000)
    assert len(cut.encode("utf-16-le")) // 2 <= 4096 and cut.endswith("…")
