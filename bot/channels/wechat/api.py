"""The few WeChat API calls the bot makes, over wechatpy's synchronous client in worker threads.

``wechatpy.WeChatClient`` uses ``requests``, so every call runs in ``asyncio.to_thread``: the
event loop, which also answers WeChat's 5-second callbacks, never waits on the network. Each
worker thread keeps its own client (``requests.Session`` is not promised to be thread-safe).

wechatpy's own token handling is switched off: it would fetch a token per process from a
hard-coded URL (replicas would invalidate each other's) and retry refused tokens itself. The token
comes from the shared :class:`~bot.channels.wechat.token.AccessTokenManager`; a call refused with
40001/42001 invalidates exactly that token, fetches the current one and is retried once.

Errors become the typed errors of :mod:`bot.channels.wechat.errors`. wechatpy's and requests' exceptions
hold the request, whose URL carries the access token, so they are replaced (raised outside the
``except`` block, never chained). For the same reason urllib3's DEBUG log, which prints every URL,
is kept at WARNING.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import httpx
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.channels.wechat.errors import TOKEN_REJECTED, RequestRejected, TransientApiError, WeChatApiError, error_for
from bot.channels.wechat.token import AccessTokenManager, Clock, api_base
from bot.config import WechatSection
from storage.crypto import Crypto
from storage.database import Database

log = logging.getLogger(__name__)

T = TypeVar("T")
API_TIMEOUT = 10.0
MAX_MEDIA_BYTES = 10 * 1024 * 1024  # WeChat's own limit for an image
_URL_LOGGERS = ("urllib3", "requests")


class TokenSource(Protocol):
    """What the API needs of :class:`~bot.channels.wechat.token.AccessTokenManager`."""

    async def get(self) -> str: ...

    async def invalidate(self, bad_token: str) -> None: ...


class _TokenRefused(Exception):
    """WeChat refused the access token used for a call (inside a worker thread; never escapes)."""

    def __init__(self, errcode: int) -> None:
        super().__init__(f"errcode {errcode}")
        self.errcode = errcode


def _never_fetch() -> None:
    """Replaces wechatpy's own token fetch, which would use the real WeChat URL and a per-process token."""
    raise RuntimeError("wechatpy must not fetch access tokens; AccessTokenManager does")


def quiet_url_loggers() -> None:
    """Keeps urllib3/requests above DEBUG: they log request URLs, and ours carry the access token."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def build_api(
    database: Database, crypto: Crypto, section: WechatSection, http: httpx.AsyncClient, clock: Clock
) -> WeChatApi:
    """The configured official account's API, with its shared token manager (``api.tokens``).
    ``http`` serves the token fetches; the caller owns it and calls ``api.close()`` at shutdown."""
    if not section.app_id or section.app_secret is None:
        raise ValueError("[wechat] app_id and app_secret are required to call the WeChat API")
    tokens = AccessTokenManager(database, crypto, section.app_id, section.app_secret, http, clock, section.api_base_url)
    return WeChatApi(tokens, section.api_base_url)


class WeChatApi:
    """``send_text``, ``download_media``, ``create_menu`` and ``send_template`` for one official account."""

    def __init__(self, tokens: TokenSource, base_url: str | None = None, *, timeout: float = API_TIMEOUT) -> None:
        self._tokens = tokens
        self._cgi = f"{api_base(base_url)}/cgi-bin/"
        self._timeout = timeout
        self._local = threading.local()
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()
        quiet_url_loggers()

    def __repr__(self) -> str:
        return f"WeChatApi({self._cgi!r})"

    @property
    def tokens(self) -> TokenSource:
        return self._tokens

    async def send_text(self, openid: str, text: str) -> None:
        """A customer-service text message (only inside the 48-hour window; else :class:`OutsideWindow`)."""
        await self._call(lambda client: client.message.send_text(openid, text))

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, Mapping[str, str]],
        *,
        url: str | None = None,
    ) -> None:
        """A template message (needs a template configured on the account); ``data`` maps each
        template field to ``{"value": ...}``."""
        payload = {key: dict(value) for key, value in data.items()}
        await self._call(lambda client: client.message.send_template(openid, template_id, payload, url=url))

    async def create_menu(self, menu: Mapping[str, Any]) -> None:
        """Replaces the official account's custom menu (see :mod:`bot.channels.wechat.menu`)."""
        body = dict(menu)
        await self._call(lambda client: client.menu.create(body))

    async def download_media(self, media_id: str, *, max_bytes: int = MAX_MEDIA_BYTES) -> bytes:
        """The bytes of a temporary media file a worker sent (kept by WeChat for three days)."""
        result = await self._call(lambda client: client.media.download(media_id))
        if not isinstance(result, requests.Response):
            # wechatpy hands back JSON it could parse (video links, odd bodies) instead of the response.
            raise RequestRejected(None, "not_media")
        content = result.content
        if len(content) > max_bytes:
            raise RequestRejected(None, "media_too_large")
        return content

    def close(self) -> None:
        """Closes every worker thread's HTTP session."""
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client._http.close()

    async def _call(self, call: Callable[[Any], T]) -> T:
        """Runs ``call`` with the shared token; after a refused token, once more with a fresh one."""
        token = await self._tokens.get()
        try:
            return await asyncio.to_thread(self._run, token, call)
        except _TokenRefused:
            pass
        await self._tokens.invalidate(token)
        fresh = await self._tokens.get()
        failure: WeChatApiError
        try:
            return await asyncio.to_thread(self._run, fresh, call)
        except _TokenRefused as refused:
            log.error("WeChat refused a freshly fetched access token (errcode %s)", refused.errcode)
            failure = TransientApiError(refused.errcode, "token_rejected")
        raise failure

    def _run(self, token: str, call: Callable[[Any], T]) -> T:
        """In a worker thread: the call, with wechatpy's and requests' exceptions made typed."""
        client = self._client(token)
        failure: Exception
        try:
            return call(client)
        except WeChatClientException as error:
            errcode = error.errcode
            if errcode is None:
                status = getattr(error.response, "status_code", None)
                failure = TransientApiError(None, f"http_{status}" if status else "http_error")
            elif int(errcode) in TOKEN_REJECTED:
                failure = _TokenRefused(int(errcode))
            else:
                failure = error_for(int(errcode))
        except requests.RequestException as error:
            failure = TransientApiError(None, f"network_{type(error).__name__}")
        raise failure

    def _client(self, token: str) -> Any:
        """This thread's client, holding ``token`` as a caller-provided token (so it never refreshes)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = WeChatClient("hapbot", "", timeout=self._timeout, auto_retry=False)
            client.API_BASE_URL = self._cgi
            client.fetch_access_token = _never_fetch
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        client.session.set(client.access_token_key, token)
        return client
