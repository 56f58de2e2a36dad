"""What the fake WeChat servers know and how they answer: pure logic, no HTTP.

Every answer is ``(status, content_type, body)``; the HTTP layer in ``server.py`` only moves
bytes. Answers copy api.weixin.qq.com and qyapi.weixin.qq.com: HTTP 200 with ``errcode``/``errmsg``
(plus a ``rid``, so nothing may depend on the exact ``errmsg``), success bodies without an errcode
where WeChat sends none (``/cgi-bin/token``), and binary bodies for media.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Answer = tuple[int, str, bytes]
JSON_TYPE = "application/json; encoding=utf-8"
SECRET_PARAMS = frozenset({"access_token", "secret", "key"})

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40023: "invalid sub button size",
    40025: "invalid sub button name size",
    40037: "invalid template_id",
    40058: "text.content exceed max length 2048",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    45002: "content size out of limit",
    45009: "api freq out of limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    93000: "invalid webhook url",
}


@dataclass(frozen=True)
class Call:
    """One request as the fake saw it. The repr hides secret query values (tokens, secrets, keys)."""

    method: str
    path: str
    params: dict[str, str]
    body: Any
    time: float

    def __repr__(self) -> str:
        shown = {k: ("***" if k in SECRET_PARAMS else v) for k, v in self.params.items()}
        return f"Call({self.method} {self.path} {shown})"


@dataclass
class _Fault:
    errcode: int
    errmsg: str | None
    times: int
    after: int = 0  # requests to let through first


@dataclass
class FakeState:
    """One official account, its followers and WeCom robots, under one lock (requests are threaded)."""

    app_id: str
    app_secret: str
    clock: Callable[[], float]
    token_ttl: int = 7200
    robot_limit: int = 20
    robot_period: float = 60.0
    delay: float = 0.0  # seconds every answer waits (real time), to show callers do not block
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[Call] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at (clock seconds)
    revoked: set[str] = field(default_factory=set)
    token_calls: int = 0
    faults: dict[str, deque[_Fault]] = field(default_factory=lambda: defaultdict(deque))
    closed_windows: set[str] = field(default_factory=set)
    unsubscribed: set[str] = field(default_factory=set)
    texts: list[tuple[str, str]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    menus: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    robots: dict[str, list[str]] = field(default_factory=dict)  # key -> texts received
    robot_images: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))  # key -> images
    robot_sends: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def handle(self, method: str, path: str, params: dict[str, str], raw_body: bytes) -> Answer:
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = _BAD_JSON
        with self.lock:
            self.calls.append(Call(method, path, dict(params), None if body is _BAD_JSON else body, self.clock()))
            route = _ROUTES.get((method, path))
            if route is None:
                return 404, "text/plain", b"not found"
            if path == "/cgi-bin/token":
                self.token_calls += 1
            fault = self._take_fault(path)
            if fault is not None:
                return error(fault.errcode, fault.errmsg)
            if body is _BAD_JSON:
                return error(47001)
            return route(self, params, body)

    def _take_fault(self, path: str) -> _Fault | None:
        queue = self.faults.get(path)
        if not queue:
            return None
        fault = queue[0]
        if fault.after > 0:
            fault.after -= 1
            return None
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    def _token_error(self, params: dict[str, str]) -> Answer | None:
        token = params.get("access_token")
        if not token:
            return error(41001)
        expires_at = self.tokens.get(token)
        if expires_at is None or token in self.revoked:
            return error(40001)
        if self.clock() >= expires_at:
            return error(42001)
        return None

    def _token(self, params: dict[str, str], _body: Any) -> Answer:
        if params.get("grant_type") != "client_credential" or params.get("appid") != self.app_id:
            return error(40013)
        if params.get("secret") != self.app_secret:
            return error(40125)
        token = secrets.token_urlsafe(96)
        self.tokens[token] = self.clock() + self.token_ttl
        return ok_json({"access_token": token, "expires_in": self.token_ttl})

    def _custom_send(self, params: dict[str, str], body: Any) -> Answer:
        if (refused := self._token_error(params)) is not None:
            return refused
        if not isinstance(body, dict) or not body.get("touser"):
            return error(44002) if body is None else error(40003)
        openid = str(body["touser"])
        if body.get("msgtype") != "text":
            return error(40008)
        content = body.get("text", {}).get("content")
        if not isinstance(content, str) or not content:
            return error(44002)
        if len(content.encode("utf-8")) > 2048:
            return error(45002)
        if openid in self.unsubscribed:
            return error(43004)
        if openid in self.closed_windows:
            return error(45015)
        self.texts.append((openid, content))
        return error(0)

    def _template_send(self, params: dict[str, str], body: Any) -> Answer:
        if (refused := self._token_error(params)) is not None:
            return refused
        if not isinstance(body, dict) or not body.get("touser") or not body.get("template_id"):
            return error(44002) if not body else error(40037)
        if body["touser"] in self.unsubscribed:
            return error(43004)
        self.templates.append(body)
        return ok_json({"errcode": 0, "errmsg": "ok", "msgid": len(self.templates)})

    def _media_get(self, params: dict[str, str], _body: Any) -> Answer:
        if (refused := self._token_error(params)) is not None:
            return refused
        stored = self.media.get(params.get("media_id", ""))
        if stored is None:
            return error(40007)
        data, content_type = stored
        return 200, content_type, data

    def _menu_create(self, params: dict[str, str], body: Any) -> Answer:
        if (refused := self._token_error(params)) is not None:
            return refused
        if not isinstance(body, dict):
            return error(44002)
        problem = _menu_errcode(body)
        if problem:
            return error(problem)
        self.menus.append(body)
        return error(0)

    def _webhook_send(self, params: dict[str, str], body: Any) -> Answer:
        key = params.get("key", "")
        if key not in self.robots:
            return error(93000)
        if not isinstance(body, dict):
            return error(44002)
        image: bytes | None = None
        if body.get("msgtype") == "image":
            image_or_code = _robot_image(body.get("image"))
            if isinstance(image_or_code, int):
                return error(image_or_code)
            image = image_or_code
        elif body.get("msgtype") != "text":
            return error(40008)
        else:
            content = body.get("text", {}).get("content")
            if not isinstance(content, str) or not content:
                return error(44002)
            if len(content.encode("utf-8")) > 2048:
                return error(40058)
        now = self.clock()
        sends = self.robot_sends[key]
        while sends and sends[0] <= now - self.robot_period:
            sends.popleft()
        if len(sends) >= self.robot_limit:
            return error(45009)
        sends.append(now)
        if image is not None:
            self.robot_images[key].append(image)
        else:
            self.robots[key].append(content)
        return error(0)


def _robot_image(image: Any) -> bytes | int:
    """The picture of a robot ``image`` message, or the errcode for it: base64 of a PNG or JPG of at
    most 2 MB, with the MD5 of the decoded bytes (the codes are this fake's approximation)."""
    if not isinstance(image, dict) or not isinstance(image.get("base64"), str) or not isinstance(image.get("md5"), str):
        return 40008
    try:
        data = base64.b64decode(image["base64"], validate=True)
    except ValueError:
        return 40008
    if hashlib.md5(data).hexdigest() != image["md5"]:
        return 40008
    if len(data) > 2 * 1024 * 1024:
        return 40009
    if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8")):
        return 40005
    return data


_BAD_JSON = object()


def _menu_errcode(menu: dict[str, Any]) -> int:
    """WeChat's menu checks: 1-3 buttons of <= 16 bytes, 1-5 sub-buttons of <= 60, keys <= 128 bytes."""
    buttons = menu.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return 40016
    for button in buttons:
        if len(str(button.get("name", "")).encode()) not in range(1, 17):
            return 40018
        subs = button.get("sub_button")
        leaves = subs if subs is not None else [button]
        if subs is not None and (not isinstance(subs, list) or not 1 <= len(subs) <= 5):
            return 40023
        for leaf in leaves:
            if subs is not None and len(str(leaf.get("name", "")).encode()) not in range(1, 61):
                return 40025
            if leaf.get("type") not in ("click", "view", "miniprogram"):
                return 40017
            if leaf.get("type") == "click" and len(str(leaf.get("key", "")).encode()) not in range(1, 129):
                return 40019
    return 0


def ok_json(value: dict[str, Any]) -> Answer:
    return 200, JSON_TYPE, json.dumps(value, ensure_ascii=False).encode("utf-8")


def error(errcode: int, errmsg: str | None = None) -> Answer:
    """WeChat's error body (HTTP 200); errcode 0 is the plain success answer."""
    if errcode == 0:
        return ok_json({"errcode": 0, "errmsg": "ok"})
    message = errmsg or ERRMSG.get(errcode, "error")
    return ok_json({"errcode": errcode, "errmsg": f"{message} rid: {secrets.token_hex(12)}"})


_ROUTES: dict[tuple[str, str], Callable[[FakeState, dict[str, str], Any], Answer]] = {
    ("GET", "/cgi-bin/token"): FakeState._token,
    ("POST", "/cgi-bin/message/custom/send"): FakeState._custom_send,
    ("POST", "/cgi-bin/message/template/send"): FakeState._template_send,
    ("GET", "/cgi-bin/media/get"): FakeState._media_get,
    ("POST", "/cgi-bin/menu/create"): FakeState._menu_create,
    ("POST", "/cgi-bin/webhook/send"): FakeState._webhook_send,
}
