"""The desk's figures page over HTTP, on SQLite and PostgreSQL: each person sees the digest's
protected figures of their own sites (a board member: every site, the board's figures), the chart
of a site they may not see answers as a site that does not exist, and every view is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.core import Core
from bot.web.app import build_web_app
from bot.web.desk.pages import build_desk_pages
from storage.models import AuditEntry

from .conftest import Clock
from .desk_kit import COOKIE, LI, WANG, ZHAO, new_case, pages_mount

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LAST_WEEK = "2026-W09"  # the test clock starts on Monday 2 March 2026: the last full week is 23 Feb - 1 Mar


@pytest.fixture
async def web(runtime: Core) -> AsyncIterator[httpx.AsyncClient]:
    app = build_web_app([pages_mount(build_desk_pages(runtime))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk.test") as client:
        client.cookies.set("desk_lang", "en")
        yield client


async def cases_last_week(runtime: Core, clock: Clock) -> list[str]:
    """Six HR cases and two board cases at the main site, one HR case at the north site, all
    reported during the last full week; their references."""
    when = clock() - timedelta(days=4)
    references = []
    for _ in range(6):
        references.append((await new_case(runtime, when))[1])
    for _ in range(2):
        references.append((await new_case(runtime, when, involved="supervisor"))[1])
    references.append((await new_case(runtime, when, site="north"))[1])
    return references


async def test_a_handler_sees_the_figures_of_their_site_and_its_chart_only(
    web: httpx.AsyncClient, runtime: Core, clock: Clock
) -> None:
    references = await cases_last_week(runtime, clock)
    web.cookies.set(COOKIE, WANG.account_id)
    page = await web.get("/desk/figures")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert "Weekly digest: Factory One, week 9 of 2026" in html
    assert "New reports this week: 6" in html, "the six HR cases, not the board's two"
    assert "North Plant" not in html and "Advocacy board" not in html
    assert not [reference for reference in references if reference in html]
    assert "<script" not in html.lower() and " style=" not in html.lower()
    chart_url = f"/desk/figures/main.png?week={LAST_WEEK}&amp;lang=en"
    assert f'src="{chart_url}"' in html and 'href="/desk/figures"' in html
    chart = await web.get(chart_url.replace("&amp;", "&"))
    assert chart.status_code == 200 and chart.content.startswith(PNG_SIGNATURE) and len(chart.content) > 10_000
    assert chart.headers["content-type"] == "image/png" and chart.headers["cache-control"] == "no-store"
    unknown = await web.get(f"/desk/figures/nowhere.png?week={LAST_WEEK}")
    for site, refused in (
        ("north", await web.get(f"/desk/figures/north.png?week={LAST_WEEK}")),
        ("main", await web.get("/desk/figures/main.png?week=2026-W10")),  # this week: not over
        ("main", await web.get("/desk/figures/main.png?week=2026-W99")),
    ):
        # The same answer as an unknown site, once the path the person typed is set aside.
        assert refused.status_code == unknown.status_code == 404
        assert refused.text.replace(f"/{site}.png", "/nowhere.png") == unknown.text
        assert refused.headers["content-type"] == unknown.headers["content-type"]
    web.cookies.set(COOKIE, ZHAO.account_id)
    north = await web.get("/desk/figures")
    assert "Weekly digest: North Plant" in north.text and "Factory One" not in north.text
    assert "New reports this week: &lt;5" in north.text, "one case: shown as <5"
    assert (await web.get(f"/desk/figures/north.png?week={LAST_WEEK}")).content.startswith(PNG_SIGNATURE)
    assert (await web.get(f"/desk/figures/main.png?week={LAST_WEEK}")).status_code == 404


async def test_a_board_member_sees_the_board_figures_of_every_site(
    web: httpx.AsyncClient, runtime: Core, clock: Clock
) -> None:
    references = await cases_last_week(runtime, clock)
    web.cookies.set(COOKIE, LI.account_id)
    page = await web.get("/desk/figures")
    html = page.text
    assert page.status_code == 200
    assert "Advocacy board weekly digest: Factory One, week 9 of 2026" in html
    assert "Advocacy board weekly digest: North Plant, week 9 of 2026" in html
    assert "New reports this week: 6" not in html, "the HR cases are not the board's"
    assert html.count("New reports this week: &lt;5") == 2, "two board cases at main, none at north"
    assert not [reference for reference in references if reference in html]
    for site in ("main", "north"):
        chart = await web.get(f"/desk/figures/{site}.png?week={LAST_WEEK}&lang=zh")
        assert chart.status_code == 200 and chart.content.startswith(PNG_SIGNATURE)
    chinese = await web.get("/desk/figures?lang=zh")
    assert "员工关爱委员会每周汇总：一号厂" in chinese.text and "每周统计" in chinese.text


async def test_every_view_is_audited_and_needs_a_person(web: httpx.AsyncClient, runtime: Core) -> None:
    assert (await web.get("/desk/figures")).headers["location"] == "/desk/login?next=/desk/figures"
    assert (await web.get(f"/desk/figures/main.png?week={LAST_WEEK}")).status_code == 303
    web.cookies.set(COOKIE, WANG.account_id)
    await web.get("/desk/figures")
    await web.get(f"/desk/figures/main.png?week={LAST_WEEK}")
    web.cookies.set(COOKIE, LI.account_id)
    await web.get("/desk/figures")
    async with runtime.database.transaction(write=False) as session:
        actions = [(e.actor, e.action, e.case_reference) for e in (await session.execute(select(AuditEntry))).scalars()]
    assert sorted(actions) == [("Li", "figures", None), ("Wang", "figures", None), ("Wang", "figures:chart", None)]
