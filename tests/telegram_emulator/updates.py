"""Getting updates: getUpdates long-polling, webhook registration, and the webhook sender.

Semantics follow the Bot API: an offset confirms (drops) every update below it,
a negative offset keeps only the last updates, a long poll is held until an
update arrives or `timeout` seconds pass, a newer getUpdates ends an older one
with 409, and while a webhook is set getUpdates answers 409 and queued updates
are POSTed to the webhook, oldest first, until it answers 2xx.

Like a Bot API server started with `--local`, plain-HTTP webhooks on any port
are accepted; unlike any Telegram server, only loopback hosts are, so a test can
never make the emulator send traffic off the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from .api import Described, bot_method, check_faults, record_call
from .errors import OTHER_POLLER_TEXT, WEBHOOK_ACTIVE_TEXT, ApiError, bad_request, conflict
from .params import Params
from .state import DEFAULT_UPDATE_TYPES, EmulatorState, Webhook

JSON = dict[str, Any]


class Waker:
    """Lets coroutines on the emulator loop sleep until the update queue or webhook changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float | None) -> None:
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return


def _set_allowed_updates(state: EmulatorState, params: Params) -> list[str] | None:
    allowed = params.structured("allowed_updates", "can't parse allowed updates JSON object")
    if allowed is None:
        return None
    if not isinstance(allowed, list):
        raise bad_request("can't parse allowed updates JSON object")
    state.allowed_updates = frozenset(str(kind) for kind in allowed) or DEFAULT_UPDATE_TYPES
    return [str(kind) for kind in allowed]


def _start_poll(state: EmulatorState, params: Params) -> tuple[int | None, int, float]:
    """Validate a getUpdates call and apply its offset; returns (offset, limit, timeout)."""
    if state.webhook is not None:
        raise conflict(WEBHOOK_ACTIVE_TEXT)
    offset = params.integer("offset")
    limit = min(max(params.integer("limit") or 100, 1), 100)
    timeout = max(params.number("timeout") or 0.0, 0.0)
    _set_allowed_updates(state, params)
    if offset is not None and offset < 0:
        state.pending_updates = state.pending_updates[offset:]
    elif offset is not None:
        state.confirm_below(offset)
    return offset, limit, timeout


def _ready(state: EmulatorState, offset: int | None, limit: int) -> list[JSON]:
    if offset is None or offset < 0:
        return state.pending_updates[:limit]
    return [u for u in state.pending_updates if u["update_id"] >= offset][:limit]


@bot_method("getUpdates")
def get_updates_without_waiting(state: EmulatorState, params: Params) -> list[JSON]:
    """getUpdates as a short poll; the server routes real requests to the waiting form below."""
    offset, limit, _ = _start_poll(state, params)
    return [dict(update) for update in _ready(state, offset, limit)]


async def get_updates(state: EmulatorState, waker: Waker, params: Params) -> list[JSON]:
    """getUpdates with long-polling; the only Bot API method that waits, hence async."""
    error: ApiError | None = None
    try:
        check_faults(state, "getUpdates", params)
        offset, limit, timeout = _start_poll(state, params)
        state.poll_generation += 1
        generation = state.poll_generation
        state.notify()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if generation != state.poll_generation:
                raise conflict(OTHER_POLLER_TEXT)
            if state.webhook is not None:
                raise conflict(WEBHOOK_ACTIVE_TEXT)
            found = _ready(state, offset, limit)
            remaining = deadline - asyncio.get_running_loop().time()
            if found or state.closing or remaining <= 0:
                return [dict(update) for update in found]
            await waker.wait(remaining)
    except ApiError as exc:
        error = exc
        raise
    finally:
        record_call(state, "getUpdates", params, error)


def _validate_webhook_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("bad webhook: Wrong HTTP URL specified")
    host = parts.hostname
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise bad_request("bad webhook: the emulator delivers webhooks to loopback addresses only")


@bot_method("setWebhook")
def set_webhook(state: EmulatorState, params: Params) -> Described:
    url = (params.text("url") or "").strip()
    if not url:
        return delete_webhook(state, params)
    _validate_webhook_url(url)
    secret = params.text("secret_token")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = params.integer("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    if params.flag("drop_pending_updates"):
        state.pending_updates.clear()
    allowed = _set_allowed_updates(state, params)
    new = Webhook(url, secret, max_connections, allowed, params.text("ip_address"))
    old = state.webhook
    same = old is not None and (old.url, old.secret_token, old.max_connections, old.allowed_updates) == (
        new.url,
        new.secret_token,
        new.max_connections,
        new.allowed_updates,
    )
    if not same:
        state.webhook = new
        state.notify()
    return Described(True, "Webhook is already set" if same else "Webhook was set")


@bot_method("deleteWebhook")
def delete_webhook(state: EmulatorState, params: Params) -> Described:
    if params.flag("drop_pending_updates"):
        state.pending_updates.clear()
    if state.webhook is None:
        return Described(True, "Webhook is already deleted")
    state.webhook = None
    state.notify()
    return Described(True, "Webhook was deleted")


@bot_method("getWebhookInfo")
def get_webhook_info(state: EmulatorState, params: Params) -> JSON:
    hook = state.webhook
    info: JSON = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(state.pending_updates),
    }
    if hook is not None:
        info["max_connections"] = hook.max_connections
        optional = {
            "ip_address": hook.ip_address,
            "last_error_date": hook.last_error_date,
            "last_error_message": hook.last_error_message,
            "allowed_updates": hook.allowed_updates,
        }
        info.update({key: value for key, value in optional.items() if value is not None})
    return info


class WebhookSender:
    """POSTs queued updates to the webhook one at a time, retrying with growing delays on failure."""

    def __init__(
        self, state: EmulatorState, waker: Waker, retry_delay: float, max_retry_delay: float, timeout: float
    ) -> None:
        self.state = state
        self.waker = waker
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.timeout = timeout

    async def run(self) -> None:
        state = self.state
        delay = self.retry_delay
        async with httpx.AsyncClient(timeout=self.timeout, trust_env=False, follow_redirects=False) as client:
            while not state.closing:
                hook = state.webhook
                if hook is None or not state.pending_updates:
                    await self.waker.wait(None)
                    continue
                update = state.pending_updates[0]
                failure = await self._post(client, hook, update)
                state.deliveries.append(
                    {
                        "update_id": update["update_id"],
                        "url": hook.url,
                        "ok": failure is None,
                        "error": failure,
                        "time": state.clock.now(),
                    }
                )
                if failure is None:
                    if state.pending_updates and state.pending_updates[0] is update:
                        state.pending_updates.pop(0)
                    delay = self.retry_delay
                    continue
                hook.last_error_date = state.now()
                hook.last_error_message = failure
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)

    @staticmethod
    async def _post(client: httpx.AsyncClient, hook: Webhook, update: JSON) -> str | None:
        """Deliver one update; None on 2xx, else the text getWebhookInfo shows as last_error_message."""
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            response = await client.post(hook.url, content=json.dumps(update), headers=headers)
        except httpx.ConnectError:
            return "Connection refused"
        except httpx.TimeoutException:
            return "Read timeout expired"
        except httpx.HTTPError as exc:
            return f"Connection failed: {type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"
