"""The privacy notice's retention line: whole years read as years ("保存两年"), other periods as days."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from handlers.i18n import load_translators
from handlers.privacy import _deadlines, _keeping
from storage.deadline_rules import CaseDeadlines


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
