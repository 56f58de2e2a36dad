"""The desk's sign-in pages: enrolment, login, logout, the language switch, and a landing page
that stands in for the case list until the case pages are mounted.

Enrolment: ``/desk/enrol/<token>`` (the link ``hapbot hr add`` prints) checks the token and moves
it out of the address bar at once: the browser gets an enrolment session and is sent to
``/desk/enrol``, where the person sets a password, adds the second factor (QR code drawn here) and
confirms it with a code. Opening the link does not use it up (chat apps open links to preview
them); completing enrolment does, and ends every session of the account.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.web.desk import totp
from bot.web.desk.authenticate import MAX_FIELD, sign_in
from bot.web.desk.context import ANONYMOUS, Desk
from bot.web.desk.security import clear_session_cookie, cookie_header, set_session_cookie
from bot.web.desk.sessions import ENROLMENT_SESSION, Visit
from bot.web.desk.templating import LANGUAGE_COOKIE
from handlers.i18n import N_
from storage.web_sessions import SessionKind

HOME = "/desk/"
MIN_PASSWORD = 10
NOTICES = {"enrolled", "signed_out"}
PASSWORD_LENGTH = N_("Choose a password of {min} to 256 characters.")
PASSWORD_IS_NAME = N_("Choose a password that is not your name.")
REPEAT_DIFFERS = N_("The two passwords are not the same. Type the same password twice.")
CODE_WRONG = N_("That code is not right. Type the 6 digits your app shows now.")


def safe_next(value: str | None) -> str:
    """``value`` when it is a path of this desk (same origin, relative), else the desk's home."""
    if not value or len(value) > 500 or not value.startswith("/desk/"):
        return HOME
    if any(ch in value for ch in "\\\r\n\t") or value.startswith("//") or "/../" in value or value.endswith("/.."):
        return HOME
    if not value.isascii() or not value.isprintable():
        return HOME
    if value.startswith(("/desk/login", "/desk/logout", "/desk/enrol", "/desk/language")):
        return HOME
    return value


def _back_to(value: str | None) -> str:
    """Where the language switch returns: a desk path, the login or the enrolment page."""
    path = (value or "").split("?")[0]
    return path if path in ("/desk/login", "/desk/enrol") else safe_next(value)


def _desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def _visit(request: Request) -> Visit:
    visit: Visit = request.state.visit
    return visit


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


async def landing(request: Request) -> Response:
    """Stands in for the case list (mounted by the case pages) and says who is signed in."""
    if request.state.person is None:
        return _redirect(f"/desk/login?next={quote(request.url.path)}")
    return _desk(request).pages.render(request, "signin/landing.html")


async def login_page(request: Request) -> Response:
    """Shows the sign-in form (name, password, code)."""
    target = safe_next(request.query_params.get("next"))
    if request.state.person is not None:
        return _redirect(target)
    notice = request.query_params.get("done")
    return _desk(request).pages.render(
        request, "signin/login.html", next=target, error=None, notice=notice if notice in NOTICES else None, name=""
    )


async def login_submit(request: Request) -> Response:
    """Checks name, password and code; on success starts a session and goes where ``next`` says."""
    desk = _desk(request)
    form = await request.form()
    name, password, code, target = (str(form.get(key) or "") for key in ("name", "password", "code", "next"))
    target = safe_next(target)
    result = await sign_in(desk, name, password, code, _address(request), desk.clock())
    if result.person is not None and result.token is not None:
        response = _redirect(target)
        set_session_cookie(response.headers, desk, result.token)
        return response
    if result.wait is not None:
        minutes = max(1, int(result.wait.total_seconds() + 59) // 60)
        return desk.pages.render(
            request, "signin/login.html", 429, next=target, error="throttled", minutes=minutes, notice=None,
            name=name[:MAX_FIELD],
        )
    return desk.pages.render(
        request, "signin/login.html", 400, next=target, error="refused", notice=None, name=name[:MAX_FIELD]
    )


async def logout(request: Request) -> Response:
    """Ends this browser's session (POST only, with the CSRF token)."""
    desk = _desk(request)
    visit = _visit(request)
    now = desk.clock()
    if visit.web_session is not None:
        async with desk.database.transaction() as session:
            await desk.sessions.end(session, visit.web_session.token_hash)
        await desk.audit(visit.person.name if visit.person else ANONYMOUS, "desk:logout", now)
    response = _redirect("/desk/login?done=signed_out")
    clear_session_cookie(response.headers, desk)
    return response


async def enrol_link(request: Request) -> Response:
    """Checks an enrolment link and swaps it for an enrolment session, so the token leaves the
    address bar (and the browser's history of this page) at once."""
    desk = _desk(request)
    now = desk.clock()
    token = request.path_params["token"]
    async with desk.database.transaction(write=False) as session:
        account = await desk.accounts.by_enrolment_token(session, token, now)
    if account is None or account.enrolment_hash is None or account.enrolment_expires_at is None:
        await desk.audit(ANONYMOUS, "desk:refused_link", now)
        return desk.pages.render(request, "signin/link_invalid.html", 404)
    expires = min(now + ENROLMENT_SESSION, account.enrolment_expires_at)
    async with desk.database.transaction() as session:
        session_token = await desk.sessions.create(
            session, account.id, SessionKind.ENROLMENT, now, expires,
            totp_pending=totp.new_secret(), enrolment_hash=account.enrolment_hash,
        )
    response = _redirect("/desk/enrol")
    set_session_cookie(response.headers, desk, session_token)
    return response


async def _enrolment(request: Request) -> tuple[str, str, str] | None:
    """(account id, account name, pending TOTP secret) of this browser's enrolment, or None."""
    visit = _visit(request)
    web_session = visit.web_session
    if web_session is None or web_session.kind is not SessionKind.ENROLMENT or not web_session.totp_pending:
        return None
    desk = _desk(request)
    async with desk.database.transaction(write=False) as session:
        account = await desk.accounts.by_id(session, web_session.account_id)
    if account is None or account.enrolment_hash != web_session.enrolment_hash:
        return None
    return account.id, account.name, web_session.totp_pending


def _enrol_form(
    request: Request, name: str, secret: str, errors: list[tuple[str, str]], status: int = 200
) -> Response:
    uri = totp.provisioning_uri(secret, name)
    return _desk(request).pages.render(
        request, "signin/enrol.html", status, name=name, qr_svg=totp.qr_svg(uri), secret=totp.grouped(secret),
        errors=errors, error_for=dict(errors), min_password=MIN_PASSWORD,
    )


async def enrol_page(request: Request) -> Response:
    """Shows the enrolment form: a new password, the QR code (and the secret to type), a code."""
    enrolment = await _enrolment(request)
    if enrolment is None:
        return _desk(request).pages.render(request, "signin/link_invalid.html", 410)
    _, name, secret = enrolment
    return _enrol_form(request, name, secret, [])


async def enrol_submit(request: Request) -> Response:
    """Stores the password and the second factor once the code proves the app has the secret."""
    desk = _desk(request)
    enrolment = await _enrolment(request)
    if enrolment is None:
        return desk.pages.render(request, "signin/link_invalid.html", 410)
    account_id, name, secret = enrolment
    form = await request.form()
    password, repeat, code = (str(form.get(key) or "") for key in ("password", "repeat", "code"))
    now = desk.clock()
    errors: list[tuple[str, str]] = []
    if len(password) < MIN_PASSWORD or len(password) > MAX_FIELD:
        errors.append(("password", PASSWORD_LENGTH))
    elif password.strip().lower() == name.lower():
        errors.append(("password", PASSWORD_IS_NAME))
    elif repeat != password:
        errors.append(("repeat", REPEAT_DIFFERS))
    step = totp.matching_step(secret, code, now, 0)
    if step is None:
        errors.append(("code", CODE_WRONG))
    if errors:
        return _enrol_form(request, name, secret, errors, 400)
    assert step is not None
    password_hash = await desk.hasher.hash(password)
    web_session = _visit(request).web_session
    assert web_session is not None and web_session.enrolment_hash is not None
    async with desk.database.transaction() as session:
        done = await desk.accounts.complete_enrolment(
            session, account_id, web_session.enrolment_hash, password_hash, secret, step, now
        )
    if not done:
        return desk.pages.render(request, "signin/link_invalid.html", 410)
    await desk.audit(name, "desk:enrolled", now)
    response = _redirect("/desk/login?done=enrolled")
    clear_session_cookie(response.headers, desk)
    return response


async def language(request: Request) -> Response:
    """Remembers the chosen language (zh or en) and goes back."""
    chosen = request.query_params.get("to")
    response = _redirect(_back_to(request.query_params.get("next")))
    if chosen in ("zh", "en"):
        desk = _desk(request)
        cookie = cookie_header(LANGUAGE_COOKIE, chosen, secure=desk.settings.secure_cookies, max_age=365 * 86400)
        response.headers.append("set-cookie", cookie)
    return response


def signin_routes() -> list[BaseRoute]:
    """The sign-in routes, relative to ``/desk``."""
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/enrol", enrol_page, methods=["GET"]),
        Route("/enrol", enrol_submit, methods=["POST"]),
        Route("/enrol/{token}", enrol_link, methods=["GET"]),
        Route("/language", language, methods=["GET"]),
    ]


LANDING = Route("/", landing, methods=["GET"])
