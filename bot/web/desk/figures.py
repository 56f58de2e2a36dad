"""The desk's figures page: the weekly digest's protected figures, as text and as the digest's chart.

A case handler sees each of their sites with the HR audience's figures; a board member sees every
site with the board's (the cases about a supervisor, a manager or HR). The figures are the digest's
own (:func:`handlers.digest.digest_figures`), already protected (no group under 5, no reference,
nothing finer than a week), for the last full week in each site's time zone. The chart is a PNG
served at ``/desk/figures/<site>.png?week=…``: a site the person may not see, an unknown site and a
week that is not over answer the same "not found". Figures are read in a read transaction, each view
is audited in a write transaction of its own, and the chart is drawn in a worker thread after both
(matplotlib is imported there, by :mod:`bot.jobs.digest_chart`, and by nothing else on the desk).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.jobs.digest_chart import digest_chart_png
from handlers.context import Services
from handlers.digest import Audience, DigestFigures, Week, digest_figures
from handlers.digest_texts import MARK, digest_block
from handlers.i18n import Language, Translator
from handlers.settings import LocalText, pick
from storage import audit
from storage.database import Database
from storage.people import Person, Role

WEEK_LABEL = re.compile(r"^(\d{4})-W(\d{2})$")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class FigureSource:
    """Where the figures come from: the database, the services the digest reads through, and each
    configured site's time zone (its weeks run Monday to Monday there)."""

    database: Database
    services: Services
    zones: Mapping[str, ZoneInfo]


def audience_of(person: Person) -> Audience:
    return "board" if person.role is Role.BOARD else "hr"


def visible_sites(person: Person, sites: Sequence[str]) -> list[str]:
    """The configured sites whose figures ``person`` may see: all for the board, their own for HR."""
    return sorted(sites) if person.role is Role.BOARD else sorted(set(sites) & person.sites)


def last_full_week(now: datetime, tz: ZoneInfo) -> Week:
    """The ISO week before the one ``now`` falls in, in the site's time zone."""
    return Week.containing(now, tz).previous(tz)


def week_of(label: str, tz: ZoneInfo, now: datetime) -> Week | None:
    """The week a ``YYYY-Www`` label names, if it is a real week that is over; else None."""
    match = WEEK_LABEL.match(label)
    if match is None:
        return None
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        return None
    week = Week.of(monday, tz)
    return week if week.end <= now else None


async def read_figures(
    source: FigureSource, person: Person, weeks: Mapping[str, Week], now: datetime, action: str
) -> list[DigestFigures]:
    """The figures of each site in ``weeks`` for the person's audience (one read transaction), then
    the view in the audit log (a write transaction of its own, holding nothing slow)."""
    audience = audience_of(person)
    async with source.database.transaction(write=False) as session:
        found = [await digest_figures(session, source.services, site, week, audience) for site, week in weeks.items()]
    async with source.database.transaction() as session:
        await audit.record(session, person.name, action, None, now)
    return found


@dataclass(frozen=True)
class SiteFigures:
    """One site's part of the page: its name, the digest's title and lines, and the chart's URL."""

    site: str
    name: str
    title: str
    lines: list[str]
    chart: str


def site_figures(
    t: Translator, language: Language, prefix: str, name: LocalText, figures: DigestFigures
) -> SiteFigures:
    shown = pick(name, language)
    title, *lines = digest_block(t, shown, figures).split("\n")
    chart = f"{prefix}/figures/{figures.site}.png?week={figures.week.label}&lang={language}"
    return SiteFigures(figures.site, shown, title.removeprefix(MARK).strip(), lines, chart)


Render = Callable[..., Response]


def figures_routes(
    source: FigureSource,
    *,
    prefix: str,
    site_names: Mapping[str, LocalText],
    translators: Mapping[Language, Translator],
    clock: Callable[[], datetime],
    person_of: Callable[[Request], Person | None],
    login: Callable[[Request], Response],
    language: Callable[[Request], Language],
    render: Render,
    not_found: Callable[[Request, Person], Response],
) -> list[BaseRoute]:
    """``/figures`` (the page) and ``/figures/{site}.png`` (a site's chart), for the desk's routes."""
    configured = [site for site in site_names if site in source.zones]

    def gated(
        view: Callable[[Request, Person], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            person = person_of(request)
            if person is None:
                return login(request)
            return await view(request, person)

        return endpoint

    async def page(request: Request, person: Person) -> Response:
        now = clock()
        weeks = {site: last_full_week(now, source.zones[site]) for site in visible_sites(person, configured)}
        found = await read_figures(source, person, weeks, now, "figures")
        lang = language(request)
        t = translators[lang]
        shown = [site_figures(t, lang, prefix, site_names[f.site], f) for f in found]
        values: dict[str, Any] = {"sites": shown, "is_board": person.role is Role.BOARD}
        return render(request, "figures.html", person, **values)

    async def chart(request: Request, person: Person) -> Response:
        site = request.path_params["site"]
        if site not in visible_sites(person, configured):
            return not_found(request, person)
        now = clock()
        week = week_of(request.query_params.get("week", ""), source.zones[site], now)
        if week is None:
            return not_found(request, person)
        asked = request.query_params.get("lang")
        lang: Language = "zh" if asked == "zh" else "en" if asked == "en" else language(request)
        (figures,) = await read_figures(source, person, {site: week}, now, "figures:chart")
        png = await asyncio.to_thread(digest_chart_png, figures, translators, site_names[site], lang)
        return Response(png, media_type="image/png", headers=NO_STORE)

    return [Route("/figures", gated(page)), Route("/figures/{site}.png", gated(chart))]
