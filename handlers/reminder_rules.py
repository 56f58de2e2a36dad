"""The small calendar language of reminder schedules, and quiet hours: pure functions, no I/O.

Shared by the config (which validates schedules without loading the database layer), the
conversation (a worker's own quiet hours) and the reminder jobs. A rule names days of the year in
words an HR officer can read and write:

* ``first wednesday of march, september`` — the nth (first…fourth, or last) weekday of some months;
* ``first monday of every month``;
* ``day 15 of every month`` / ``day 1 of january, july`` — a fixed day (1–28, so every month has it).

Quiet hours are ``HH:MM-HH:MM`` in the site's time zone; a span that crosses midnight
(``22:00-07:00``) is the usual case, and ``off`` means none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": -1}
QUIET_OFF = "off"
_NTH = re.compile(r"^(?P<nth>\w+)\s+(?P<weekday>[a-z]+)\s+of\s+(?P<months>.+)$")
_DAY = re.compile(r"^day\s+(?P<day>\d{1,2})\s+of\s+(?P<months>.+)$")
_CLOCK = re.compile(r"^(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)$")


class RuleError(ValueError):
    """A rule, time or quiet-hours value that cannot be read; the message says what is accepted."""


def _by_prefix(word: str, names: tuple[str, ...], what: str) -> int:
    """The index of ``word`` in ``names``, by full name or its first three letters."""
    for index, name in enumerate(names):
        if word == name or (len(word) >= 3 and name.startswith(word)):
            return index
    raise RuleError(f"{word!r} is not a {what} (use one of {', '.join(names)})")


def _months(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text in ("every month", "each month", "all months"):
        return tuple(range(1, 13))
    words = [word.strip() for word in re.split(r"[,\s]+(?:and\s+)?", text) if word.strip() and word != "and"]
    if not words:
        raise RuleError("name the months, e.g. 'of march, september' or 'of every month'")
    return tuple(sorted({_by_prefix(word, MONTHS, "month") + 1 for word in words}))


@dataclass(frozen=True)
class DayRule:
    """Days of the year: the ``nth`` ``weekday`` (0 = Monday; ``nth`` -1 = the last) of ``months``,
    or day ``day`` of ``months`` when ``weekday`` is None."""

    months: tuple[int, ...]
    nth: int = 1
    weekday: int | None = None
    day: int = 1

    def in_month(self, year: int, month: int) -> date | None:
        if month not in self.months:
            return None
        if self.weekday is None:
            return date(year, month, self.day)
        if self.nth > 0:
            first = date(year, month, 1)
            offset = (self.weekday - first.weekday()) % 7
            return first + timedelta(days=offset + 7 * (self.nth - 1))
        last = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - self.weekday) % 7)

    def dates(self, start: date, end: date) -> Iterator[date]:
        """The rule's days from ``start`` to ``end``, both included, in order."""
        year, month = start.year, start.month
        while date(year, month, 1) <= end:
            found = self.in_month(year, month)
            if found is not None and start <= found <= end:
                yield found
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def parse_rule(text: str) -> DayRule:
    """Reads a schedule rule; raises :class:`RuleError` saying what is accepted."""
    rule = " ".join(text.strip().lower().split())
    if match := _DAY.match(rule):
        day = int(match["day"])
        if not 1 <= day <= 28:
            raise RuleError("day N of …: N must be 1 to 28, so that every month has it")
        return DayRule(_months(match["months"]), day=day)
    if match := _NTH.match(rule):
        nth = ORDINALS.get(match["nth"])
        if nth is None:
            raise RuleError(f"{match['nth']!r}: use first, second, third, fourth or last")
        return DayRule(_months(match["months"]), nth=nth, weekday=_by_prefix(match["weekday"], WEEKDAYS, "weekday"))
    raise RuleError(
        "write a rule like 'first wednesday of march, september', 'last friday of every month' "
        "or 'day 15 of every month'"
    )


def parse_clock(text: str) -> time:
    """``HH:MM`` (24-hour) as a time."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise RuleError(f"{text!r} is not a time of day; write HH:MM, e.g. 09:00")
    return time(int(match["h"]), int(match["m"]))


@dataclass(frozen=True)
class QuietHours:
    """No reminder arrives from ``start`` to ``end`` (local time); ``start == end`` means none."""

    start: time
    end: time

    @property
    def off(self) -> bool:
        return self.start == self.end

    def covers(self, moment: time) -> bool:
        if self.off:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def next_allowed(self, local: datetime) -> datetime:
        """``local`` itself when it is outside the quiet hours, else the moment they end."""
        if not self.covers(local.time()):
            return local
        end = datetime.combine(local.date(), self.end, tzinfo=local.tzinfo)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=local.tzinfo)
        return end

    def __str__(self) -> str:
        return QUIET_OFF if self.off else f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_quiet(text: str) -> QuietHours:
    """``HH:MM-HH:MM`` (``21-8`` and ``21:30-7`` too) or ``off``."""
    value = text.strip().lower().replace("–", "-").replace("～", "-").replace("~", "-")
    if value in (QUIET_OFF, "none", ""):
        return QuietHours(time(0), time(0))
    start, separator, end = value.partition("-")
    if not separator:
        raise RuleError(f"{text!r}: write quiet hours as HH:MM-HH:MM, e.g. 22:00-07:00, or off")

    def clock(part: str) -> time:
        part = part.strip()
        return parse_clock(part if ":" in part else f"{part}:00")

    return QuietHours(clock(start), clock(end))


def zone(name: str) -> ZoneInfo:
    """The time zone of that IANA name (``Asia/Shanghai``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError(f"{name!r} is not a time zone name; use an IANA name such as Asia/Shanghai") from None


def at_local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """That day at that time in the zone, as an aware datetime."""
    return datetime.combine(day, clock, tzinfo=tz)
