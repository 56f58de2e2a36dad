"""The privacy notice's retention line: whole years read as years ("保存两年"), other periods as days."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from handlers.i18n import load_translators
from handlers.privacy import _keeping


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
