"""Platform access tokens shared by every replica, sealed with the internal key.

A token grants a whole platform account (WeChat keeps one valid token per app), so it is stored
sealed and bound to its row; the expiry stays in plaintext so a holder can tell, before opening
it, whether to refresh. Who may refresh and when is the caller's business (the WeChat token
manager locks around these calls); this repository only reads, writes and drops the row.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import Binding, Crypto, DecryptionError
from .models import PlatformToken
from .outbox import as_utc


@dataclass(frozen=True, repr=False)
class StoredToken:
    """A token and the moment it stops working; its repr never shows the token."""

    token: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"StoredToken(expires_at={self.expires_at.isoformat()})"


def _binding(name: str) -> Binding:
    return Binding("platform_tokens", "token_ct", name)


class PlatformTokenRepository:
    """Load, save and drop a named token; every method takes the caller's session and never commits."""

    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto

    async def load(self, session: AsyncSession, name: str) -> StoredToken | None:
        """The stored token, or None if there is none.

        Raises :class:`DecryptionError` when the row cannot be opened (keys changed, or tampering),
        so the caller can say so and fetch a new one.
        """
        row = (
            await session.execute(
                select(PlatformToken.token_ct, PlatformToken.expires_at).where(PlatformToken.name == name)
            )
        ).one_or_none()
        if row is None:
            return None
        try:
            token = self._crypto.open_internal(row.token_ct, _binding(name)).decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("token is not text") from None
        return StoredToken(token, as_utc(row.expires_at))

    async def save(self, session: AsyncSession, name: str, token: str, expires_at: datetime) -> None:
        """Stores ``token`` under ``name``, replacing any token stored before."""
        sealed = self._crypto.seal_internal(token.encode("utf-8"), _binding(name))
        row = await session.get(PlatformToken, name)
        if row is None:
            session.add(PlatformToken(name=name, token_ct=sealed, expires_at=expires_at))
        else:
            row.token_ct = sealed
            row.expires_at = expires_at

    async def invalidate(self, session: AsyncSession, name: str, bad_token: str) -> bool:
        """Drops the stored token if it still is ``bad_token``; returns whether it did.

        A token that was replaced meanwhile is kept, so a late complaint about an old token never
        throws away a fresh one. Raises :class:`DecryptionError` like :meth:`load`.
        """
        stored = await self.load(session, name)
        if stored is None or not hmac.compare_digest(stored.token.encode(), bad_token.encode()):
            return False
        await session.execute(delete(PlatformToken).where(PlatformToken.name == name))
        return True
