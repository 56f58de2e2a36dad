"""The Bot API method table and the path every call takes: fault injection, execution, call log.

Methods register themselves here by their Bot API name; names are matched
case-insensitively, as the real server does. Injected faults are checked before
the method runs so that a test can make any call fail the way Telegram would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import NOT_FOUND, ApiError, bad_request
from .params import Params
from .state import CallRecord, EmulatorState

Method = Callable[[EmulatorState, Params], Any]
M = TypeVar("M", bound=Method)


@dataclass(frozen=True)
class Described:
    """A result that Telegram sends with a `description` beside it (setWebhook, deleteWebhook)."""

    result: Any
    description: str


METHODS: dict[str, Method] = {}
METHOD_NAMES: dict[str, str] = {}


def bot_method(name: str) -> Callable[[M], M]:
    """Register `function` as the implementation of Bot API method `name`."""

    def register(function: M) -> M:
        METHODS[name.lower()] = function
        METHOD_NAMES[name.lower()] = name
        return function

    return register


def canonical_name(method: str) -> str | None:
    """The documented spelling of `method`, or None when the Bot API has no such method here."""
    return METHOD_NAMES.get(method.lower())


def check_faults(state: EmulatorState, method: str, params: Params) -> None:
    """Raise the first injected fault that matches this call, using one of its remaining uses."""
    chat_id = params.values.get("chat_id")
    for rule in list(state.faults):
        if not rule.matches(method, chat_id):
            continue
        if rule.remaining is not None:
            rule.remaining -= 1
            if rule.remaining <= 0:
                state.faults.remove(rule)
        raise ApiError(rule.error_code, rule.description, rule.parameters)


def record_call(state: EmulatorState, method: str, params: Params, error: ApiError | None) -> None:
    """Append the call to the log tests assert on."""
    state.calls.append(
        CallRecord(
            method=method,
            params=params.for_log(),
            time=state.clock.now(),
            wall_time=time.time(),
            ok=error is None,
            error_code=error.error_code if error else None,
            description=error.description if error else None,
        )
    )


def call_method(state: EmulatorState, method: str, params: Params) -> Any:
    """Run one synchronous Bot API method; raise ApiError exactly as Telegram would answer."""
    name = canonical_name(method)
    if name is None:
        record_call(state, method, params, NOT_FOUND)
        raise NOT_FOUND
    error: ApiError | None = None
    try:
        check_faults(state, name, params)
        return METHODS[name.lower()](state, params)
    except ApiError as exc:
        error = exc
        raise
    except (KeyError, TypeError, ValueError) as exc:
        error = bad_request(f"invalid parameters: {exc}")
        raise error from exc
    finally:
        record_call(state, name, params, error)
