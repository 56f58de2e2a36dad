"""The one TLS context every HTTPS client of the process shares.

Each ``httpx.AsyncClient`` (and each python-telegram-bot ``HTTPXRequest``, which wraps one) builds its
own context otherwise, loading the whole CA bundle again: 25–45 ms of CPU apiece, five times during
``hapbot run``'s start. A context is safe to share between clients; it is made exactly as httpx makes
its default one (certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), so verification
is unchanged.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def http_client(**kwargs: object) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on the shared context (keyword arguments as httpx takes them)."""
    return httpx.AsyncClient(verify=tls_context(), **kwargs)  # type: ignore[arg-type]
