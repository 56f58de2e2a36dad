"""Scripted conversations shared by tests and benchmarks."""

from __future__ import annotations

import re

from storage.receipts import RECEIPT_PATTERN

RECEIPT_LINE = re.compile(r"^([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})$", re.MULTILINE)
REFERENCE = re.compile(r"HAP-[0-9A-Z]{6}")


def report_script(story: list[str], *, category: str = "verbal", involved: str = "coworker",
                  urgency: str = "normal", notify: str = "notify_no") -> list[dict[str, str]]:
    """The JSON-mode lines of a complete report, from the menu to submit."""
    return [
        {"choice": "report"},
        {"choice": "agree"},
        *({"text": line} for line in story),
        {"choice": "done"},
        {"choice": category},
        {"choice": "this_week"},
        {"choice": "workshop"},
        {"choice": involved},
        {"choice": "skip"},
        {"choice": urgency},
        {"choice": notify},
        {"choice": "submit"},
    ]


def receipt_in(text: str) -> str:
    """The receipt shown on a line of its own; fails the test if there is none or several."""
    found = RECEIPT_LINE.findall(text)
    assert len(found) == 1, f"expected one receipt line, found {len(found)}"
    assert RECEIPT_PATTERN.match(found[0])
    return found[0]


def reference_in(text: str) -> str:
    match = REFERENCE.search(text)
    assert match, "no case reference in the reply"
    return match.group(0)
