"""Test-only pieces for the HR desk: people, a case with a picture, and an identity middleware.

``TestIdentity`` stands in for the desk's sign-in in tests: it reads a ``desk_test_person`` cookie,
puts that person and a CSRF token on the request, and refuses a POST whose form lacks the token,
as the real middleware does. It lives under tests/ and nothing in bot/ refers to it, so no
production configuration can reach it.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Mapping
from datetime import datetime
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.core import Core
from handlers.hr import CaseDesk, desk_for
from handlers.report import alert_audience
from storage.case_index import Audience
from storage.people import Person, Role
from storage.receipts import new_receipt

from .test_evidence import evidence_photo

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
    receipt = new_receipt()
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
    return receipt, case.reference


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
