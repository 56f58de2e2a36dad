"""Typed answers to numbered choices: the number in every form workers type it."""

from __future__ import annotations

import pytest

from handlers.commands import choice_number, normalise, typed_choice

OFFERED = ["workshop", "office", "dormitory", "canteen", "commute", "online", "elsewhere", "skip", "danger", "x", "y"]
LABELS = {"workshop": "车间或生产线", "office": "办公室", "dormitory": "宿舍"}


@pytest.mark.parametrize(
    ("typed", "number"),
    [("1", 1), ("１", 1), ("①", 1), ("一", 1), ("第一个", 1), ("第1个", 1), ("选2", 2), ("我选二", 2),
     ("2号", 2), ("两", 2), ("三。", 3), ("十", 10), ("十一", 11), (" 3 ", 3), ("第三项", 3)],
)
def test_a_number_in_any_form_names_the_choice(typed: str, number: int) -> None:
    assert choice_number(normalise(typed)) == number
    assert typed_choice(typed, OFFERED, LABELS, numbers=True) == OFFERED[number - 1]


@pytest.mark.parametrize("typed", ["一下", "第一次", "是", "二手", "12", "0"])
def test_other_words_and_numbers_out_of_range_name_no_choice(typed: str) -> None:
    assert typed_choice(typed, OFFERED, LABELS, numbers=True) is None


def test_numbers_count_only_where_the_channel_shows_them() -> None:
    assert typed_choice("1", OFFERED, LABELS, numbers=False) is None
    assert typed_choice("办公室", OFFERED, LABELS, numbers=False) == "office"
