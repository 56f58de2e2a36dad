"""Helpers for tests of the HR desk.

The sign-in side: a desk on the test's database and clock, an HTTP client that speaks to it
in-process (https, so Secure cookies are kept), and the steps a person takes: add an account, enrol
through the link, sign in. The case side: people, a case with a picture, and ``TestIdentity``.

``TestIdentity`` stands in for the desk's sign-in in tests of the case pages: it reads a
``desk_test_person`` cookie, puts that person and a CSRF token on the request, and refuses a POST
whose form lacks the token, as the real gate does. It lives under tests/ and nothing in bot/ refers
to it: ``hapbot run`` mounts the pages only through ``bot.web.desk.mount.build_desk`` (the real
gate), so no production configuration can reach it.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs

import argon2
import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.cli.signin import Prompt
from bot.config import Config
from bot.core import Core
from bot.web.app import build_web_app
from bot.web.desk import totp
from bot.web.desk.context import Desk
from bot.web.desk.mount import build_desk, make_desk
from bot.web.desk.pages import DeskPages, desk_routes
from bot.web.desk.templating import STATIC
from handlers.hr import CaseDesk, desk_for
from handlers.report import alert_audience
from storage.accounts import Accounts, PasswordHasher, token_hash
from storage.case_index import Audience
from storage.people import Person, Role

from .conftest import Clock, make_config
from .test_evidence import evidence_photo

PUBLIC_URL = "https://desk.example.com"
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET_TEXT = re.compile(r'<p class="secret" id="secret">([^<]+)</p>')


def desk_config(database_url: str, data_dir: Path, **web: object) -> Config:
    """The test config with ``[web] public_url`` set (and any other ``[web]`` keys given)."""
    raw = make_config(database_url, data_dir).model_dump(mode="python")
    raw["web"].update({"public_url": PUBLIC_URL, **web})
    return Config.model_validate(raw)


class QuickPasswordHasher(PasswordHasher):
    """argon2id at its lowest cost: these tests sign in dozens of times, not test hashing."""

    def __init__(self) -> None:
        super().__init__(argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def quick_desk(runtime: Core, clock: Clock) -> Desk:
    """The desk of ``runtime`` on the test's clock, with the quick password hasher."""
    return make_desk(
        runtime.config, runtime.database, runtime.crypto, clock, runtime.services.translators, QuickPasswordHasher()
    )


@asynccontextmanager
async def desk_client(desk: Desk, address: str = "203.0.113.7") -> AsyncIterator[httpx.AsyncClient]:
    """A browser at ``address`` talking to the web app (with the desk mounted) in-process."""
    transport = httpx.ASGITransport(app=build_web_app([build_desk(desk)]), client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, follow_redirects=False) as client:
        yield client


def csrf_of(page: httpx.Response) -> str:
    match = CSRF_FIELD.search(page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def add_account(desk: Desk, name: str, role: Role = Role.HANDLER, sites: tuple[str, ...] = ("main",)) -> str:
    """Adds an account; returns its enrolment token."""
    async with desk.database.transaction() as session:
        _, token = await Accounts(desk.crypto).add(session, name, role, sites, desk.clock())
    return token


@dataclass
class Enrolled:
    name: str
    secret: str


async def enrol(client: httpx.AsyncClient, desk: Desk, token: str, name: str, clock: Clock) -> Enrolled:
    """Opens the link, sets the password, reads the secret off the page and confirms a code."""
    opened = await client.get(f"/desk/enrol/{token}")
    assert opened.status_code == 303 and opened.headers["location"] == "/desk/enrol"
    page = await client.get("/desk/enrol")
    assert page.status_code == 200
    secret_match = SECRET_TEXT.search(page.text)
    assert secret_match
    secret = secret_match.group(1).replace(" ", "")
    done = await client.post(
        "/desk/enrol",
        data={
            "csrf_token": csrf_of(page),
            "password": PASSWORD,
            "repeat": PASSWORD,
            "code": totp.code_at(secret, clock()),
        },
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/desk/login?done=enrolled"
    clock.advance(seconds=totp.STEP_SECONDS)  # the next sign-in needs a code of a later step
    return Enrolled(name, secret)


async def login(
    client: httpx.AsyncClient, person: Enrolled, clock: Clock, *, password: str = PASSWORD, code: str | None = None,
    next_path: str = "/desk/",
) -> httpx.Response:
    page = await client.get("/desk/login")
    return await client.post(
        "/desk/login",
        data={
            "csrf_token": csrf_of(page),
            "name": person.name,
            "password": password,
            "code": code if code is not None else totp.code_at(person.secret, clock()),
            "next": next_path,
        },
    )


async def enrolled_account(
    runtime: Core, clock: Clock, name: str, role: Role = Role.HANDLER, sites: tuple[str, ...] = ("main", "north")
) -> Enrolled:
    """An account set up straight through the repository (password :data:`PASSWORD`), for tests
    that sign in on the command line rather than test enrolment."""
    accounts = Accounts(runtime.crypto)
    secret = totp.new_secret()
    password_hash = await QuickPasswordHasher().hash(PASSWORD)
    async with runtime.database.transaction() as session:
        account, token = await accounts.add(session, name, role, sites, clock())
        assert await accounts.complete_enrolment(
            session, account.id, token_hash(token), password_hash, secret, 0, clock()
        )
    return Enrolled(name, secret)


def terminal(person: Enrolled, clock: Clock, *, password: str = PASSWORD, code: str | None = None) -> Prompt:
    """Answers ``hapbot cases``' questions as ``person`` would: the password, then the code the
    app shows now (``clock`` moves on a step, so the next sign-in has a fresh code)."""

    def prompt(question: str, secret: bool) -> str:
        if secret:
            return password
        answer = code if code is not None else totp.code_at(person.secret, clock())
        clock.advance(seconds=totp.STEP_SECONDS)
        return answer

    return prompt


WANG = Person("acct-wang", "Wang", Role.HANDLER, frozenset({"main"}))
ZHAO = Person("acct-zhao", "Zhao", Role.HANDLER, frozenset({"north"}))
LI = Person("acct-li", "Li", Role.BOARD, frozenset())
PEOPLE = {person.account_id: person for person in (WANG, ZHAO, LI)}
COOKIE = "desk_test_person"


def desk(runtime: Core) -> CaseDesk:
    services = runtime.services
    return desk_for(runtime.database, services.cases, services.evidence, services.outbox)


async def new_case(
    runtime: Core,
    now: datetime,
    *,
    site: str = "main",
    story: str = "The cook keeps cornering me",
    involved: str = "coworker",
    category: str = "verbal",
    urgency: str = "normal",
    contact: str | None = None,
    photo: bytes | None = None,
) -> tuple[str, str]:
    """A case created through the repositories a submit uses; returns ``(receipt, reference)``."""
    services = runtime.services
    report = {
        "version": 1,
        "language": "en",
        "consent": "agree",
        "what": [story],
        "category": category,
        "when": "this_week",
        "where": "workshop",
        "involved": involved,
        "witnesses": None,
        "urgency": urgency,
        "notify": contact is not None,
        "attachments": [],
    }
    receipt = await services.cases.issue_receipt()  # hashed before the transaction
    async with runtime.database.transaction() as session:
        case = await services.cases.create(
            session,
            site=site,
            report=report,
            contact=contact,
            receipt=receipt,
            now=now,
            audience=Audience(alert_audience(report)),
        )
        if photo is not None:
            draft = await services.evidence.store_draft_file(session, photo, "image/jpeg", 10**9)
            await services.evidence.adopt(session, case.id, [draft], now)
    return receipt.receipt, case.reference


@functools.cache
def picture(seed: int = 7) -> bytes:
    """A sanitised JPEG, the same bytes for a seed within a run (the noise differs per call)."""
    return evidence_photo(seed)


class TestIdentity:
    """ASGI middleware (tests only): the person named by the test cookie, and a CSRF check."""

    __test__ = False

    def __init__(self, app: ASGIApp, people: Mapping[str, Person] = PEOPLE) -> None:
        self.app = app
        self.people = people

    @staticmethod
    def token_for(account_id: str) -> str:
        return f"csrf-{account_id}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = SimpleCookie()
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookies.load(value.decode("latin-1"))
        account = cookies[COOKIE].value if COOKIE in cookies else ""
        person = self.people.get(account)
        token = self.token_for(account) if person else ""
        state = scope.setdefault("state", {})
        state["person"] = person
        state["csrf_token"] = token
        if scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        sent = parse_qs(body.decode("utf-8", "replace")).get("csrf_token", [""])[0]
        if not token or not hmac.compare_digest(sent, token):
            await send({"type": "http.response.start", "status": 403, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"CSRF check failed"})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def pages_mount(pages: DeskPages) -> Mount:
    """``/desk`` with the case pages behind :class:`TestIdentity` instead of the real gate (tests of
    the pages alone; the sign-in has its own tests, and the whole way is in test_desk_browser)."""
    app = Starlette(
        routes=[*desk_routes(pages), Mount("/static", app=StaticFiles(directory=STATIC), name="static")],
        middleware=[Middleware(TestIdentity)],
    )
    return Mount("/desk", app=app)
