"""The privacy notice: who runs the service and who reads which report, in one block that the FAQ agrees
with; the retention line in whole years ("保存两年") or days."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.core import Core, build_core
from handlers.faq.render import DEFAULT_FACTS
from handlers.faq.service import LibraryFaqService
from handlers.i18n import load_translators
from handlers.privacy import _alert_timing, _deadlines, _keeping
from handlers.quiz.library import QuizLibrary
from storage.crypto import KeyRing
from storage.deadline_rules import CaseDeadlines
from storage.receipts import ReceiptHasher

from .conftest import Clock, Worker, make_config


@pytest.mark.parametrize(
    ("language", "days", "expected"),
    [
        ("zh", 730, "保存两年"),
        ("zh", 365, "保存一年"),
        ("zh", 1095, "保存三年"),
        ("zh", 400, "保存400天"),
        ("en", 730, "kept for 2 years"),
        ("en", 365, "kept for one year"),
        ("en", 90, "kept for 90 days"),
    ],
)
def test_retention_in_years_when_a_multiple_of_365(language: str, days: int, expected: str) -> None:
    translators: Any = load_translators()
    ctx: Any = SimpleNamespace(t=translators[language], language=language)
    assert expected in _keeping(ctx, days)


@pytest.mark.parametrize(
    ("language", "has_board", "expected"),
    [
        ("zh", True, "人事部须在2天内确认收到，21天内给你回复，60天内处理完毕。如果超过期限，会通知员工关爱委员会。"),
        ("en", True, "within 2 days, write to you within 21 days and finish within 60 days. If a deadline is missed"),
        ("en", False, "finish within 60 days."),
    ],
)
def test_the_site_deadlines_are_stated_with_the_configured_numbers(
    language: str, has_board: bool, expected: str
) -> None:
    translators: Any = load_translators()
    site = SimpleNamespace(deadlines=CaseDeadlines(2, 21, 60), has_board=has_board)
    ctx: Any = SimpleNamespace(t=translators[language], language=language, site=site)
    line = _deadlines(ctx)
    assert expected in line
    assert has_board or "board" not in line


# --- who runs the service and who reads which report, through the real report flow ------------------

OPERATOR = {"zh": "深圳示例科技有限公司", "en": "Shenzhen Example Technology Ltd."}
BOARD_NAME = {"zh": "女工关爱小组", "en": "women workers' care group"}
SITES: dict[str, dict[str, object]] = {
    "main": {
        "name": {"zh": "一号厂", "en": "Factory One"},
        "operator": OPERATOR,
        "facts": {"advocacy_board_name": BOARD_NAME},
    },
    "north": {"name": {"zh": "北厂", "en": "North Plant"}},
}


@pytest.fixture
async def sites_runtime(
    database_url: str,
    tmp_path: Path,
    keyring: KeyRing,
    clock: Clock,
    faq_service: LibraryFaqService,
    quiz_library: QuizLibrary,
    receipt_hasher: ReceiptHasher,
) -> AsyncIterator[Core]:
    config = make_config(database_url, tmp_path / "data", **SITES)
    built = await build_core(
        config, keyring=keyring, clock=clock, faq=faq_service, quizzes=quiz_library, hasher=receipt_hasher
    )
    try:
        yield built
    finally:
        await built.close()


async def notice_for(runtime: Core, site: str, language: str) -> list[str]:
    worker = Worker(runtime, f"reader-{site}-{language}", language=language, site=site)
    await worker.send("/start")
    await worker.choose("report")
    assert worker.choices[:2] == ["agree", "decline"]
    return worker.last.replies[-1].text.splitlines()


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_the_notice_names_the_operator_the_readers_and_the_board_in_one_block(
    sites_runtime: Core, language: str
) -> None:
    lines = await notice_for(sites_runtime, "main", language)
    t = sites_runtime.services.translators[language]
    heading = lines.index(t("Who runs this service and who reads your report:"))
    block = lines[heading + 1 : heading + 5]
    operator, hr, board, logged = block
    assert OPERATOR[language] in operator
    assert ("一号厂" if language == "zh" else "Factory One") in hr
    assert ("人事部" if language == "zh" else "HR case handlers") in hr
    assert BOARD_NAME[language] in board
    roles = ("主管", "经理", "人事部") if language == "zh" else ("supervisor", "manager", "HR")
    assert all(role in board for role in roles)
    assert ("看不到" if language == "zh" else "cannot list it or open it") in board
    assert ("记录" if language == "zh" else "logged") in logged
    assert sum(OPERATOR[language] in line for line in lines) == 1, "the operator is named once, in the block"


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_a_site_without_its_own_settings_gets_the_default_operator_and_board_name(
    sites_runtime: Core, language: str
) -> None:
    text = "\n".join(await notice_for(sites_runtime, "north", language))
    default_operator = {"zh": "本厂人力资源部", "en": "the HR department of this factory"}[language]
    assert default_operator in text
    assert DEFAULT_FACTS["advocacy_board_name"][language] in text
    assert BOARD_NAME[language] not in text and OPERATOR[language] not in text


FAQ_READERS = {
    "data-privacy": {
        "zh": ("{operator}", "{advocacy_board_name}", "主管", "打不开", "记录"),
        "en": ("{operator}", "{advocacy_board_name}", "supervisor", "cannot list it or open it", "logged"),
    },
    "advocacy-board": {"zh": ("人事部", "主管", "打不开"), "en": ("HR", "supervisor", "cannot list it or open it")},
    "how-to-report": {"zh": ("{advocacy_board_name}", "主管"), "en": ("{advocacy_board_name}", "supervisor")},
    "harasser-is-supervisor": {
        "zh": ("{advocacy_board_name}", "人事部看不到", "打不开"),
        "en": ("{advocacy_board_name}", "HR cannot list or open"),
    },
}


@pytest.mark.parametrize("entry_id", sorted(FAQ_READERS))
@pytest.mark.parametrize("language", ["zh", "en"])
def test_faq_answers_say_who_reads_reports_as_the_notice_does(
    faq_service: LibraryFaqService, entry_id: str, language: str
) -> None:
    answer = faq_service.library.snapshot.entries[entry_id].answer(language)
    missing = [word for word in FAQ_READERS[entry_id][language] if word not in answer]
    assert not missing, (entry_id, language, missing)


@pytest.mark.parametrize(
    ("language", "minutes", "expected"),
    [
        ("en", 60, "within 60 minutes"),
        ("zh", 30, "30分钟内"),
        ("en", 0, "as soon as you submit"),
        ("zh", 0, "你一提交"),
    ],
)
def test_alert_timing_follows_the_configured_delay(language: str, minutes: int, expected: str) -> None:
    translators: Any = load_translators()
    ctx: Any = SimpleNamespace(t=translators[language], language=language)
    assert expected in _alert_timing(ctx, timedelta(minutes=minutes))
