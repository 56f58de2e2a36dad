"""Who a desk request is: the session its cookie names, checked against the clock and the account.

A session ends when it has been idle for ``[web] session_idle_minutes``, when it is
``[web] session_absolute_hours`` old, when its account is disabled or reset (those delete it), or
at logout. Every check runs on every request: a disabled account's open tab is refused at its
next click. ``last_seen_at`` is written at most every :data:`TOUCH_EVERY`, so the idle timeout
holds to within that.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.web.desk.context import ANONYMOUS, Desk
from storage.crypto import DecryptionError
from storage.people import Person
from storage.web_sessions import SessionKind, WebSession

TOUCH_EVERY = timedelta(seconds=30)
ENROLMENT_SESSION = timedelta(hours=1)
CSRF_LABEL = b"hapbot desk csrf v1"


def cookie_names(secure: bool) -> tuple[str, str]:
    """The session cookie and the pre-session (CSRF seed) cookie. With Secure cookies, the
    ``__Host-`` prefix makes the browser refuse any cookie of that name set by another host or
    for another path."""
    prefix = "__Host-" if secure else ""
    return f"{prefix}hapdesk", f"{prefix}hapdesk-pre"


def csrf_token_for(seed: str) -> str:
    """The CSRF token of a browser: a MAC of its session token (or, before sign-in, of its
    pre-session cookie), so a page of another site can neither read nor make one."""
    return hmac.new(seed.encode("utf-8"), CSRF_LABEL, hashlib.sha256).hexdigest()


def csrf_token_matches(seed: str, supplied: str) -> bool:
    return hmac.compare_digest(csrf_token_for(seed).encode(), supplied.encode("utf-8", "replace"))


@dataclass(frozen=True, repr=False)
class Visit:
    """What the gate knows about a request: a signed-in ``person``, or an enrolment in progress
    (``web_session`` of kind ENROLMENT), or neither. ``ended`` says the cookie named a session that
    has ended (the gate clears the cookie)."""

    person: Person | None = None
    web_session: WebSession | None = None
    token: str | None = None
    ended: bool = False

    def __repr__(self) -> str:
        return f"Visit(person={self.person.name if self.person else None!r})"


NOBODY = Visit()


def signed_in_expiry(web_session: WebSession, now: datetime, desk: Desk) -> datetime:
    return min(now + desk.settings.idle, web_session.created_at + desk.settings.absolute)


async def resolve(desk: Desk, token: str | None, now: datetime) -> Visit:
    """The visit a session cookie's token makes; ends (and audits) a session that has run out."""
    if not token:
        return NOBODY
    async with desk.database.transaction(write=False) as session:
        try:
            web_session = await desk.sessions.find(session, token)
        except DecryptionError:
            web_session = None
        account = None if web_session is None else await desk.accounts.by_id(session, web_session.account_id)
    if web_session is None:
        return Visit(ended=True)
    reason = None
    if account is None or account.disabled:
        reason = "desk:refused_disabled"
    elif web_session.kind is SessionKind.SIGNED_IN and not account.enrolled:  # reset since: sign in anew
        reason = "desk:refused_not_enrolled"
    elif (
        now >= web_session.expires_at
        or now - web_session.last_seen_at >= desk.settings.idle
        or now - web_session.created_at >= desk.settings.absolute
    ):
        reason = "desk:session_expired"
    if reason is not None:
        async with desk.database.transaction() as session:
            await desk.sessions.end(session, web_session.token_hash)
        await desk.audit(account.name if account else ANONYMOUS, reason, now)
        return Visit(ended=True)
    assert account is not None
    if web_session.kind is SessionKind.ENROLMENT:
        return Visit(web_session=web_session, token=token)
    if now - web_session.last_seen_at >= TOUCH_EVERY:
        async with desk.database.transaction() as session:
            await desk.sessions.touch(session, web_session.token_hash, now, signed_in_expiry(web_session, now, desk))
    return Visit(person=account.person, web_session=web_session, token=token)
