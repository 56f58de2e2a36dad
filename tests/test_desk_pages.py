"""The desk's pages over HTTP (the ASGI app in-process), on SQLite and PostgreSQL: sign-in redirect,
one not-found for unknown and forbidden cases (page and picture), forms, and pages fit for a strict
Content-Security-Policy with no case content in any URL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from bot.config import Config
from bot.core import Core, build_core
from bot.web.app import build_web_app
from bot.web.desk.pages import build_desk_pages
from storage.cases import CaseStatus
from storage.crypto import KeyRing
from storage.deadline_rules import next_deadline
from storage.models import AuditEntry
from storage.outbox import as_utc

from .conftest import Clock
from .desk_kit import COOKIE, LI, WANG, ZHAO, TestIdentity, desk, new_case, pages_mount, picture

CANARY = "CANARY-93ad-behind-the-dormitory"


@pytest.fixture
async def web(runtime: Core) -> AsyncIterator[httpx.AsyncClient]:
    app = build_web_app([pages_mount(build_desk_pages(runtime))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as client:
        yield client


def as_person(client: httpx.AsyncClient, account_id: str) -> httpx.AsyncClient:
    client.cookies.set(COOKIE, account_id)
    return client


def form(account_id: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": TestIdentity.token_for(account_id), **fields}


async def test_without_a_person_every_page_redirects_to_sign_in(web: httpx.AsyncClient) -> None:
    for path in ("/desk/cases", "/desk/cases/HAP-000000", "/desk/cases/HAP-000000/evidence/1"):
        response = await web.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/desk/login?next={path}"


async def test_forbidden_and_unknown_cases_look_the_same_everywhere(
    web: httpx.AsyncClient, runtime: Core, clock: Clock
) -> None:
    _, board_case = await new_case(runtime, clock(), involved="supervisor", photo=picture(5))
    _, north_case = await new_case(runtime, clock(), site="north", photo=picture(6))
    as_person(web, WANG.account_id)
    listing = await web.get("/desk/cases?view=all")
    assert listing.status_code == 200 and board_case not in listing.text and north_case not in listing.text
    unknown_page = await web.get("/desk/cases/HAP-ZZZZZZ")
    unknown_image = await web.get("/desk/cases/HAP-ZZZZZZ/evidence/1")
    for reference in (board_case, north_case):
        page = await web.get(f"/desk/cases/{reference}")
        image = await web.get(f"/desk/cases/{reference}/evidence/1")
        # The same answer, byte for byte, once the reference the person typed is set aside.
        assert page.status_code == unknown_page.status_code == 404
        assert page.text.replace(reference, "HAP-ZZZZZZ") == unknown_page.text
        assert image.status_code == unknown_image.status_code == 404
        assert image.headers["content-type"] == unknown_image.headers["content-type"]
        assert image.text.replace(reference, "HAP-ZZZZZZ") == unknown_image.text
        assert set(page.headers) == set(unknown_page.headers)
        post = await web.post(f"/desk/cases/{reference}/reply", data=form(WANG.account_id, text="hi"))
        unknown_post = await web.post("/desk/cases/HAP-ZZZZZZ/reply", data=form(WANG.account_id, text="hi"))
        assert post.status_code == unknown_post.status_code == 404
        assert post.text.replace(reference, "HAP-ZZZZZZ") == unknown_post.text
    as_person(web, LI.account_id)
    assert board_case in (await web.get("/desk/cases")).text
    image = await web.get(f"/desk/cases/{board_case}/evidence/1")
    assert image.status_code == 200 and image.content == picture(5)
    assert image.headers["cache-control"] == "no-store" and image.headers["content-type"] == "image/jpeg"
    as_person(web, ZHAO.account_id)
    assert (await web.get(f"/desk/cases/{north_case}/evidence/1")).content == picture(6)


async def test_work_a_case_through_the_forms(web: httpx.AsyncClient, runtime: Core, clock: Clock) -> None:
    _, reference = await new_case(runtime, clock(), story=f"He said {CANARY}", photo=picture(8))
    as_person(web, WANG.account_id).cookies.set("desk_lang", "en")
    page = await web.get(f"/desk/cases/{reference}")
    assert page.status_code == 200 and CANARY in page.text and page.headers["cache-control"] == "no-store"
    assert f'src="/desk/cases/{reference}/evidence/1"' in page.text
    assert TestIdentity.token_for(WANG.account_id) in page.text, "every form carries the CSRF token"
    refused = await web.post(f"/desk/cases/{reference}/reply", data={"text": "no token"})
    assert refused.status_code == 403
    steps = [
        ("reply", {"text": "Can we talk on Tuesday?"}),
        ("note", {"text": "Line leader to be interviewed"}),
        ("take", {}),
        ("status", {"status": "investigating"}),
    ]
    for action, fields in steps:
        done = await web.post(f"/desk/cases/{reference}/{action}", data=form(WANG.account_id, **fields))
        assert done.status_code == 303 and done.headers["location"] == f"/desk/cases/{reference}?done={action}"
    not_closed = await web.post(
        f"/desk/cases/{reference}/status", data=form(WANG.account_id, status="closed", outcome=" ")
    )
    assert not_closed.status_code == 400 and "Write the outcome before closing the case." in not_closed.text
    closed = await web.post(
        f"/desk/cases/{reference}/status",
        data=form(WANG.account_id, status="closed", outcome="Warning given, training repeated"),
    )
    assert closed.status_code == 303
    page = await web.get(f"/desk/cases/{reference}?lang=en")
    for shown in ("Can we talk on Tuesday?", "Line leader to be interviewed", "Warning given", "Closed", "Wang"):
        assert shown in page.text
    listing = await web.get("/desk/cases?view=all&mine=1")
    assert reference in listing.text and "Handler: Wang" in listing.text
    assert (await desk(runtime).open(WANG, reference, clock())).case.status is CaseStatus.CLOSED


async def test_recusal_hands_the_case_to_the_board(web: httpx.AsyncClient, runtime: Core, clock: Clock) -> None:
    _, reference = await new_case(runtime, clock())
    as_person(web, WANG.account_id)
    unconfirmed = await web.post(f"/desk/cases/{reference}/recuse", data=form(WANG.account_id))
    assert unconfirmed.status_code == 400
    recused = await web.post(f"/desk/cases/{reference}/recuse", data=form(WANG.account_id, confirm="yes"))
    assert recused.status_code == 303 and recused.headers["location"] == "/desk/cases?done=recused"
    assert (await web.get(f"/desk/cases/{reference}")).status_code == 404
    as_person(web, LI.account_id)
    assert (await web.get(f"/desk/cases/{reference}")).status_code == 200
    audit_page = await web.get(f"/desk/cases/{reference}/audit?lang=en")
    assert audit_page.status_code == 200 and "recuse" in audit_page.text and "Wang" in audit_page.text


async def test_pages_need_no_script_no_outside_resource_and_carry_no_content_in_urls(
    web: httpx.AsyncClient, runtime: Core, clock: Clock
) -> None:
    _, reference = await new_case(runtime, clock(), story=f"Story {CANARY}", photo=picture(9))
    await new_case(runtime, clock(), urgency="danger_now", category="physical")
    as_person(web, WANG.account_id)
    pages = [
        await web.get("/desk/cases"),
        await web.get("/desk/cases?lang=en&sort=urgency&category=physical"),
        await web.get(f"/desk/cases/{reference}"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.text
        assert "<script" not in html.lower() and " style=" not in html.lower() and " on" + "click" not in html
        for url in re.findall(r'(?:href|src|action)="([^"]+)"', html):
            assert url.startswith("/desk/") or url.startswith("?"), url
            assert "CANARY" not in url.upper()
    stylesheet = await web.get("/desk/static/desk.css")
    assert stylesheet.status_code == 200 and "url(" not in stylesheet.text and "@import" not in stylesheet.text
    chinese = pages[0].text
    assert "案件" in chinese or "举报" in chinese, "Chinese is the default language"


async def test_a_case_purged_within_the_week_says_so_on_its_page_and_in_the_list(
    web: httpx.AsyncClient, runtime: Core, clock: Clock
) -> None:
    _, closing = await new_case(runtime, clock())
    _, staying = await new_case(runtime, clock())
    await desk(runtime).set_status(WANG, closing, CaseStatus.CLOSED, clock(), outcome="Warned; training repeated.")
    as_person(web, WANG.account_id).cookies.set("desk_lang", "en")
    assert "deleted for good" not in (await web.get(f"/desk/cases/{closing}")).text
    days = runtime.config.bot.retention_days
    clock.advance(days=days - 3)  # the purge is 3 days away (storage.retention.due_for_purge)
    page = await web.get(f"/desk/cases/{closing}")
    assert "This case will be deleted for good on" in page.text
    assert "deleted for good" not in (await web.get(f"/desk/cases/{staying}")).text, "an open case is kept"
    listing = await web.get("/desk/cases?view=all")
    assert listing.text.count("Deleted within 7 days") == 1


async def test_the_board_checks_the_audit_chain_when_asked_and_a_handler_cannot(
    web: httpx.AsyncClient, runtime: Core, clock: Clock
) -> None:
    as_person(web, LI.account_id).cookies.set("desk_lang", "en")
    before = await web.get("/desk/audit")
    assert before.status_code == 200 and "Not checked since the desk started." in before.text
    checked = await web.post("/desk/audit/verify", data=form(LI.account_id))
    assert checked.status_code == 303 and checked.headers["location"] == "/desk/audit"
    after = await web.get("/desk/audit")
    assert "The audit log verifies:" in after.text and "Checked " in after.text and " by Li." in after.text
    as_person(web, WANG.account_id)
    assert (await web.get("/desk/audit")).status_code == 404
    assert (await web.post("/desk/audit/verify", data=form(WANG.account_id))).status_code == 404
    async with runtime.database.transaction() as session:
        actions = [(e.actor, e.action) for e in (await session.execute(select(AuditEntry))).scalars()]
        assert ("Li", "audit:verify") in actions and ("Wang", "refused:audit:verify") in actions
        await session.execute(
            update(AuditEntry).where(AuditEntry.action == "refused:audit:verify").values(action="nothing happened")
        )
    as_person(web, LI.account_id)
    await web.post("/desk/audit/verify", data=form(LI.account_id))
    tampered = await web.get("/desk/audit")
    assert "The audit log does NOT verify." in tampered.text and "edited" in tampered.text


async def test_deadlines_are_shown_on_their_own_day_west_of_utc(
    config: Config, keyring: KeyRing, clock: Clock, faq_service: object, quiz_library: object, receipt_hasher: object
) -> None:
    """[bot] time_zone = America/Mexico_City (UTC-6): a deadline at 18:00 there is 00:00 UTC the next
    day. The list and the case page name the day the HR chat's note names, at 18:00 local."""
    local = config.model_copy(update={"bot": config.bot.model_copy(update={"time_zone": "America/Mexico_City"})})
    core = await build_core(
        local, keyring=keyring, clock=clock, faq=faq_service, quizzes=quiz_library, hasher=receipt_hasher
    )
    try:
        _, reference = await new_case(core, clock())
        async with core.database.transaction(write=False) as session:
            view = await core.services.cases.by_reference(session, reference)
        upcoming = next_deadline(view)
        assert upcoming is not None
        due_there = as_utc(upcoming.due).astimezone(ZoneInfo("America/Mexico_City"))
        assert due_there.hour == 18 and as_utc(upcoming.due).date() != due_there.date()
        app = build_web_app([pages_mount(build_desk_pages(core))])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as client:
            as_person(client, WANG.account_id)
            listing = (await client.get("/desk/cases?view=all&lang=en")).text
            page = (await client.get(f"/desk/cases/{reference}?lang=en")).text
        assert f"Next deadline: {due_there:%Y-%m-%d}" in listing
        shown = re.findall(r"Due next</dt><dd><span[^>]*>([^<]*)</span>", page)
        assert len(shown) == 1 and shown[0].endswith(" 18:00 (America/Mexico_City)"), shown  # opened: the next one
    finally:
        await core.close()
