"""Signing in with a name, a password and a code from the authenticator app; shared by the desk's
login page and ``hapbot cases --as``.

Failures are throttled per account and per address (:mod:`storage.web_sessions`), never for
everyone. The password is checked outside any transaction (argon2id is slow on purpose), and an
unknown name costs the same check, so timing does not tell which names exist. Every attempt is
audited, content-free: a success in the transaction that creates the session, a failure or a
throttled try in a transaction of its own that nothing can roll back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.web.desk import totp
from bot.web.desk.context import UNKNOWN_ACCOUNT, Desk
from storage import audit
from storage.crypto import DecryptionError, Purpose
from storage.people import Person
from storage.web_sessions import FREE_FAILURES_ACCOUNT, FREE_FAILURES_ADDRESS, SessionKind

MAX_FIELD = 256


@dataclass(frozen=True, repr=False)
class SignInResult:
    """``person`` (and a session ``token`` when one was asked for) on success; ``wait`` when the
    account or address must wait before trying again; neither on a refusal."""

    person: Person | None = None
    token: str | None = None
    wait: timedelta | None = None

    def __repr__(self) -> str:
        return f"SignInResult(person={self.person.name if self.person else None!r}, wait={self.wait})"


async def sign_in(
    desk: Desk,
    name: str,
    password: str,
    code: str,
    address: str,
    now: datetime,
    *,
    channel: str = "desk",
    create_session: bool = True,
) -> SignInResult:
    """Checks the three and, when they hold, opens a session (``channel`` names the audit entries:
    ``desk:login``, ``cli:login_failed``, …)."""
    name, password, code = name.strip()[:MAX_FIELD], password[:MAX_FIELD], code[:MAX_FIELD]
    async with desk.database.transaction(write=False) as session:
        account = await desk.accounts.by_name(session, name) if name else None
        account_key = (
            f"account:{account.id}"
            if account
            else f"name:{desk.crypto.pseudonym(Purpose.RATE_LIMIT, f'desk-name:{name}')}"
        )
        address_key = f"address:{desk.crypto.pseudonym(Purpose.RATE_LIMIT, f'desk-address:{address}')}"
        blocked_until = await desk.throttles.blocked_until(session, [account_key, address_key], now)
    actor = account.name if account else UNKNOWN_ACCOUNT
    if blocked_until is not None:
        await desk.audit(actor, f"{channel}:login_throttled", now)
        return SignInResult(wait=blocked_until - now)
    usable = account is not None and account.enrolled and not account.disabled
    password_ok = await desk.hasher.verify(account.password_hash if usable and account else None, password)
    step = None
    if usable and password_ok and account is not None:
        try:
            secret = desk.accounts.totp_secret(account)
        except DecryptionError:
            secret = None
        if secret is not None:
            step = totp.matching_step(secret, code, now, account.totp_last_step)
    if account is not None and step is not None:
        async with desk.database.transaction() as session:
            if await desk.accounts.accept_totp_step(session, account.id, step, account.password_hash):
                await desk.throttles.clear(session, account_key)
                token = None
                if create_session:
                    expires = now + min(desk.settings.idle, desk.settings.absolute)
                    token = await desk.sessions.create(session, account.id, SessionKind.SIGNED_IN, now, expires)
                await audit.record(session, account.name, f"{channel}:login", None, now)
                return SignInResult(person=account.person, token=token)
    async with desk.database.transaction() as session:
        await desk.throttles.fail(session, account_key, FREE_FAILURES_ACCOUNT, now)
        await desk.throttles.fail(session, address_key, FREE_FAILURES_ADDRESS, now)
        await audit.record(session, actor, f"{channel}:login_failed", None, now)
    return SignInResult()
