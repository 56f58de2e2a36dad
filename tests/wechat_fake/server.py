"""The fake's HTTP face: a loopback ``ThreadingHTTPServer`` on a free port, and the control API.

Start it with ``with FakeWeChat() as wechat:``; point clients at ``wechat.base_url`` (the origin,
without ``/cgi-bin``) and WeCom sinks at ``wechat.add_robot(...)``. Controls are plain method
calls (the server runs in this process). The server never writes a log line: the call log holds
tokens, secrets and keys, and is for assertions only.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from .state import Call, FakeState, _Fault

DEFAULT_APP_ID = "wx5f1c0a7d3e9b2468"
MAX_BODY = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients reuse connections
    timeout = 5
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _Server

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        body = self.rfile.read(length) if length else b""
        status, content_type, data = self.server.state.handle(method, parts.path, dict(parse_qsl(parts.query)), body)
        if self.server.state.delay:
            time.sleep(self.server.state.delay)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry access tokens, secrets and robot keys."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeState


class FakeWeChat:
    """api.weixin.qq.com (token, customer-service and template messages, media, menu) and
    qyapi.weixin.qq.com's group robot webhook, on one loopback port."""

    def __init__(
        self,
        *,
        app_id: str = DEFAULT_APP_ID,
        app_secret: str | None = None,
        clock: Callable[[], float] = time.time,
        token_ttl: int = 7200,
        robot_limit: int = 20,
    ) -> None:
        self.state = FakeState(
            app_id, app_secret or secrets.token_hex(16), clock, token_ttl=token_ttl, robot_limit=robot_limit
        )
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"FakeWeChat({self.base_url})"

    # life cycle

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-wechat", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # the account

    @property
    def app_id(self) -> str:
        return self.state.app_id

    @property
    def app_secret(self) -> str:
        return self.state.app_secret

    @property
    def token_calls(self) -> int:
        """How many times /cgi-bin/token was asked (successful or not)."""
        with self.state.lock:
            return self.state.token_calls

    def issued_tokens(self) -> list[str]:
        """Every access token handed out so far (to look for them in logs)."""
        with self.state.lock:
            return list(self.state.tokens)

    def revoke_tokens(self) -> None:
        """Every token issued so far answers 40001 from now on (as after a reset in the admin console)."""
        with self.state.lock:
            self.state.revoked.update(self.state.tokens)

    def fail_next(self, path: str, errcode: int, errmsg: str | None = None, *, times: int = 1, after: int = 0) -> None:
        """After ``after`` more requests to ``path`` (e.g. ``/cgi-bin/message/custom/send``) succeed,
        the next ``times`` get ``errcode``. Faults on one path queue up in order."""
        with self.state.lock:
            self.state.faults[path].append(_Fault(errcode, errmsg, times, after))

    def slow_down(self, seconds: float) -> None:
        """Every answer from now on waits ``seconds`` of real time."""
        with self.state.lock:
            self.state.delay = seconds

    # followers

    def close_window(self, openid: str) -> None:
        """The follower's 48 hours are over: customer-service messages answer 45015."""
        with self.state.lock:
            self.state.closed_windows.add(openid)

    def unfollow(self, openid: str) -> None:
        """The follower unsubscribed: messages answer 43004."""
        with self.state.lock:
            self.state.unsubscribed.add(openid)

    def texts(self, openid: str | None = None) -> list[str]:
        """Customer-service texts delivered (to ``openid``, or to anyone), in order."""
        with self.state.lock:
            return [text for to, text in self.state.texts if openid is None or to == openid]

    def templates(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.templates)

    def menus(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.menus)

    def register_media(self, data: bytes, content_type: str = "image/jpeg", media_id: str | None = None) -> str:
        """Stores bytes /cgi-bin/media/get will serve; returns the media id."""
        media_id = media_id or secrets.token_urlsafe(48)
        with self.state.lock:
            self.state.media[media_id] = (data, content_type)
        return media_id

    # WeCom robots

    def add_robot(self) -> str:
        """A new group robot; returns its webhook URL (carrying its key)."""
        key = secrets.token_hex(18)
        with self.state.lock:
            self.state.robots[key] = []
        return self.webhook_url(key)

    def webhook_url(self, key: str) -> str:
        return f"{self.base_url}/cgi-bin/webhook/send?key={key}"

    def robot_texts(self, webhook_url: str) -> list[str]:
        key = dict(parse_qsl(urlsplit(webhook_url).query))["key"]
        with self.state.lock:
            return list(self.state.robots[key])

    def robot_images(self, webhook_url: str) -> list[bytes]:
        """The pictures a robot received (``image`` messages), decoded."""
        key = dict(parse_qsl(urlsplit(webhook_url).query))["key"]
        with self.state.lock:
            return list(self.state.robot_images[key])

    # the call log

    def calls(self, path: str | None = None) -> list[Call]:
        """Requests received (to ``path``, or all), in order."""
        with self.state.lock:
            return [call for call in self.state.calls if path is None or call.path == path]

    def clear_calls(self) -> None:
        with self.state.lock:
            self.state.calls.clear()
