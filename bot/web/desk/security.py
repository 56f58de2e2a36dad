"""The gate every desk request passes (an ASGI middleware around the desk's app).

It puts ``request.state.person`` (a :class:`~storage.people.Person` or None) and
``request.state.csrf_token`` on every request; refuses any unsafe method (POST, PUT, PATCH,
DELETE) without the right CSRF token in the form field ``csrf_token`` or the header
``X-CSRF-Token`` (403, audited); and adds the security headers to every desk response: a strict
Content-Security-Policy with no inline script, no framing, no referrer, no sniffing, no caching.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.desk.context import ANONYMOUS, Desk
from bot.web.desk.sessions import Visit, cookie_names, csrf_token_for, csrf_token_matches, resolve
from storage.accounts import new_token

MAX_FORM_BYTES = 64 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, Path=/ (required by ``__Host-``)."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def set_session_cookie(headers: MutableHeaders, desk: Desk, token: str) -> None:
    """Gives the browser a new session cookie (a browser session cookie: no Max-Age)."""
    secure = desk.settings.secure_cookies
    headers.append("set-cookie", cookie_header(cookie_names(secure)[0], token, secure=secure))


def clear_session_cookie(headers: MutableHeaders, desk: Desk) -> None:
    secure = desk.settings.secure_cookies
    headers.append("set-cookie", cookie_header(cookie_names(secure)[0], "", secure=secure, max_age=0))


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _supplied_token(scope: Scope, body: bytes) -> str:
    """The CSRF token the request carries: the header, else the form field."""
    request = Request(scope, _replay(body))
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    if request.headers.get("content-type", "").split(";")[0].strip().lower() not in FORM_TYPES:
        return ""
    try:
        form = await request.form(max_files=0, max_fields=100)
    except Exception:  # a malformed body is refused like a missing token
        return ""
    value = form.get("csrf_token")
    await form.close()
    return value if isinstance(value, str) else ""


class DeskGate:
    """See the module docstring. ``desk`` is looked up per request so tests can swap the clock."""

    def __init__(self, app: ASGIApp, desk: Desk) -> None:
        self.app = app
        self.desk = desk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        desk = self.desk
        now = desk.clock()
        secure = desk.settings.secure_cookies
        session_cookie, pre_cookie = cookie_names(secure)
        request = Request(scope)
        visit: Visit = await resolve(desk, request.cookies.get(session_cookie), now)
        new_pre = None
        seed = visit.token or request.cookies.get(pre_cookie)
        if not seed:
            seed = new_pre = new_token()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["person"] = visit.person
        state["csrf_token"] = csrf_token_for(seed)
        state["visit"] = visit

        def finish_headers(headers: MutableHeaders) -> None:
            for name, value in SECURITY_HEADERS.items():
                headers[name] = value
            if new_pre is not None:
                headers.append("set-cookie", cookie_header(pre_cookie, new_pre, secure=secure))
            if visit.ended:
                clear_session_cookie(headers, desk)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                finish_headers(MutableHeaders(scope=message))
            await send(message)

        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send_with_headers)
            return
        body = await _read_body(receive, MAX_FORM_BYTES)
        supplied = "" if body is None else await _supplied_token(scope, body)
        if new_pre is not None or not supplied or not csrf_token_matches(seed, supplied):
            actor = visit.person.name if visit.person else ANONYMOUS
            await desk.audit(actor, "desk:refused_csrf", now)
            await _refuse(scope, send_with_headers, desk, 403)
            return
        await self.app(scope, _replay(body or b""), send_with_headers)


async def _refuse(scope: Scope, send: Callable[[Message], Awaitable[None]], desk: Desk, status: int) -> None:
    request = Request(scope)
    response = desk.pages.render(request, "signin/refused.html", status_code=status)
    await response(scope, _replay(b""), send)


async def record_refusal(request: Request, what: str) -> None:
    """Writes a refused access to the audit log, in a transaction of its own, for a desk page that
    refuses a signed-in person (a case of another role or site): ``desk:refused_<what>``, never
    the case or its content. Call it once the page's own transaction has ended (rolled back by
    the refusal): never inside one, where SQLite's single writer would wait for itself."""
    desk: Desk = request.app.state.desk
    person = request.state.person
    await desk.audit(person.name if person else ANONYMOUS, f"desk:refused_{what}"[:32], desk.clock())
