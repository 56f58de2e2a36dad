"""Desk sessions and sign-in throttles.

A session row is keyed by the SHA-256 of the random token in the browser's cookie, so a copy of
the database holds no cookie that works. What the session is (signed in, or an enrolment in
progress with the TOTP secret being set up) is sealed to its row. The times are plaintext: the
desk checks them on every request, and the cleaner deletes rows past ``expires_at``.

Throttles count failed sign-ins per account and per address (a keyed hash of it, never the
address): :data:`FREE_FAILURES_ACCOUNT` / :data:`FREE_FAILURES_ADDRESS` are free, then each next
try waits a delay that doubles from one second up to :data:`MAX_DELAY`. A throttled account or
address slows down alone; there is no global lockout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .accounts import new_token, token_hash
from .crypto import Binding, Crypto
from .models import DeskLoginThrottle, DeskSession
from .outbox import as_utc

FREE_FAILURES_ACCOUNT = 5
FREE_FAILURES_ADDRESS = 50
MAX_DELAY = timedelta(minutes=15)
THROTTLE_MEMORY = timedelta(hours=24)


class SessionKind(StrEnum):
    SIGNED_IN = "signed_in"
    ENROLMENT = "enrolment"


@dataclass(frozen=True, repr=False)
class WebSession:
    """One session as read back. ``totp_pending`` and ``enrolment_hash`` are set while enrolling."""

    token_hash: str
    account_id: str
    kind: SessionKind
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    totp_pending: str | None = None
    enrolment_hash: str | None = None

    def __repr__(self) -> str:
        return f"WebSession({self.kind.value})"


def _binding(key: str) -> Binding:
    return Binding(DeskSession.__tablename__, "data_ct", key)


class WebSessions:
    """The repository of desk sessions; every method takes the caller's session and never commits."""

    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    async def create(
        self,
        session: AsyncSession,
        account_id: str,
        kind: SessionKind,
        now: datetime,
        expires_at: datetime,
        *,
        totp_pending: str | None = None,
        enrolment_hash: str | None = None,
    ) -> str:
        """Stores a new session and returns its token (for the cookie; only its hash is kept)."""
        token = new_token()
        key = token_hash(token)
        document = {"kind": kind.value, "totp_pending": totp_pending, "enrolment_hash": enrolment_hash}
        session.add(
            DeskSession(
                token_hash=key,
                account_id=account_id,
                data_ct=self._crypto.seal_internal_json(document, _binding(key)),
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
            )
        )
        await session.flush()
        return token

    async def find(self, session: AsyncSession, token: str) -> WebSession | None:
        """The session a cookie's token names, or None (unknown, or a row that does not open)."""
        if not token or len(token) > 100:
            return None
        key = token_hash(token)
        row = await session.get(DeskSession, key)
        if row is None:
            return None
        document = self._crypto.open_internal_json(row.data_ct, _binding(key))
        return WebSession(
            token_hash=key,
            account_id=row.account_id,
            kind=SessionKind(document["kind"]),
            created_at=as_utc(row.created_at),
            last_seen_at=as_utc(row.last_seen_at),
            expires_at=as_utc(row.expires_at),
            totp_pending=document.get("totp_pending"),
            enrolment_hash=document.get("enrolment_hash"),
        )

    async def touch(self, session: AsyncSession, key: str, now: datetime, expires_at: datetime) -> None:
        await session.execute(
            update(DeskSession).where(DeskSession.token_hash == key).values(last_seen_at=now, expires_at=expires_at)
        )

    async def end(self, session: AsyncSession, key: str) -> None:
        await session.execute(delete(DeskSession).where(DeskSession.token_hash == key))

    async def end_all(self, session: AsyncSession, account_id: str) -> None:
        await session.execute(delete(DeskSession).where(DeskSession.account_id == account_id))

    async def count_for(self, session: AsyncSession, account_id: str) -> int:
        rows = await session.execute(select(DeskSession.token_hash).where(DeskSession.account_id == account_id))
        return len(rows.all())



async def delete_expired(session: AsyncSession, now: datetime) -> int:
    """Deletes sessions and throttles past their time (the hourly cleaner); returns the sessions ended."""
    ended = await session.execute(delete(DeskSession).where(DeskSession.expires_at <= now))
    await session.execute(delete(DeskLoginThrottle).where(DeskLoginThrottle.expires_at <= now))
    return int(getattr(ended, "rowcount", 0) or 0)


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    blocked_until: datetime | None


def _delay(failures: int, free: int) -> timedelta:
    if failures < free:
        return timedelta(0)
    return min(MAX_DELAY, timedelta(seconds=2 ** min(failures - free, 20)))


class LoginThrottles:
    """Failed sign-ins per key (``account:<id>``, ``name:<keyed hash>``, ``address:<keyed hash>``)."""

    async def blocked_until(self, session: AsyncSession, keys: list[str], now: datetime) -> datetime | None:
        """The latest moment any of ``keys`` must wait until, or None when none is throttled now."""
        rows = await session.execute(
            select(DeskLoginThrottle.blocked_until).where(DeskLoginThrottle.key.in_(keys))
        )
        waits = [as_utc(until) for (until,) in rows if until is not None and as_utc(until) > now]
        return max(waits) if waits else None

    async def fail(self, session: AsyncSession, key: str, free: int, now: datetime) -> ThrottleState:
        """Counts one failure of ``key`` and sets how long its next try must wait."""
        row = await session.get(DeskLoginThrottle, key, with_for_update=True)
        if row is None:
            row = DeskLoginThrottle(key=key, failures=0, blocked_until=None, expires_at=now)
            session.add(row)
        row.failures += 1
        delay = _delay(row.failures, free)
        row.blocked_until = now + delay if delay else None
        row.expires_at = now + THROTTLE_MEMORY
        await session.flush()
        return ThrottleState(row.failures, row.blocked_until)

    async def clear(self, session: AsyncSession, key: str) -> None:
        await session.execute(delete(DeskLoginThrottle).where(DeskLoginThrottle.key == key))
