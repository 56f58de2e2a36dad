"""Desk accounts: who may sign in to the HR desk, with which role and for which sites.

A person is added by an operator (``hapbot hr add``), which gives them a one-time enrolment link;
through it they set a password and a second factor (TOTP). Nothing secret is stored as it is:

* the password as an argon2id hash (:class:`PasswordHasher`, computed outside any transaction);
* the TOTP secret sealed to its row (:mod:`storage.crypto`), and the last accepted 30-second step,
  so one code signs in once;
* the enrolment token as a SHA-256 hash: the token is 256 random bits, so a fast hash does; it is
  valid for :data:`ENROLMENT_VALID` and stops working once enrolment completes.

Disabling or resetting an account deletes its sessions in the same transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Binding, Crypto
from .models import DeskAccount, DeskSession
from .outbox import as_utc
from .people import Person, Role

ENROLMENT_VALID = timedelta(hours=24)
NAME_PATTERN = re.compile(r"(?=.{1,64}\Z)[\w.-]+(?: [\w.-]+)*")  # the same rule as bot.config.ACCOUNT_NAME
TOKEN_BYTES = 32


class AccountExists(Exception):
    """An account of that name exists already."""


class UnknownAccount(Exception):
    """No account has that name."""


class InvalidName(ValueError):
    """A name an account cannot have; ``str()`` says what a name may hold."""


def token_hash(token: str) -> str:
    """The stored form of a random token (enrolment link, session cookie): its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh 256-bit URL-safe token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True, repr=False)
class Account:
    """One account as read back. Its repr names the account only, never a hash or a secret."""

    id: str
    name: str
    role: Role
    sites: frozenset[str]
    disabled: bool
    password_hash: str | None
    totp_secret_ct: bytes | None
    totp_last_step: int
    enrolment_hash: str | None
    enrolment_expires_at: datetime | None

    def __repr__(self) -> str:
        return f"Account({self.name!r}, {self.role.value})"

    @property
    def enrolled(self) -> bool:
        return self.password_hash is not None and self.totp_secret_ct is not None

    @property
    def person(self) -> Person:
        return Person(account_id=self.id, name=self.name, role=self.role, sites=self.sites)


def _account(row: DeskAccount) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        sites=frozenset(json.loads(row.sites)),
        disabled=row.disabled,
        password_hash=row.password_hash,
        totp_secret_ct=row.totp_secret_ct,
        totp_last_step=row.totp_last_step,
        enrolment_hash=row.enrolment_hash,
        enrolment_expires_at=None if row.enrolment_expires_at is None else as_utc(row.enrolment_expires_at),
    )


def _totp_binding(account_id: str) -> Binding:
    return Binding(DeskAccount.__tablename__, "totp_secret_ct", account_id)


class Accounts:
    """The repository of desk accounts; every method takes the caller's session and never commits."""

    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    async def add(
        self, session: AsyncSession, name: str, role: Role, sites: Iterable[str], now: datetime
    ) -> tuple[Account, str]:
        """Creates an account with no credentials yet; returns it and its enrolment token."""
        if not NAME_PATTERN.fullmatch(name):
            raise InvalidName("a name is 1 to 64 letters, digits, '.', '_' or '-', with single spaces between words")
        if await self.by_name(session, name) is not None:
            raise AccountExists(name)
        token = new_token()
        row = DeskAccount(
            name=name,
            role=role.value,
            sites=json.dumps(sorted(set(sites))),
            disabled=False,
            totp_last_step=0,
            enrolment_hash=token_hash(token),
            enrolment_expires_at=now + ENROLMENT_VALID,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        return _account(row), token

    async def by_name(self, session: AsyncSession, name: str) -> Account | None:
        row = (await session.execute(select(DeskAccount).where(DeskAccount.name == name))).scalar_one_or_none()
        return None if row is None else _account(row)

    async def by_id(self, session: AsyncSession, account_id: str) -> Account | None:
        row = await session.get(DeskAccount, account_id)
        return None if row is None else _account(row)

    async def all(self, session: AsyncSession) -> list[Account]:
        rows = (await session.execute(select(DeskAccount).order_by(DeskAccount.name))).scalars()
        return [_account(row) for row in rows]

    async def by_enrolment_token(self, session: AsyncSession, token: str, now: datetime) -> Account | None:
        """The account a still-valid enrolment token belongs to (not expired, not used, not disabled)."""
        if not token or len(token) > 100:
            return None
        query = select(DeskAccount).where(DeskAccount.enrolment_hash == token_hash(token))
        row = (await session.execute(query)).scalar_one_or_none()
        if row is None or row.disabled or row.enrolment_expires_at is None:
            return None
        if as_utc(row.enrolment_expires_at) <= now:
            return None
        return _account(row)

    async def complete_enrolment(
        self,
        session: AsyncSession,
        account_id: str,
        enrolment_hash: str,
        password_hash: str,
        totp_secret: str,
        totp_step: int,
        now: datetime,
    ) -> bool:
        """Sets the password and the second factor, and uses up the enrolment token; False (nothing
        changed) when the token was used, replaced or expired meanwhile, or the account disabled."""
        sealed = self._crypto.seal_internal(totp_secret.encode("ascii"), _totp_binding(account_id))
        result = await session.execute(
            update(DeskAccount)
            .where(
                DeskAccount.id == account_id,
                DeskAccount.enrolment_hash == enrolment_hash,
                DeskAccount.enrolment_expires_at > now,
                DeskAccount.disabled.is_(False),
            )
            .values(
                password_hash=password_hash,
                totp_secret_ct=sealed,
                totp_last_step=totp_step,
                enrolment_hash=None,
                enrolment_expires_at=None,
                updated_at=now,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await session.execute(delete(DeskSession).where(DeskSession.account_id == account_id))
        return True

    def totp_secret(self, account: Account) -> str | None:
        """The account's TOTP secret (base32), or None before enrolment."""
        if account.totp_secret_ct is None:
            return None
        return self._crypto.open_internal(account.totp_secret_ct, _totp_binding(account.id)).decode("ascii")

    async def accept_totp_step(
        self, session: AsyncSession, account_id: str, step: int, password_hash: str | None = None
    ) -> bool:
        """Records that a code of ``step`` was used; False when that step (or a later one) was used
        already, so a code cannot sign in twice. With ``password_hash`` (the one a sign-in checked,
        outside any transaction), also False unless the account still has that password, its
        second factor and is enabled: a reset or a disable committed while the password was being
        checked must not be outlived by a session made with the old credentials."""
        condition = [DeskAccount.id == account_id, DeskAccount.totp_last_step < step]
        if password_hash is not None:
            condition += [
                DeskAccount.password_hash == password_hash,
                DeskAccount.totp_secret_ct.is_not(None),
                DeskAccount.disabled.is_(False),
            ]
        result = await session.execute(update(DeskAccount).where(*condition).values(totp_last_step=step))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def disable(self, session: AsyncSession, name: str, now: datetime) -> Account:
        """Disables the account and ends its sessions at once; its enrolment link stops working."""
        account = await self._require(session, name)
        await session.execute(
            update(DeskAccount)
            .where(DeskAccount.id == account.id)
            .values(disabled=True, enrolment_hash=None, enrolment_expires_at=None, updated_at=now)
        )
        await session.execute(delete(DeskSession).where(DeskSession.account_id == account.id))
        return account

    async def reset(self, session: AsyncSession, name: str, now: datetime) -> tuple[Account, str]:
        """Forgets the password and the second factor, ends every session and issues a new enrolment
        token (the old link stops working). A disabled account is enabled again."""
        account = await self._require(session, name)
        token = new_token()
        await session.execute(
            update(DeskAccount)
            .where(DeskAccount.id == account.id)
            .values(
                disabled=False,
                password_hash=None,
                totp_secret_ct=None,
                totp_last_step=0,
                enrolment_hash=token_hash(token),
                enrolment_expires_at=now + ENROLMENT_VALID,
                updated_at=now,
            )
        )
        await session.execute(delete(DeskSession).where(DeskSession.account_id == account.id))
        return account, token

    async def _require(self, session: AsyncSession, name: str) -> Account:
        account = await self.by_name(session, name)
        if account is None:
            raise UnknownAccount(name)
        return account


class PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106, low memory); hashing and checking run in a
    thread, never inside a transaction, as everything slow does here."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; with no hash (no such account, not enrolled) it still
        spends the time of one check and answers False, so timing does not tell names apart."""
        if password_hash is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            password_hash, password = self._dummy, password + "\x00never"
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
