"""storage.audit: entries are added in the caller's transaction and read back per case, oldest
first. (What CaseDesk audits is tested in test_hr_cases.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core import Core
from storage import audit

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def test_entries_are_read_back_per_case_in_order(runtime: Core) -> None:
    async with runtime.database.transaction() as session:
        await audit.record(session, "wang", "reply", "HAP-AAAA", T0 + timedelta(minutes=5))
        await audit.record(session, "wang", "read", "HAP-AAAA", T0)
        await audit.record(session, "li", "read", "HAP-BBBB", T0 + timedelta(minutes=1))
        await audit.record(session, "wang", "list", None, T0 + timedelta(minutes=2))
        entries = await audit.entries_for(session, "HAP-AAAA")  # the session's own pending entries count
    assert [(e.actor, e.action) for e in entries] == [("wang", "read"), ("wang", "reply")]
    async with runtime.database.transaction(write=False) as session:
        entries = await audit.entries_for(session, "HAP-AAAA")
        assert await audit.entries_for(session, "HAP-CCCC") == []
    assert [(_aware(e.at), e.actor, e.action) for e in entries] == [
        (T0, "wang", "read"),
        (T0 + timedelta(minutes=5), "wang", "reply"),
    ]


async def test_an_entry_vanishes_with_its_rolled_back_action(runtime: Core) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with runtime.database.transaction() as session:
            await audit.record(session, "wang", "read", "HAP-AAAA", T0)
            raise Abort
    async with runtime.database.transaction(write=False) as session:
        assert await audit.entries_for(session, "HAP-AAAA") == []
