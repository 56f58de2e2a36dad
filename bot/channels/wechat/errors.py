"""WeChat API failures, typed by what the caller must do rather than by what WeChat called them.

WeChat answers almost everything with HTTP 200 and an ``errcode``. The outbox needs to know one
thing: drop (the window is closed, the worker unfollowed, the request can never succeed), retry
(busy, quota, network), or fix the configuration. Unknown codes count as transient, the sender's
rule: losing a message to an unexpected code is worse than retrying it.

Messages carry the code and a fixed reason only: never the URL (it carries the access token or
the app secret), WeChat's ``errmsg``, an OpenID or message text.
"""

from __future__ import annotations

# The access token is invalid, not the latest, or expired: fetch a fresh one and retry once.
TOKEN_REJECTED = frozenset({40001, 40014, 42001})
# Answers of /cgi-bin/token that mean the app id, the secret or the server's IP is refused.
CREDENTIALS_REJECTED = frozenset({40001, 40002, 40013, 40125, 40164, 41002, 41004, 40243})
OUTSIDE_WINDOW = 45015
UNSUBSCRIBED = 43004
TRANSIENT = {-1: "system_busy", 45009: "daily_quota", 45011: "minute_quota", 45047: "out_of_quota"}
# The request itself is wrong; sending it again cannot help.
REQUEST_REJECTED = {
    40003: "invalid_openid",
    40007: "invalid_media_id",
    40008: "invalid_message_type",
    40016: "menu_button_count",
    40017: "menu_button_type",
    40018: "menu_button_name",
    40019: "menu_button_key",
    40037: "invalid_template_id",
    44002: "empty_body",
    44004: "empty_content",
    45002: "content_too_long",
    47001: "bad_json",
    48001: "api_unauthorized",
}


class WeChatApiError(Exception):
    """Base of every WeChat API failure; ``errcode`` is None when WeChat never answered."""

    def __init__(self, errcode: int | None, reason: str) -> None:
        where = f" (errcode {errcode})" if errcode is not None else ""
        super().__init__(f"WeChat API: {reason}{where}")
        self.errcode = errcode
        self.reason = reason


class OutsideWindow(WeChatApiError):
    """45015: the worker last wrote more than 48 hours ago; only their next message reopens it."""

    def __init__(self) -> None:
        super().__init__(OUTSIDE_WINDOW, "outside_window")


class Unsubscribed(WeChatApiError):
    """43004: the worker no longer follows the official account."""

    def __init__(self) -> None:
        super().__init__(UNSUBSCRIBED, "unsubscribed")


class TransientApiError(WeChatApiError):
    """Busy, over a quota, a network error or a server error: the same call may work later."""


class RequestRejected(WeChatApiError):
    """WeChat refused the request itself (bad OpenID, too long, no permission): never retry it."""


class CredentialsRejected(WeChatApiError):
    """WeChat refused the app id or secret, or this server's IP is not on the allowlist: an
    operator must fix ``[wechat]`` or the official account's settings."""


def error_for(errcode: int) -> WeChatApiError:
    """The typed error for a non-zero errcode of an API call (not of /cgi-bin/token)."""
    if errcode == OUTSIDE_WINDOW:
        return OutsideWindow()
    if errcode == UNSUBSCRIBED:
        return Unsubscribed()
    if errcode in REQUEST_REJECTED:
        return RequestRejected(errcode, REQUEST_REJECTED[errcode])
    if errcode in TOKEN_REJECTED:
        return TransientApiError(errcode, "token_rejected")
    return TransientApiError(errcode, TRANSIENT.get(errcode, "unexpected_errcode"))
