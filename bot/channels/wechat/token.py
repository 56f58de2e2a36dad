"""The official account's access token, shared by every replica through the database.

WeChat keeps one valid access token per app: each fetch from ``/cgi-bin/token`` replaces the
previous one (which survives about five more minutes), and fetches are limited per day. Replicas
that each fetched their own would keep invalidating each other's. So the token lives in the
database (:mod:`storage.platform_tokens`), sealed with the internal key (it grants the whole
account), and one holder at a time refreshes it: on PostgreSQL under a transaction-scoped advisory
lock, on SQLite inside the write transaction, which excludes every other writer anyway. Whoever
waited then reads the fresh token instead of fetching again. The lock is held for the fetch itself
(at most ``timeout`` seconds, about once in two hours): on SQLite other writers wait that long,
which is the price of never fetching twice.

The token is refreshed five minutes before it expires, inside WeChat's grace period, so a replica
still holding the old one is never refused for it. A call refused with 40001/42001 calls
:meth:`AccessTokenManager.invalidate` with the token it used; only that exact token is dropped,
so a late complaint about an old token never throws away a fresh one.

The token and the app secret never reach logs, reprs or exception messages: both travel in
query strings, so HTTP errors are replaced, not chained.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.wechat.errors import (
    CREDENTIALS_REJECTED,
    CredentialsRejected,
    TransientApiError,
    WeChatApiError,
    error_for,
)
from storage.crypto import Crypto, DecryptionError
from storage.database import Database, advisory_lock_id
from storage.platform_tokens import PlatformTokenRepository, StoredToken

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DEFAULT_BASE_URL = "https://api.weixin.qq.com"
REFRESH_MARGIN = timedelta(minutes=5)
DEFAULT_EXPIRES_IN = 7200
TOKEN_TIMEOUT = 10.0


def api_base(base_url: str | None) -> str:
    """The API origin without a trailing slash; ``None`` means the real WeChat."""
    return (base_url or DEFAULT_BASE_URL).rstrip("/")


class AccessTokenManager:
    """Hands out the shared access token; fetches a new one only when it is about to expire."""

    def __init__(
        self,
        database: Database,
        crypto: Crypto,
        app_id: str,
        app_secret: SecretStr | str,
        http: httpx.AsyncClient,
        clock: Clock,
        base_url: str | None = None,
        *,
        timeout: float = TOKEN_TIMEOUT,
    ) -> None:
        if not app_id:
            raise ValueError("an app id is required ([wechat] app_id)")
        self._database = database
        self._tokens = PlatformTokenRepository(crypto)
        self._app_id = app_id
        self._secret = app_secret if isinstance(app_secret, SecretStr) else SecretStr(app_secret)
        self._http = http
        self._clock = clock
        self._token_url = f"{api_base(base_url)}/cgi-bin/token"
        self._timeout = timeout
        self._name = f"wechat:{app_id}"[:32]
        self._lock_id = advisory_lock_id(f"platform_token:{self._name}")

    def __repr__(self) -> str:
        return f"AccessTokenManager(app_id={self._app_id!r})"

    async def get(self) -> str:
        """The stored token while it has more than five minutes left, else a freshly fetched one."""
        async with self._database.transaction(write=False) as session:
            stored = await self._read(session)
        if stored is not None and self._fresh(stored):
            return stored.token
        async with self._database.transaction() as session:
            await self._lock(session)
            stored = await self._read(session)
            if stored is not None and self._fresh(stored):
                return stored.token  # another holder refreshed it while we waited
            token, expires_in = await self._fetch()
            await self._tokens.save(session, self._name, token, self._clock() + timedelta(seconds=expires_in))
            log.info("fetched a new WeChat access token (valid %d s)", expires_in)
            return token

    async def invalidate(self, bad_token: str) -> None:
        """Forget ``bad_token`` after WeChat refused it (40001/42001), unless it was replaced already."""
        async with self._database.transaction() as session:
            await self._lock(session)
            try:
                dropped = await self._tokens.invalidate(session, self._name, bad_token)
            except DecryptionError:
                _log_unreadable()
                return
            if dropped:
                log.info("WeChat refused the stored access token; the next call fetches a new one")

    def _fresh(self, stored: StoredToken) -> bool:
        return stored.expires_at - self._clock() > REFRESH_MARGIN

    async def _lock(self, session: AsyncSession) -> None:
        """One refresher at a time across replicas; SQLite's write transaction already is one."""
        if self._database.dialect == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": self._lock_id})

    async def _read(self, session: AsyncSession) -> StoredToken | None:
        """The stored token; one that cannot be opened counts as none, so a new one is fetched."""
        try:
            return await self._tokens.load(session, self._name)
        except DecryptionError:
            _log_unreadable()
            return None

    async def _fetch(self) -> tuple[str, int]:
        """Asks WeChat for a new token. Errors name the errcode only: the URL carries the secret."""
        params = {"grant_type": "client_credential", "appid": self._app_id, "secret": self._secret.get_secret_value()}
        failure: WeChatApiError
        try:
            response = await self._http.get(self._token_url, params=params, timeout=self._timeout)
        except httpx.HTTPError as error:
            failure = TransientApiError(None, f"network_{type(error).__name__}")
        else:
            return self._parse(response)
        raise failure  # raised outside the except block, so the request (and its URL) is not chained

    def _parse(self, response: httpx.Response) -> tuple[str, int]:
        if response.status_code != 200:
            raise TransientApiError(None, f"http_{response.status_code}")
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TransientApiError(None, "bad_response")
        errcode = body.get("errcode", 0)
        if errcode:
            if errcode in CREDENTIALS_REJECTED:
                log.error(
                    "WeChat refused the access-token request (errcode %s): check [wechat] app_id and app_secret, "
                    "and that this server's IP is on the official account's IP allowlist",
                    errcode,
                )
                raise CredentialsRejected(int(errcode), "credentials_rejected")
            raise error_for(int(errcode)) if isinstance(errcode, int) else TransientApiError(None, "bad_response")
        token = body.get("access_token")
        expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN)
        if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            raise TransientApiError(None, "bad_response")
        return token, expires_in


def _log_unreadable() -> None:
    log.warning("the stored WeChat access token cannot be decrypted (keys changed?); fetching a new one")
