"""Training records a worker chose to keep: employee number (sealed), quiz, day and pass or not.

The table is apart from everything a worker does anonymously: no pseudonym, no conversation, no
case, and the day of completion only. The employee number is sealed to its row, so the database
alone reveals nothing; only the export for HR opens it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Binding, Crypto
from .models import TrainingRecord, random_id

_TABLE = "training_records"


@dataclass(frozen=True, repr=False)
class TrainingEntry:
    """One record as HR exports it."""

    employee_number: str
    quiz: str
    completed_on: date
    passed: bool

    def __repr__(self) -> str:
        return f"TrainingEntry(quiz={self.quiz!r}, completed_on={self.completed_on}, passed={self.passed})"


class TrainingRecords:
    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    @staticmethod
    def _binding(row_id: str) -> Binding:
        return Binding(_TABLE, "employee_ct", row_id)

    async def add(
        self, session: AsyncSession, *, site: str, quiz: str, completed_on: date, passed: bool, employee_number: str
    ) -> None:
        """Keeps one completion; the employee number is sealed to the new row."""
        row_id = random_id()
        sealed = self._crypto.seal_internal(employee_number.encode("utf-8"), self._binding(row_id))
        session.add(
            TrainingRecord(
                id=row_id, site=site, quiz=quiz, completed_on=completed_on, passed=passed, employee_ct=sealed
            )
        )

    async def between(self, session: AsyncSession, site: str, first: date, last: date) -> list[TrainingEntry]:
        """The records of ``site`` completed from ``first`` to ``last`` (both included), by day."""
        query = (
            select(TrainingRecord)
            .where(
                TrainingRecord.site == site,
                TrainingRecord.completed_on >= first,
                TrainingRecord.completed_on <= last,
            )
            .order_by(TrainingRecord.completed_on, TrainingRecord.quiz)
        )
        entries = []
        for row in await session.scalars(query):
            number = self._crypto.open_internal(row.employee_ct, self._binding(row.id)).decode("utf-8")
            entries.append(TrainingEntry(number, row.quiz, row.completed_on, row.passed))
        return sorted(entries, key=lambda e: (e.completed_on, e.quiz, e.employee_number))

    async def count_between(self, session: AsyncSession, site: str, first: date, last: date) -> int:
        """How many records of ``site`` were completed from ``first`` to ``last`` (none is opened)."""
        query = select(func.count()).select_from(TrainingRecord).where(
            TrainingRecord.site == site, TrainingRecord.completed_on >= first, TrainingRecord.completed_on <= last
        )
        return int((await session.execute(query)).scalar_one())

    async def delete_before(self, session: AsyncSession, day: date) -> int:
        """Deletes the records completed before ``day`` (past their retention); returns how many went."""
        result = await session.execute(delete(TrainingRecord).where(TrainingRecord.completed_on < day))
        return int(getattr(result, "rowcount", 0) or 0)
