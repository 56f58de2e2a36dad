"""Fitting text into the platforms' message limits without ever cutting a receipt: WeChat's 2,048
bytes, and Telegram's 4,096 UTF-16 units, which a limit of 4,096 UTF-8 bytes always keeps (no
character takes more UTF-16 units than UTF-8 bytes).

A receipt is the reporter's only proof of a report; half of one in each of two messages is
useless to a worker copying it on a phone. Long texts are split at line ends, and a line longer
than a whole message is cut at a space or punctuation mark, never inside anything that looks like
a receipt (``XXXX-XXXX-XXXX-XXXX``).
"""

from __future__ import annotations

import re

MAX_TEXT_BYTES = 2048  # WeChat
TELEGRAM_TEXT_BYTES = 4096
ELLIPSIS = "…"
RECEIPT_LIKE = re.compile(r"[0-9A-Za-z]{4}(?:[-－][0-9A-Za-z]{4}){3}")
_BREAK_AFTER = re.compile(r"[\s。，、；：！？,.;:!?）)]")


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _prefix_chars(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-8 bytes."""
    return len(text.encode("utf-8")[:limit].decode("utf-8", "ignore"))


def _cut_point(line: str, limit: int) -> int:
    """Where to cut an over-long line: as late as fits, outside receipts, after a break if one is near."""
    cut = _prefix_chars(line, limit)
    for match in RECEIPT_LIKE.finditer(line):
        if match.start() < cut < match.end() and match.start() > 0:
            cut = match.start()
            break
    breaks = [m.end() for m in _BREAK_AFTER.finditer(line, 0, cut)]
    if breaks and breaks[-1] > cut // 2:
        cut = breaks[-1]
    return max(cut, 1)


def _cut_line(line: str, limit: int) -> list[str]:
    """An over-long line as segments that each fit (the last may be short)."""
    segments: list[str] = []
    while utf8_len(line) > limit:
        cut = _cut_point(line, limit)
        segments.append(line[:cut].rstrip() or line[:cut])
        line = line[cut:].lstrip()
    segments.append(line)
    return segments


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """``text`` as messages of at most ``limit`` UTF-8 bytes, split at line ends where possible."""
    if utf8_len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for whole_line in text.split("\n"):
        segments = _cut_line(whole_line, limit) if utf8_len(whole_line) > limit else [whole_line]
        for segment in segments[:-1]:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(segment)
        line = segments[-1]
        candidate = f"{current}\n{line}" if current else line
        if utf8_len(candidate) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = line
    if current.strip():
        pieces.append(current)
    return [piece for piece in pieces if piece.strip()]


def cut_text(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """``text`` shortened to ``limit`` UTF-8 bytes, the cut marked with an ellipsis."""
    if utf8_len(text) <= limit:
        return text
    keep = _prefix_chars(text, limit - utf8_len(ELLIPSIS))
    return text[:keep] + ELLIPSIS
