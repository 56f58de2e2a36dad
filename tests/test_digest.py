"""The weekly digest: small groups protected (no figure under 5, nothing recoverable by
subtracting from a total), HR and board kept apart, nothing that identifies a reporter, and the job
queueing each site's digest once per week, across restarts and replicas (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import Config
from bot.core import Core, build_core
from bot.jobs import timed_jobs
from bot.jobs.digest import DigestJob, DigestSchedules
from bot.serve import job_deps
from handlers.digest import (
    COMBINED,
    SMALL_GROUP,
    Breakdown,
    DigestFigures,
    Group,
    Training,
    Week,
    digest_figures,
    protect,
)
from handlers.digest_texts import digest_text
from handlers.faq.service import LibraryFaqService
from handlers.i18n import load_translators
from handlers.quiz.library import QuizLibrary
from storage.case_deadlines import escalation_key
from storage.case_index import Audience
from storage.case_status import CaseStatus
from storage.cases import Author
from storage.crypto import KeyRing
from storage.deadline_rules import Deadline
from storage.messages import Delivery, ImageDelivery
from storage.receipts import ReceiptHasher

from .conftest import Clock, make_config

TZ = ZoneInfo("Asia/Shanghai")
CANARY = "CANARY-彩虹-7731"
W08 = datetime(2026, 2, 18, 2, tzinfo=UTC)  # Wednesday of ISO week 8 (Shanghai)
W09 = datetime(2026, 2, 25, 2, tzinfo=UTC)  # Wednesday of week 9: the week a Monday 2 March digest covers
W10 = datetime(2026, 3, 2, 5, tzinfo=UTC)  # Monday of week 10, before the test clock's 09:30


# protect(): the rule itself


def shown_values(breakdown: Breakdown) -> list[int]:
    return [group.value for group in breakdown.groups]


def test_groups_of_five_or_more_are_shown_as_they_are() -> None:
    assert protect({"a": 5, "b": 9}) == Breakdown(14, (Group("a", 5), Group("b", 9)))


def test_a_total_under_five_shows_nothing_else() -> None:
    assert protect({"a": 3, "b": 1}) == Breakdown(None)
    assert protect({"a": 0, "b": 0}) == Breakdown(None)


def test_a_small_group_cannot_be_worked_out_from_the_total() -> None:
    """Shown naively ("words 7, messages 6, physical <5, total 16"), 16 - 7 - 6 = 3 would give the
    hidden group. The small group is merged with the smallest shown one, so what is left over is
    the merged group, 9, made of groups whose shares are not shown."""
    parts = {"verbal": 7, "physical": 3, "messages": 6, "quid_pro_quo": 0, "other": 0}
    protected = protect(parts)
    assert protected.total == 16
    assert protected.groups == (
        Group("verbal", 7),
        Group(COMBINED, 9, ("physical", "messages", "quid_pro_quo", "other")),
    )
    assert protected.total - sum(g.value for g in protected.groups if g.key != COMBINED) == 9


def test_one_small_group_beside_one_big_one_leaves_only_the_total() -> None:
    """Met 6, missed 1: showing either beside the total of 7 gives the other away."""
    assert protect({"met": 6, "missed": 1}) == Breakdown(7)


def test_two_small_groups_that_add_up_to_five_are_merged_with_another() -> None:
    """Two hidden groups adding to a known 8 would both be 4: a merged group never stands alone
    with only small members and a narrow sum; it holds at least two groups and 5 cases."""
    protected = protect({"a": 4, "b": 4, "c": 20})
    assert protected == Breakdown(28, (Group("c", 20), Group(COMBINED, 8, ("a", "b"))))


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 30), min_size=1, max_size=6))
def test_no_protected_breakdown_shows_or_leaves_a_group_under_five(parts: dict[str, int]) -> None:
    protected = protect(parts)
    total = sum(parts.values())
    if total < SMALL_GROUP:
        assert protected == Breakdown(None)
        return
    assert protected.total == total
    if not protected.groups:
        return
    assert sum(shown_values(protected)) == total
    assert all(value >= SMALL_GROUP for value in shown_values(protected))
    for group in protected.groups:
        if group.key == COMBINED:
            assert len(group.members) >= 2 and group.value == sum(parts[key] for key in group.members)
        else:
            assert parts[group.key] == group.value
    hidden = [key for key in parts if key not in {g.key for g in protected.groups}]
    assert all(parts[key] >= SMALL_GROUP for key in parts if key not in hidden)
    assert all(any(key in g.members for g in protected.groups) for key in hidden)


# Figures from the store, on both databases


NO_DEADLINES = ("feedback:met", "feedback:missed", "resolve:met", "resolve:missed")


def plant_config(database_url: str, data_dir: Path) -> Config:
    return make_config(
        database_url,
        data_dir,
        main={
            "name": {"zh": "一号厂", "en": "Factory One"},
            "hr_chats": ["telegram:-1001", "wecom:main"],
            "board_chats": ["telegram:-1002"],
            "wecom_webhook_url": "http://127.0.0.1:9/cgi-bin/webhook/send?key=k",
            "digest": {"weekday": "monday", "send_at": "09:00"},
        },
    )


@pytest.fixture
async def plant(
    database_url: str,
    tmp_path: Path,
    keyring: KeyRing,
    clock: Clock,
    receipt_hasher: ReceiptHasher,
    faq_service: LibraryFaqService,
    quiz_library: QuizLibrary,
) -> AsyncIterator[Core]:
    config = plant_config(database_url, tmp_path / "data")
    core = await build_core(
        config, keyring=keyring, clock=clock, hasher=receipt_hasher, faq=faq_service, quizzes=quiz_library
    )
    try:
        yield core
    finally:
        await core.close()


async def file_case(core: Core, at: datetime, category: str = "verbal", involved: str = "coworker") -> str:
    report = {"category": category, "involved": involved, "what": [f"{CANARY} {category}"], "urgency": "normal"}
    issued = await core.services.cases.issue_receipt()
    async with core.database.transaction() as session:
        case = await core.services.cases.create(
            session, site="main", report=report, contact=None, receipt=issued, now=at
        )
    return case.reference


async def case_id(core: Core, reference: str) -> str:
    async with core.database.transaction(write=False) as session:
        found = await core.services.cases.by_reference(session, reference)
    assert found is not None
    return found.id


async def acknowledge(
    core: Core, references: list[str], at: datetime, status: CaseStatus = CaseStatus.ACKNOWLEDGED
) -> None:
    for reference in references:
        identifier = await case_id(core, reference)
        async with core.database.transaction() as session:
            await core.services.cases.set_status(session, identifier, status, at)


async def seed(core: Core) -> list[str]:
    """Week 9: 7 words, 6 messages, 3 physical for HR, 2 about a manager for the board; week 8: 10
    cases whose acknowledgement deadline fell in week 9, 5 acknowledged within a day, 2 a day late
    (missed), 3 never; one case in week 10."""
    references = []
    for category, count in (("verbal", 7), ("messages", 6), ("physical", 3)):
        references += [await file_case(core, W09, category) for _ in range(count)]
    references += [await file_case(core, W09, "verbal", involved="supervisor") for _ in range(2)]
    earlier = [await file_case(core, W08) for _ in range(10)]
    await acknowledge(core, earlier[:5], W08 + timedelta(days=1))
    await acknowledge(core, earlier[5:7], W09 + timedelta(days=1))
    references += earlier
    references.append(await file_case(core, W10))
    return references


@pytest.mark.slow
async def test_figures_of_a_week_are_protected_and_keep_hr_and_board_apart(plant: Core) -> None:
    await seed(plant)
    week = Week.containing(W09, TZ)
    async with plant.database.transaction(write=False) as session:
        hr = await digest_figures(session, plant.services, "main", week, "hr")
        board = await digest_figures(session, plant.services, "main", week, "board")
    assert week.label == "2026-W09"
    assert hr.received == Breakdown(
        16, (Group("verbal", 7), Group(COMBINED, 9, ("physical", "messages", "quid_pro_quo", "other")))
    )
    assert board.received == Breakdown(None), "the board's two cases are under 5, and never in HR's figures"
    assert hr.deadlines == Breakdown(
        10, (Group("acknowledge:missed", 5), Group(COMBINED, 5, ("acknowledge:met", *NO_DEADLINES)))
    ), "5 acknowledged in time, 2 late and 3 never (missed); the other kinds are 0, merged with the met 5"
    assert hr.open_by_status == Breakdown(
        26, (Group("received", 19), Group(COMBINED, 7, ("acknowledged", "investigating")))
    ), "investigating (0) is never shown apart: it is merged with the 7 acknowledged"
    assert hr.open_by_age == Breakdown(26, (Group("0-7", 16), Group(COMBINED, 10, ("8-30", "31-90", "90+"))))
    assert hr.retaliation is None and board.retaliation is None  # none: 0 is under 5
    assert hr.training is not None and board.training is None


async def test_cases_a_conflicted_handler_handed_to_the_board_count_in_the_boards_figures_not_hrs(
    plant: Core,
) -> None:
    """Recusing changes only a case's tag, not its report (still "co-worker"): the figures follow the tag."""
    references = [await file_case(plant, W09) for _ in range(12)]
    for reference in references[:6]:
        identifier = await case_id(plant, reference)
        async with plant.database.transaction() as session:
            await plant.services.cases.index.set_audience(session, identifier, Audience.RECUSED)
    week = Week.containing(W09, TZ)
    async with plant.database.transaction(write=False) as session:
        hr = await digest_figures(session, plant.services, "main", week, "hr")
        board = await digest_figures(session, plant.services, "main", week, "board")
    assert (hr.received.total, board.received.total) == (6, 6)


@pytest.mark.slow
async def test_the_digest_text_names_no_case_no_day_and_nothing_a_reporter_wrote(plant: Core) -> None:
    references = await seed(plant)
    week = Week.containing(W09, TZ)
    async with plant.database.transaction(write=False) as session:
        texts = [
            digest_text(plant.services.translators, {"zh": "一号厂", "en": "Factory One"}, figures)
            for figures in [await digest_figures(session, plant.services, "main", week, a) for a in ("hr", "board")]
        ]
    for text in texts:
        assert "一号厂" in text and "Factory One" in text and "2026年第9周" in text
        assert CANARY not in text and "彩虹" not in text
        assert not any(reference in text for reference in references)
        assert "HAP-" not in text
        assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}月\d{1,2}日|\d{1,2}/\d{1,2}", text)
        counts = counts_in(text)
        assert all(n == 0 or n >= SMALL_GROUP for n in counts), counts
        assert "<5" in text
    assert {16, 7, 9, 10, 26} <= set(counts_in(texts[0]))


@pytest.mark.slow
async def test_met_and_missed_deadlines_and_retaliation_of_a_week_are_shown(plant: Core) -> None:
    """Week 9: HR's acknowledgement deadlines, 7 met (one of them in a round that ended when its
    case was reopened) and 5 missed (2 escalated); 5 first replies in time and 3 missed; 1
    resolution in time and 2 missed (those three small groups are merged); 6 reporters answered a
    check-in "yes". The board's 3 deadlines and 2 retaliation answers stay "<5" and out of HR's figures."""
    services = plant.services
    w07, w08 = W08 - timedelta(days=7), W08
    replied = [await file_case(plant, w07) for _ in range(5)]  # feedback due 25 Feb (week 9)
    await acknowledge(plant, replied, w07)
    for reference in replied:
        identifier = await case_id(plant, reference)
        async with plant.database.transaction() as session:
            await services.cases.add_message(session, identifier, Author.HR, "收到", w07 + timedelta(days=1))
    silent = [await file_case(plant, w07) for _ in range(3)]  # acknowledged, never answered
    await acknowledge(plant, silent, w07)
    november = datetime(2025, 11, 26, 2, tzinfo=UTC)  # resolution due 24 Feb (week 9), 90 days on
    resolved = [await file_case(plant, november) for _ in range(3)]
    await acknowledge(plant, resolved, november)
    for reference in resolved:
        identifier = await case_id(plant, reference)
        async with plant.database.transaction() as session:
            await services.cases.add_message(session, identifier, Author.HR, "收到", november)
    await acknowledge(plant, resolved[:1], november + timedelta(days=20), CaseStatus.ACTION_TAKEN)
    met = [await file_case(plant, w08) for _ in range(7)]  # acknowledgement due 25 Feb (week 9)
    await acknowledge(plant, met, w08 + timedelta(hours=5))
    missed = [await file_case(plant, w08) for _ in range(5)]
    await acknowledge(plant, missed[:2], W09 + timedelta(days=2))  # after the 25th: late
    async with plant.database.transaction() as session:
        for reference in missed[3:]:
            await services.case_deadlines.claim(
                session, await case_id(plant, reference), escalation_key(1, Deadline.ACKNOWLEDGE), W09
            )
    board = [await file_case(plant, w08, involved="supervisor") for _ in range(3)]

    # Retaliation: cases closed long ago, reopened by a check-in "yes" during week 9.
    old = datetime(2025, 9, 1, 2, tzinfo=UTC)
    hr_closed = [await file_case(plant, old) for _ in range(5)] + [met[0]]
    board_closed = [await file_case(plant, old, involved="supervisor") for _ in range(2)]
    await acknowledge(plant, hr_closed[:5] + board_closed, old + timedelta(days=2), CaseStatus.ACTION_TAKEN)
    await acknowledge(plant, [met[0]], W08 + timedelta(days=2), CaseStatus.ACTION_TAKEN)
    deadlines = services.settings.site("main").deadlines
    for reference in hr_closed + board_closed:
        identifier = await case_id(plant, reference)
        async with plant.database.transaction() as session:
            await services.case_deadlines.reopen_urgent(session, identifier, W09 + timedelta(days=3), deadlines)

    week = Week.containing(W09, TZ)
    async with plant.database.transaction(write=False) as session:
        hr = await digest_figures(session, services, "main", week, "hr")
        board_figures = await digest_figures(session, services, "main", week, "board")
        earlier = await digest_figures(session, services, "main", week.previous(TZ), "hr")
    assert hr.deadlines == Breakdown(
        23,
        (
            Group("acknowledge:met", 7),
            Group("acknowledge:missed", 5),
            Group("feedback:met", 5),
            Group(COMBINED, 6, ("feedback:missed", "resolve:met", "resolve:missed")),
        ),
    )
    assert hr.retaliation == 6
    assert board_figures.deadlines == Breakdown(None) and board_figures.retaliation is None
    assert earlier.deadlines == Breakdown(8), "week 8: the 8 acknowledgements due 18 Feb, all met (the 0s merged)"
    assert earlier.retaliation is None

    translators = services.translators
    text = digest_text(translators, {"zh": "一号厂", "en": "Factory One"}, hr)
    assert "本周到期的处理期限：23" in text
    assert "按期确认受理 7 · 确认受理逾期 5 · 按期首次答复 5 · 首次答复逾期、按期办结、办结逾期合计 6" in text
    assert "Acknowledged in time 7 · Acknowledgement missed 5 · First reply in time 5" in text
    assert "本周回访中反映的打击报复：6" in text and "Retaliation reported at check-ins this week: 6" in text
    board_text = digest_text(translators, {"zh": "一号厂", "en": "Factory One"}, board_figures)
    assert "本周回访中反映的打击报复：<5" in board_text and "本周到期的处理期限：<5" in board_text
    references = replied + silent + resolved + met + missed + board + hr_closed + board_closed
    for shown in (text, board_text):
        assert not any(reference in shown for reference in references) and "HAP-" not in shown
        assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}月\d{1,2}日|\d{1,2}/\d{1,2}", shown)
        assert all(n == 0 or n >= SMALL_GROUP for n in counts_in(shown))


def counts_in(text: str) -> list[int]:
    """The counts a digest text shows: every number but the week, the month, the deadline's days
    and the 5 of "under 5"."""
    text = re.sub(r"2026年第\d+周|week \d+ of 2026|2026-\d{2}", "", text)
    text = re.sub(r"(<|少于|不足|under |fewer than )5", "", text)
    return [int(n) for n in re.findall(r"\d+", text)]


# The job: once per week per site


def job_for(core: Core) -> DigestJob:
    return DigestJob(core.database, core.services, DigestSchedules.from_config(core.config))


async def queued(core: Core) -> list[Delivery | ImageDelivery]:
    async with core.database.transaction(write=False) as session:
        found = await core.services.outbox.pending(session)
    return [p.message for p in found if isinstance(p.message, Delivery | ImageDelivery)]


async def test_the_job_is_in_the_list_of_timed_jobs(plant: Core) -> None:
    deps = job_deps(plant, {})
    assert sorted(deps.digests.sites) == ["main"]
    assert [job.name for job in timed_jobs(deps)].count("weekly digest") == 1


@pytest.mark.slow
async def test_the_digest_is_queued_once_per_week_and_survives_a_restart(
    plant: Core,
    clock: Clock,
    keyring: KeyRing,
    receipt_hasher: ReceiptHasher,
    faq_service: LibraryFaqService,
    quiz_library: QuizLibrary,
) -> None:
    references = await seed(plant)
    job = job_for(plant)
    assert await job.run_once() == 6  # text and chart to two HR chats and one board chat
    messages = await queued(plant)
    chats = sorted((type(m).__name__, m.chat) for m in messages)
    assert chats == sorted(
        [(kind, chat) for kind in ("Delivery", "ImageDelivery") for chat in ("telegram:-1001", "wecom:main")]
        + [("Delivery", "telegram:-1002"), ("ImageDelivery", "telegram:-1002")]
    )
    for message in messages:
        payload = message.text if isinstance(message, Delivery) else base64.b64decode(message.image).decode("latin-1")
        assert not any(reference in payload for reference in references) and CANARY not in payload
    image = next(m for m in messages if isinstance(m, ImageDelivery))
    assert base64.b64decode(image.image).startswith(b"\x89PNG") and "2026年第9周" in image.caption
    assert await job.run_once() == 0

    restarted = await build_core(
        plant.config, keyring=keyring, clock=clock, hasher=receipt_hasher, faq=faq_service, quizzes=quiz_library
    )
    try:
        assert await job_for(restarted).run_once() == 0, "a new process knows the week went out"
        clock.now = datetime(2026, 3, 9, 0, 59, tzinfo=UTC)  # Monday 08:59 in Shanghai: not yet
        assert await job_for(restarted).run_once() == 0
        clock.now = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # 09:00: week 10's digest
        assert await job_for(restarted).run_once() == 6
        assert await job.run_once() == 0
        assert len(await queued(restarted)) == 12
    finally:
        await restarted.close()


@pytest.mark.slow
async def test_two_replicas_queue_one_digest(plant: Core, clock: Clock) -> None:
    """Both work the figures out and draw them; the week's row lets one transaction queue them."""
    first, second = job_for(plant), job_for(plant)
    plan = DigestSchedules.from_config(plant.config).sites["main"]
    week = plan.due_week(clock())
    assert await first.queue(plan, week) == 6
    assert await second.queue(plan, week) == 0
    assert len(await queued(plant)) == 6


def test_the_due_week_is_the_last_full_week_before_the_configured_moment(tmp_path: Path) -> None:
    config = plant_config("sqlite+aiosqlite:///unused", tmp_path)
    plan = DigestSchedules.from_config(config).sites["main"]
    monday_0859 = datetime(2026, 3, 2, 0, 59, tzinfo=UTC)
    assert plan.due_week(monday_0859).label == "2026-W08"
    assert plan.due_week(monday_0859 + timedelta(minutes=1)).label == "2026-W09"
    assert plan.due_week(datetime(2026, 3, 8, 15, 59, tzinfo=UTC)).label == "2026-W09"  # Sunday 23:59
    assert plan.due_week(datetime(2027, 1, 4, 1, 0, tzinfo=UTC)).label == "2026-W53"


def test_a_full_digest_text_fits_one_wecom_message() -> None:
    """Every figure broken down, a long site name in both languages: still under WeCom's 2,048 bytes,
    so the robot's cut never hides a figure."""
    busy = DigestFigures(
        site="main",
        week=Week.containing(W09, TZ),
        audience="hr",
        received=protect({"verbal": 170, "physical": 3, "messages": 60, "quid_pro_quo": 50, "other": 1}),
        open_by_status=protect({"received": 150, "acknowledged": 80, "investigating": 2}),
        open_by_age=protect({"0-7": 90, "8-30": 60, "31-90": 0, "90+": 82}),
        closed=protect({"action_taken": 120, "closed": 110, "withdrawn": 0}),
        deadlines=protect(
            {
                "acknowledge:met": 160,
                "acknowledge:missed": 110,
                "feedback:met": 140,
                "feedback:missed": 3,
                "resolve:met": 90,
                "resolve:missed": 12,
            }
        ),
        retaliation=1200,
        training=Training("2026-03", 12, 1400, 1330, 20, 1000),
    )
    name = {"zh": "深圳市琪骏服装有限公司第二生产基地（龙岗）", "en": "Shenzhen Qijun Garments Co., Ltd., plant 2"}
    assert len(digest_text(load_translators(), name, busy).encode("utf-8")) <= 2048


@pytest.mark.slow
async def test_a_failed_digest_claims_nothing_and_is_tried_again_later(
    plant: Core, clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import bot.jobs.digest as digest_job

    def broken(*args: object) -> bytes:
        raise MemoryError

    real = digest_job.digest_chart_png
    monkeypatch.setattr(digest_job, "digest_chart_png", broken)
    job = job_for(plant)
    assert await job.run_once() == 0
    assert "failed (MemoryError)" in caplog.text and await queued(plant) == []
    monkeypatch.setattr(digest_job, "digest_chart_png", real)
    clock.advance(minutes=14)
    assert await job.run_once() == 0, "not before a quarter of an hour"
    clock.advance(minutes=1)
    assert await job.run_once() == 6
