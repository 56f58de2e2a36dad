"""The HR desk's sign-in, on SQLite and PostgreSQL: enrolment links, password + TOTP, sessions and
their timeouts, disabled accounts, CSRF, throttling, security headers, and what the audit log,
the database and the logs keep of it all."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.core import Core
from bot.web.desk import totp
from bot.web.desk.context import Desk
from bot.web.desk.security import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from bot.web.desk.signin import safe_next
from storage import audit
from storage.accounts import Accounts
from storage.database import sqlite_path
from storage.people import Role

from .conftest import Clock
from .desk_kit import PASSWORD, SECRET_TEXT, add_account, csrf_of, desk_client, desk_config, enrol, login, quick_desk


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return desk_config(database_url, tmp_path / "data")


@pytest.fixture
async def desk(runtime: Core, clock: Clock) -> AsyncIterator[Desk]:
    yield quick_desk(runtime, clock)


async def actions(desk: Desk) -> list[tuple[str, str]]:
    """(who, what) of every audit entry, oldest first."""
    from sqlalchemy import text

    async with desk.database.transaction(write=False) as session:
        rows = await session.execute(text("SELECT actor, action FROM audit_log ORDER BY at, action"))
        return [(actor, action) for actor, action in rows]


async def test_enrolment_sets_password_and_second_factor_and_the_link_works_once(desk: Desk, clock: Clock) -> None:
    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        again = await client.get(f"/desk/enrol/{token}")
        assert again.status_code == 404
        assert "/desk/enrol/" not in again.text
        signed_in = await login(client, person, clock)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/desk/"
        landing = await client.get("/desk/")
        assert landing.status_code == 200 and "wang" in landing.text
    async with desk.database.transaction(write=False) as session:
        account = await Accounts(desk.crypto).by_name(session, "wang")
    assert account is not None and account.enrolled
    assert account.password_hash is not None and account.password_hash.startswith("$argon2id$")
    assert account.enrolment_hash is None
    assert ("wang", "desk:enrolled") in await actions(desk)
    assert ("wang", "desk:login") in await actions(desk)
    raw = sqlite_path(str(desk.database.engine.url))
    if raw is not None:  # nothing secret is stored as it is
        stored = b"".join(p.read_bytes() for p in raw.parent.glob(raw.name + "*"))
        for secret in (token, person.secret, PASSWORD):
            assert secret.encode() not in stored


async def test_an_enrolment_link_expires_after_24_hours(desk: Desk, clock: Clock) -> None:
    token = await add_account(desk, "wang")
    clock.advance(hours=24)
    async with desk_client(desk) as client:
        expired = await client.get(f"/desk/enrol/{token}")
    assert expired.status_code == 404
    assert ("(anonymous)", "desk:refused_link") in await actions(desk)


async def test_an_enrolment_begun_before_expiry_cannot_finish_after_it(desk: Desk, clock: Clock) -> None:
    token = await add_account(desk, "wang")
    clock.advance(hours=23, minutes=59)
    async with desk_client(desk) as client:
        assert (await client.get(f"/desk/enrol/{token}")).status_code == 303
        page = await client.get("/desk/enrol")
        match = SECRET_TEXT.search(page.text)
        assert match
        secret = match.group(1).replace(" ", "")
        clock.advance(minutes=2)
        late = await client.post(
            "/desk/enrol",
            data={"csrf_token": csrf_of(page), "password": PASSWORD, "repeat": PASSWORD,
                  "code": totp.code_at(secret, clock())},
        )
    assert late.status_code == 403  # the enrolment session ended with the link
    async with desk.database.transaction() as session:
        accounts = Accounts(desk.crypto)
        account = await accounts.by_name(session, "wang")
        assert account is not None and not account.enrolled and account.enrolment_hash is not None
        finished = await accounts.complete_enrolment(
            session, account.id, account.enrolment_hash, "$argon2id$x", secret, 1, clock()
        )
    assert finished is False


async def test_the_enrolment_page_refuses_a_wrong_code_and_a_short_password(desk: Desk, clock: Clock) -> None:
    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        await client.get(f"/desk/enrol/{token}")
        page = await client.get("/desk/enrol")
        refused = await client.post(
            "/desk/enrol", data={"csrf_token": csrf_of(page), "password": "short", "repeat": "short", "code": "000000"}
        )
    assert refused.status_code == 400
    assert 'href="#password"' in refused.text and 'href="#code"' in refused.text
    async with desk.database.transaction(write=False) as session:
        account = await Accounts(desk.crypto).by_name(session, "wang")
    assert account is not None and not account.enrolled


async def test_a_wrong_code_or_password_is_refused_and_a_code_works_once(desk: Desk, clock: Clock) -> None:
    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        right = totp.code_at(person.secret, clock())
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        refused = await login(client, person, clock, code=wrong)
        assert refused.status_code == 400
        assert "__Host-hapdesk=" not in refused.headers.get("set-cookie", "")
        assert (await login(client, person, clock, password="wrong password")).status_code == 400
        assert (await client.get("/desk/")).status_code == 303
        assert (await login(client, person, clock)).status_code == 303
        replayed_client_code = totp.code_at(person.secret, clock())
    async with desk_client(desk, address="198.51.100.9") as other:
        replay = await login(other, person, clock, code=replayed_client_code)
    assert replay.status_code == 400
    assert sorted(a for a in await actions(desk) if a[1].startswith("desk:login")) == [
        ("wang", "desk:login"),
        ("wang", "desk:login_failed"),
        ("wang", "desk:login_failed"),
        ("wang", "desk:login_failed"),
    ]


async def test_a_session_ends_after_15_idle_minutes(desk: Desk, clock: Clock) -> None:
    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        await login(client, person, clock)
        clock.advance(minutes=14)
        assert (await client.get("/desk/")).status_code == 200
        clock.advance(minutes=15)
        ended = await client.get("/desk/")
        assert ended.status_code == 303 and ended.headers["location"].startswith("/desk/login")
        assert "Max-Age=0" in ended.headers["set-cookie"]
        assert (await client.get("/desk/")).status_code == 303
    assert ("wang", "desk:session_expired") in await actions(desk)


async def test_a_session_ends_after_its_absolute_time_however_active(
    runtime: Core, clock: Clock, database_url: str, tmp_path: Path
) -> None:
    config = desk_config(database_url, tmp_path / "other", session_absolute_hours=1)
    desk = quick_desk(runtime, clock)
    desk = Desk(**{**desk.__dict__, "settings": type(desk.settings).from_config(config)})
    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        await login(client, person, clock)
        for _ in range(5):
            clock.advance(minutes=10)
            assert (await client.get("/desk/")).status_code == 200
        clock.advance(minutes=10)
        assert (await client.get("/desk/")).status_code == 303
    assert ("wang", "desk:session_expired") in await actions(desk)


async def test_a_disabled_account_is_refused_at_its_next_request(desk: Desk, clock: Clock) -> None:
    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        await login(client, person, clock)
        assert (await client.get("/desk/")).status_code == 200
        async with desk.database.transaction() as session:
            await Accounts(desk.crypto).disable(session, "wang", clock())
        assert (await client.get("/desk/")).status_code == 303
        clock.advance(seconds=30)
        assert (await login(client, person, clock)).status_code == 400


async def test_a_disabled_flag_alone_ends_a_live_session(desk: Desk, clock: Clock) -> None:
    """The gate reads the account on every request: even a session row left behind is refused."""
    from sqlalchemy import text

    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        await login(client, person, clock)
        async with desk.database.transaction() as session:
            await session.execute(text("UPDATE desk_accounts SET disabled = :yes"), {"yes": True})
        assert (await client.get("/desk/")).status_code == 303
    assert ("wang", "desk:refused_disabled") in await actions(desk)


async def test_unsafe_methods_need_the_csrf_token(desk: Desk, clock: Clock) -> None:
    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        await login(client, person, clock)
        page = await client.get("/desk/")
        good = csrf_of(page)
        assert (await client.post("/desk/logout")).status_code == 403
        assert (await client.post("/desk/logout", data={"csrf_token": "0" * len(good)})).status_code == 403
        assert (await client.post("/desk/logout", headers={"X-CSRF-Token": good[:-1]})).status_code == 403
        assert (await client.get("/desk/")).status_code == 200  # still signed in
        out = await client.post("/desk/logout", headers={"X-CSRF-Token": good})
        assert out.status_code == 303 and out.headers["location"] == "/desk/login?done=signed_out"
        assert (await client.get("/desk/")).status_code == 303
    async with desk_client(desk) as stranger:  # no cookie at all: a cross-site form post
        forged = await stranger.post("/desk/login", data={"csrf_token": good, "name": "wang", "password": PASSWORD})
        assert forged.status_code == 403
    refusals = sorted(a for a in await actions(desk) if a[1] == "desk:refused_csrf")
    assert refusals == [("(anonymous)", "desk:refused_csrf")] + [("wang", "desk:refused_csrf")] * 3
    assert ("wang", "desk:logout") in await actions(desk)


async def test_wrong_passwords_slow_that_account_down_while_another_signs_in(desk: Desk, clock: Clock) -> None:
    tokens = {name: await add_account(desk, name) for name in ("wang", "li")}
    async with desk_client(desk) as client:
        wang = await enrol(client, desk, tokens["wang"], "wang", clock)
        li = await enrol(client, desk, tokens["li"], "li", clock)
        statuses = [(await login(client, wang, clock, password=f"guess {n}")).status_code for n in range(20)]
        assert statuses[:5] == [400] * 5 and 429 in statuses
        throttled = await login(client, wang, clock)  # even the right password waits
        assert throttled.status_code == 429
        async with desk_client(desk) as other_browser:  # same address, another account
            assert (await login(other_browser, li, clock)).status_code == 303
        clock.advance(minutes=16)
        assert (await login(client, wang, clock)).status_code == 303
    assert ("wang", "desk:login_throttled") in await actions(desk)


async def test_every_desk_response_carries_the_security_headers(desk: Desk, clock: Clock) -> None:
    async with desk_client(desk) as client:
        responses = [
            await client.get("/desk/login"),
            await client.get("/desk/"),
            await client.get("/desk/static/base.css"),
            await client.get("/desk/enrol/not-a-token"),
            await client.post("/desk/logout"),
        ]
    assert [r.status_code for r in responses] == [200, 303, 200, 404, 403]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (response.request.url, name)
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "<script" not in responses[0].text and "style=" not in responses[0].text
    cookie = responses[0].headers["set-cookie"]
    assert cookie.startswith("__Host-hapdesk-pre=")
    assert all(part in cookie for part in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"))


async def test_login_goes_only_to_desk_paths(desk: Desk, clock: Clock) -> None:
    assert safe_next("/desk/cases/HAP-1") == "/desk/cases/HAP-1"
    for hostile in ("//evil.example/desk/", "https://evil.example/", "/desk/\\evil", "/elsewhere", "/desk/../x",
                    "/desk/login", "\r\n/desk/", None, ""):
        assert safe_next(hostile) == "/desk/"
    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        response = await login(client, person, clock, next_path="//evil.example/")
    assert response.headers["location"] == "/desk/"


async def test_pages_speak_chinese_first_and_english_on_request(desk: Desk) -> None:
    async with desk_client(desk) as client:
        chinese = await client.get("/desk/login")
        english = await client.get("/desk/login", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
        switched = await client.get("/desk/language?to=en&next=/desk/login")
        after = await client.get("/desk/login")
    assert "登录" in chinese.text and 'lang="zh-CN"' in chinese.text
    assert "Sign in" in english.text
    assert switched.status_code == 303 and switched.headers["location"] == "/desk/login"
    assert "Sign in" in after.text


async def test_no_token_or_password_reaches_the_logs(
    desk: Desk, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        await login(client, person, clock)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))  # the test's client
    assert "GET /desk/enrol/… 303" in logged
    assert token not in logged and PASSWORD not in logged and person.secret not in logged


async def test_audit_entries_of_sign_in_are_content_free(desk: Desk, clock: Clock) -> None:
    token = await add_account(desk, "wang", Role.BOARD, ())
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        await login(client, person, clock)
    async with desk.database.transaction(write=False) as session:
        entries = await audit.entries_for(session, "")
    assert entries == []  # none names a case
    for actor, action in await actions(desk):
        assert token not in actor + action and PASSWORD not in actor + action


async def test_the_hourly_cleaner_deletes_sessions_past_their_time(runtime: Core, desk: Desk, clock: Clock) -> None:
    from bot.jobs.cleaner import Cleaner

    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        await login(client, person, clock)
    async with desk_client(desk) as other:
        await login(other, person, clock, password="wrong password")
    assert (await Cleaner(runtime.database, runtime.services).run_once())["desk_sessions"] == 0
    clock.advance(hours=25)
    assert (await Cleaner(runtime.database, runtime.services).run_once())["desk_sessions"] == 1
    from sqlalchemy import text

    async with desk.database.transaction(write=False) as session:
        left = (await session.execute(text("SELECT count(*) FROM desk_login_throttles"))).scalar()
    assert left == 0


async def test_a_page_s_refusal_is_audited_even_when_its_transaction_rolls_back(desk: Desk, clock: Clock) -> None:
    """What the case pages do when a person asks for a case they may not see."""
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    from bot.web.app import build_web_app
    from bot.web.desk.mount import build_desk
    from bot.web.desk.security import record_refusal

    async def forbidden(request: Request) -> Response:
        try:
            async with desk.database.transaction() as session:
                await audit.record(session, "never", "rolled back", None, clock())
                raise PermissionError
        except PermissionError:
            await record_refusal(request, "case")
            return PlainTextResponse("not yours", status_code=404)

    token = await add_account(desk, "wang")
    app = build_web_app([build_desk(desk, [Route("/cases/x", forbidden)])])
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://desk.example.com") as client:
        person = await enrol(client, desk, token, "wang", clock)
        await login(client, person, clock)
        assert (await client.get("/desk/cases/x")).status_code == 404
    entries = await actions(desk)
    assert ("wang", "desk:refused_case") in entries and ("never", "rolled back") not in entries


class ResetWhileHashing:
    """Wraps the desk's password hasher: ``hapbot hr reset`` commits while a password is being
    checked, between the sign-in's read and its write (argon2id is slow on purpose)."""

    def __init__(self, desk: Desk) -> None:
        self.desk, self.inner, self.armed = desk, desk.hasher, False

    async def hash(self, password: str) -> str:
        return await self.inner.hash(password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        ok = await self.inner.verify(password_hash, password)
        if self.armed:
            self.armed = False
            async with self.desk.database.transaction() as session:
                await Accounts(self.desk.crypto).reset(session, "wang", self.desk.clock())
        return ok


async def test_a_sign_in_racing_a_reset_opens_no_session(desk: Desk, clock: Clock) -> None:
    """A reset is what an operator runs when a handler's password and phone may be in other hands:
    a sign-in with them that was under way when it committed must not come out with a session."""
    racing = ResetWhileHashing(desk)
    desk = Desk(**{**desk.__dict__, "hasher": racing})
    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        racing.armed = True
        await login(client, person, clock)
        assert racing.armed is False, "the reset ran during the sign-in"
        page = await client.get("/desk/")
        assert page.status_code == 303, "no session survives the reset"
    assert ("wang", "desk:login_failed") in await actions(desk)


async def test_a_signed_in_session_of_an_account_no_longer_enrolled_is_ended(desk: Desk, clock: Clock) -> None:
    """The gate's own check, beside the sign-in's: whatever left a session behind, an account whose
    password and second factor were forgotten (a reset) is signed out at its next request."""
    from sqlalchemy import update

    from storage.models import DeskAccount

    token = await add_account(desk, "wang")
    async with desk_client(desk) as client:
        person = await enrol(client, desk, token, "wang", clock)
        await login(client, person, clock)
        assert (await client.get("/desk/")).status_code == 200
        async with desk.database.transaction() as session:  # forgotten, the session row left in place
            await session.execute(update(DeskAccount).values(password_hash=None, totp_secret_ct=None))
        assert (await client.get("/desk/")).status_code == 303
    assert ("wang", "desk:refused_not_enrolled") in await actions(desk)
