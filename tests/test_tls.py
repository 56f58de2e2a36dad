"""Every HTTPS client of the process shares one TLS context (bot/channels/tls.py), which still
verifies certificates and host names as httpx's own default does."""

from __future__ import annotations

import ssl

import httpx

from bot.channels.telegram.setup import build_application
from bot.channels.tls import http_client, tls_context
from bot.config import TelegramSection


def _context_of(client: httpx.AsyncClient) -> ssl.SSLContext:
    return client._transport._pool._ssl_context  # type: ignore[attr-defined,no-any-return]


async def test_telegram_requests_and_the_shared_client_use_one_context() -> None:
    application = build_application(TelegramSection.model_validate({"enabled": True, "token": "123:abc"}))
    clients = [request._client for request in application.bot._request]
    client = http_client(timeout=10)
    try:
        assert len(clients) == 2
        assert all(_context_of(each) is tls_context() for each in [*clients, client])
    finally:
        await client.aclose()
        for each in clients:
            await each.aclose()


def test_the_shared_context_verifies_like_httpx_default() -> None:
    default = httpx.create_ssl_context()
    shared = tls_context()
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname
    assert shared.minimum_version == default.minimum_version
    assert len(shared.get_ca_certs()) == len(default.get_ca_certs()) > 0
