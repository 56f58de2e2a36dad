"""Aggregate quiz figures: counters by site, quiz, question and month, and what HR may read of them.

Counters are added to in place (one upsert, safe under concurrent workers on both databases), so
no row ever names a worker. What HR reads goes through :meth:`QuizTallies.report`, which leaves
out every group of fewer than :data:`MIN_WORKERS` workers, so no caller can forget the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import QuizTally

MIN_WORKERS = 5
"""Smallest group HR may see: below it a figure could describe one or two people."""
WHOLE_QUIZ = ""
COUNTERS = ("workers", "attempts", "completions", "passes", "score_points", "score_possible", "answered", "missed")


@dataclass(frozen=True)
class Tally:
    """One group's counters (``question`` is empty for the whole quiz)."""

    site: str
    quiz: str
    question: str
    month: str
    workers: int = 0
    attempts: int = 0
    completions: int = 0
    passes: int = 0
    score_points: int = 0
    score_possible: int = 0
    answered: int = 0
    missed: int = 0

    @property
    def average_percent(self) -> float | None:
        """Average score of the completed attempts, in percent."""
        return 100 * self.score_points / self.score_possible if self.score_possible else None

    @property
    def missed_percent(self) -> float | None:
        return 100 * self.missed / self.answered if self.answered else None


class QuizTallies:
    """Adds to the counters and reads them back for HR."""

    async def add(self, session: AsyncSession, site: str, quiz: str, month: str, question: str = WHOLE_QUIZ,
                  **counts: int) -> None:
        """Adds ``counts`` (e.g. ``attempts=1``) to one group, creating it at zero first if needed."""
        unknown = set(counts) - set(COUNTERS)
        if unknown:
            raise ValueError(f"unknown counters: {sorted(unknown)}")
        if not any(counts.values()):
            return
        values: dict[str, Any] = {name: counts.get(name, 0) for name in COUNTERS}
        values.update(site=site, quiz=quiz, question=question, month=month)
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(QuizTally).values(**values)
        table = QuizTally.__table__
        statement = statement.on_conflict_do_update(
            index_elements=["site", "quiz", "question", "month"],
            set_={name: table.c[name] + statement.excluded[name] for name in counts},
        )
        await session.execute(statement)

    async def report(self, session: AsyncSession, site: str, month: str | None = None) -> list[Tally]:
        """The groups of ``site`` (in ``month``, else every month) with at least MIN_WORKERS workers."""
        return [tally for tally in await self.all(session, site, month) if tally.workers >= MIN_WORKERS]

    async def all(self, session: AsyncSession, site: str, month: str | None = None) -> list[Tally]:
        """Every group, small ones included: for tests and for :meth:`report` only, never for display."""
        query = select(QuizTally).where(QuizTally.site == site)
        if month is not None:
            query = query.where(QuizTally.month == month)
        query = query.order_by(QuizTally.month, QuizTally.quiz, QuizTally.question)
        names = [f.name for f in fields(Tally)]
        return [Tally(**{name: getattr(row, name) for name in names}) for row in (await session.scalars(query))]
