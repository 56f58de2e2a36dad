"""What the desk's routes and its gate use, built once from the core and the config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Config
from bot.web.desk.templating import Pages
from storage import audit
from storage.accounts import Accounts, PasswordHasher
from storage.crypto import Crypto
from storage.database import Database
from storage.web_sessions import LoginThrottles, WebSessions

ANONYMOUS = "(anonymous)"
UNKNOWN_ACCOUNT = "(unknown account)"


@dataclass(frozen=True)
class DeskSettings:
    """``secure_cookies`` is false only for a desk tried on http://127.0.0.1 (the config checks it)."""

    public_url: str | None
    secure_cookies: bool
    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_config(cls, config: Config) -> DeskSettings:
        return cls(
            public_url=config.web.public_url,
            secure_cookies=config.web.secure_cookies,
            idle=timedelta(minutes=config.web.session_idle_minutes),
            absolute=timedelta(hours=config.web.session_absolute_hours),
        )


@dataclass(frozen=True)
class Desk:
    database: Database
    crypto: Crypto
    clock: Callable[[], datetime]
    accounts: Accounts
    sessions: WebSessions
    throttles: LoginThrottles
    hasher: PasswordHasher
    pages: Pages
    settings: DeskSettings

    async def audit(self, actor: str, action: str, now: datetime) -> None:
        """Records a sign-in event in a transaction of its own, so no later refusal rolls it back.
        Content-free: who, what, when; never a token, a password or a case."""
        async with self.database.transaction() as session:
            await audit.record(session, actor, action, None, now)
