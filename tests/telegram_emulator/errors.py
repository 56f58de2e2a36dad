"""Bot API error answers, worded as the real server words them.

PTB maps an error to an exception class by HTTP status and by the `parameters`
object (`retry_after` -> RetryAfter, `migrate_to_chat_id` -> ChatMigrated), and
bot code often matches on the description text; so both must be exact.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API failure: becomes `{"ok": false, "error_code", "description", "parameters"}`."""

    def __init__(self, error_code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_api(self) -> dict[str, Any]:
        """The JSON body Telegram sends with this error (and the same HTTP status)."""
        body: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body


def bad_request(detail: str, parameters: dict[str, Any] | None = None) -> ApiError:
    """400 with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {detail}", parameters)


def forbidden(detail: str) -> ApiError:
    """403 with Telegram's "Forbidden: " prefix."""
    return ApiError(403, f"Forbidden: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    """429 flood-wait, carrying `retry_after` where PTB reads it."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def conflict(detail: str) -> ApiError:
    """409, which PTB raises as `telegram.error.Conflict`."""
    return ApiError(409, f"Conflict: {detail}")


def required(name: str) -> ApiError:
    """A missing mandatory parameter without a more specific message of its own."""
    return bad_request(f'parameter "{name}" is required')


NOT_FOUND = ApiError(404, "Not Found")
UNAUTHORIZED = ApiError(401, "Unauthorized")
CHAT_NOT_FOUND_TEXT = "chat not found"
WEBHOOK_ACTIVE_TEXT = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
OTHER_POLLER_TEXT = "terminated by other getUpdates request; make sure that only one bot instance is running"
