"""The HR desk's pages: the case list, a case, its evidence pictures, its audit trail, and the forms
that reply, note, change the status, take a case and hand it to the board.

Server-rendered HTML (Jinja2, autoescaped) with one stylesheet of our own under ``/desk/static/``:
no script, no resource from elsewhere, so the pages work under ``script-src 'self'`` in WeCom's and
WeChat's in-app browsers and on a desktop. Text comes from the bot's gettext catalogs, Chinese
first. URLs carry case references and small numbers only, never case content; every page that
shows a case is ``Cache-Control: no-store``.

Who is signed in is not decided here: the desk's gate (:class:`bot.web.desk.security.DeskGate`,
put around these routes by :func:`bot.web.desk.mount.build_desk`) puts ``request.state.person``
(a :class:`~storage.people.Person` or None) and ``request.state.csrf_token`` on every request,
and refuses unsafe methods without the token. A page without a person redirects to
``/desk/login?next=<path>``. Who may see which case is decided in :mod:`handlers.desk_access`
through :class:`~handlers.hr.CaseDesk`; a case somebody may not see answers exactly as a case
that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from bot.core import Core
from bot.web.app import read_limited
from handlers.alerts import URGENCY as URGENCY_LABELS
from handlers.hr import CaseDesk, CaseNotFound, EmptyText, NotPermitted, OutcomeRequired, UnreadableCase, desk_for
from handlers.i18n import Language, Translator, language_from_hint
from handlers.reminder_rules import zone
from handlers.report import CATEGORIES, INVOLVED, WHEN, WHERE
from handlers.settings import LocalText, pick
from storage.audit import ChainVerdict
from storage.case_index import ListQuery, SortOrder, status_filter
from storage.case_status import HR_SETTABLE, OPEN_STATUSES, CaseStatus
from storage.people import Person, Role

from .figures import FigureSource, figures_routes
from .texts import DONE, N_, STATUS_LABELS

HERE = Path(__file__).resolve().parent
PREFIX = "/desk"
PER_PAGE = 25
LANGUAGE_COOKIE = "desk_lang"
MAX_FORM_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SORTS = {
    SortOrder.OLDEST: N_("Oldest first"),
    SortOrder.NEWEST: N_("Newest first"),
    SortOrder.DEADLINE: N_("Next deadline"),
    SortOrder.URGENCY: N_("Most urgent"),
}


@dataclass(frozen=True)
class DeskPages:
    """What the pages need besides the desk: text, site names, the time."""

    desk: CaseDesk
    translators: Mapping[Language, Translator]
    site_names: Mapping[str, LocalText]
    clock: Callable[[], datetime]
    default_language: Language = "zh"
    audit_check: AuditCheck = field(default_factory=lambda: AuditCheck())
    figures: FigureSource | None = None
    deadline_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    """Whose days the deadlines count ([bot] time_zone): a deadline is shown on its own day and hour
    there, the day the HR chat's note names, not on the UTC day (a day later west of UTC-6)."""


@dataclass
class AuditCheck:
    """The last audit-chain verdict a board member asked for, kept to show on the audit page (the
    check reads the whole log, so a page view never runs it)."""

    verdict: ChainVerdict | None = None
    checked_at: datetime | None = None
    checked_by: str = ""


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    aware = _aware(moment)
    return aware.astimezone(zone) if aware is not None else None


def _person(request: Request) -> Person | None:
    person = getattr(request.state, "person", None)
    return person if isinstance(person, Person) else None


def _login(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/login?next={quote(request.url.path, safe='/')}", status_code=303)


async def _form(request: Request) -> dict[str, str] | None:
    """The fields of an urlencoded form (the first value of each), or None past ``MAX_FORM_BYTES``."""
    body = await read_limited(request, MAX_FORM_BYTES)
    if body is None:
        return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=50)
    return {name: values[0] for name, values in fields.items()}


def desk_routes(pages: DeskPages) -> list[BaseRoute]:
    """The case pages' routes, for :func:`bot.web.desk.mount.build_desk` to put behind the desk's
    gate (``/`` is the case list and replaces the sign-in's placeholder landing page)."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True

    def language(request: Request) -> Language:
        asked = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
        if asked in ("zh", "en"):
            return "zh" if asked == "zh" else "en"
        return language_from_hint(request.headers.get("accept-language"), pages.default_language)

    def render(request: Request, name: str, person: Person, status_code: int = 200, **values: Any) -> Response:
        lang = language(request)
        t = pages.translators[lang]
        context = {
            "t": t,
            "lang": lang,
            "person": person,
            "csrf_token": getattr(request.state, "csrf_token", ""),
            "site_name": lambda site: pick(pages.site_names.get(site, {"zh": site, "en": site}), lang),
            "status_label": lambda status: t(STATUS_LABELS[status]) if status in STATUS_LABELS else str(status),
            "category_label": lambda value: t(CATEGORIES[value]) if value in CATEGORIES else "—",
            "urgency_label": lambda value: t(URGENCY_LABELS[value]) if value in URGENCY_LABELS else "—",
            "path": request.url.path,
            "prefix": PREFIX,
            **values,
        }
        response = templates.TemplateResponse(request, name, context, status_code=status_code, headers=NO_STORE)
        if request.query_params.get("lang") in ("zh", "en"):
            secure = request.url.scheme == "https"
            response.set_cookie(LANGUAGE_COOKIE, lang, httponly=True, samesite="lax", secure=secure)
        return response

    def not_found(request: Request, person: Person) -> Response:
        """The one answer for a case that does not exist and a case this person may not see."""
        return render(request, "not_found.html", person, status_code=404)

    async def home(request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/cases", status_code=303)

    async def case_list(request: Request) -> Response:
        person = _person(request)
        if person is None:
            return _login(request)
        params = request.query_params
        statuses = status_filter(params.getlist("status"))
        view = params.get("view", "open")
        if statuses is None and view == "open":
            statuses = OPEN_STATUSES
        try:
            page_number = max(1, int(params.get("page", "1")))
        except ValueError:
            page_number = 1
        sort_value = params.get("sort", SortOrder.OLDEST.value)
        sort = SortOrder(sort_value) if sort_value in SortOrder._value2member_map_ else SortOrder.OLDEST
        category = params.get("category") if params.get("category") in CATEGORIES else None
        urgency = params.get("urgency") if params.get("urgency") in URGENCY_LABELS else None
        site = params.get("site") if params.get("site") in pages.site_names else None
        query = ListQuery(
            statuses=statuses,
            site=site,
            category=category,
            urgency=urgency,
            overdue=params.get("overdue") == "1",
            assignee=person.account_id if params.get("mine") == "1" else None,
            sort=sort,
            page=page_number,
            per_page=PER_PAGE,
        )
        now = pages.clock()
        listing = await pages.desk.list_cases(person, query, now)
        kept = [(k, v) for k, v in params.multi_items() if k not in ("page", "lang")]

        def page_link(number: int) -> str:
            return f"{PREFIX}/cases?" + urlencode([*kept, ("page", str(number))])

        rows = []
        for case in listing.page.cases:
            created = _aware(case.created_at) or now
            deadline = _aware(case.next_due)
            rows.append(
                {
                    "case": case,
                    "age_days": max(0, (now - created).days),
                    "deadline": deadline.astimezone(pages.deadline_zone) if deadline is not None else None,
                    "overdue": deadline is not None and deadline < now,
                }
            )
        sites = sorted(pages.site_names) if person.role is Role.BOARD else sorted(person.sites & set(pages.site_names))
        return render(
            request,
            "list.html",
            person,
            listing=listing,
            rows=rows,
            query=query,
            view=view,
            sites=sites,
            statuses=list(CaseStatus),
            categories=list(CATEGORIES),
            urgencies=list(URGENCY_LABELS),
            sorts=SORTS,
            page_link=page_link,
        )

    async def case_page(
        request: Request, person: Person, reference: str, *, error: str | None = None, status_code: int = 200
    ) -> Response:
        try:
            file = await pages.desk.open(person, reference, pages.clock())
        except CaseNotFound:
            return not_found(request, person)
        except UnreadableCase as unreadable:
            return render(request, "unreadable.html", person, status_code=409, label=unreadable.label)
        done = request.query_params.get("done")
        return render(
            request,
            "case.html",
            person,
            status_code=status_code,
            file=file,
            report=file.report,
            done=DONE.get(done or ""),
            error=error,
            settable=[s for s in HR_SETTABLE if s is not file.case.status],
            overdue=file.next_due is not None and file.next_due < pages.clock(),
            due_local=_local(file.next_due, pages.deadline_zone),
            escalated_local=_local(file.escalated_at, pages.deadline_zone),
            zone_name=pages.deadline_zone.key,
            labels={"when": WHEN, "where": WHERE, "involved": INVOLVED},
            is_board=person.role is Role.BOARD,
            may_recuse=person.role is Role.HANDLER,
            assigned_to_me=file.assignee == person.name,
        )

    async def show_case(request: Request) -> Response:
        person = _person(request)
        if person is None:
            return _login(request)
        return await case_page(request, person, request.path_params["reference"])

    async def evidence(request: Request) -> Response:
        person = _person(request)
        if person is None:
            return _login(request)
        reference = request.path_params["reference"]
        try:
            mime, data = await pages.desk.evidence(person, reference, request.path_params["number"], pages.clock())
        except (CaseNotFound, UnreadableCase):
            return not_found(request, person)
        headers = {**NO_STORE, "Content-Disposition": "inline", "X-Content-Type-Options": "nosniff"}
        media_type = mime if mime.startswith("image/") else "application/octet-stream"
        return Response(data, media_type=media_type, headers=headers)

    async def act(request: Request) -> Response:
        person = _person(request)
        if person is None:
            return _login(request)
        reference = request.path_params["reference"]
        action = request.path_params["action"]
        form = await _form(request)
        if form is None:
            return Response("Request too large", status_code=413, media_type="text/plain")
        text = form.get("text", "")
        now = pages.clock()
        done = action
        try:
            if action == "reply":
                await pages.desk.reply(person, reference, text, now)
            elif action == "note":
                await pages.desk.note(person, reference, text, now)
            elif action == "status":
                wanted = form.get("status", "")
                if wanted not in {s.value for s in HR_SETTABLE}:
                    return await case_page(request, person, reference, error=N_("Choose a status."), status_code=400)
                await pages.desk.set_status(
                    person, reference, CaseStatus(wanted), now, outcome=form.get("outcome", "")
                )
            elif action == "take":
                await pages.desk.assign(person, reference, person, now)
            elif action == "recuse":
                if form.get("confirm") != "yes":
                    error = N_("Tick the box to confirm that you are involved or conflicted.")
                    return await case_page(request, person, reference, error=error, status_code=400)
                await pages.desk.recuse(person, reference, now)
                return RedirectResponse(f"{PREFIX}/cases?done=recused", status_code=303)
            else:
                return not_found(request, person)
        except CaseNotFound:
            return not_found(request, person)
        except OutcomeRequired:
            error = N_("Write the outcome before closing the case.")
            return await case_page(request, person, reference, error=error, status_code=400)
        except EmptyText:
            error = N_("Write something first (at most 8000 characters).")
            return await case_page(request, person, reference, error=error, status_code=400)
        except NotPermitted:
            return await case_page(
                request, person, reference, error=N_("Your role cannot do that with this case."), status_code=403
            )
        return RedirectResponse(f"{PREFIX}/cases/{reference.strip().upper()}?done={done}", status_code=303)

    async def audit_page(request: Request) -> Response:
        person = _person(request)
        if person is None:
            return _login(request)
        reference = request.path_params["reference"]
        try:
            entries = await pages.desk.audit_trail(person, reference, pages.clock())
        except (CaseNotFound, NotPermitted):
            return not_found(request, person)
        return render(request, "audit.html", person, reference=reference.strip().upper(), entries=entries)

    async def audit_log(request: Request) -> Response:
        """Board members: the last verdict on the whole audit chain, and a button to check it now."""
        person = _person(request)
        if person is None:
            return _login(request)
        if person.role is not Role.BOARD:
            return not_found(request, person)
        check = pages.audit_check
        return render(
            request, "audit_log.html", person,
            verdict=check.verdict, checked_at=check.checked_at, checked_by=check.checked_by,
        )

    async def verify_audit(request: Request) -> Response:
        person = _person(request)
        if person is None:
            return _login(request)
        now = pages.clock()
        try:
            verdict = await pages.desk.verify_audit_chain(person, now)
        except NotPermitted:
            return not_found(request, person)
        check = pages.audit_check
        check.verdict, check.checked_at, check.checked_by = verdict, now, person.name
        return RedirectResponse(f"{PREFIX}/audit", status_code=303)

    extra: list[BaseRoute] = []
    if pages.figures is not None:
        extra = figures_routes(
            pages.figures,
            prefix=PREFIX,
            site_names=pages.site_names,
            translators=pages.translators,
            clock=pages.clock,
            person_of=_person,
            login=_login,
            language=language,
            render=render,
            not_found=not_found,
        )
    return [
        *extra,
        Route("/", home),
        Route("/audit", audit_log),
        Route("/audit/verify", verify_audit, methods=["POST"]),
        Route("/cases", case_list),
        Route("/cases/{reference}", show_case),
        Route("/cases/{reference}/evidence/{number:int}", evidence),
        Route("/cases/{reference}/audit", audit_page),
        Route("/cases/{reference}/{action}", act, methods=["POST"]),
    ]


def build_desk_pages(runtime: Core) -> DeskPages:
    """The pages over the runtime's database, with the configured sites' names."""
    services = runtime.services
    names: dict[str, LocalText] = {}
    for site_id, site in runtime.config.sites.items():
        name = site.name
        names[site_id] = {"zh": name, "en": name} if isinstance(name, str) else {str(k): v for k, v in name.items()}
    return DeskPages(
        desk=desk_for(
            runtime.database, services.cases, services.evidence, services.outbox, runtime.config.bot.retention_days
        ),
        translators=services.translators,
        site_names=names,
        clock=services.clock,
        default_language=runtime.config.bot.default_language,
        deadline_zone=zone(runtime.config.bot.time_zone),
        figures=FigureSource(
            runtime.database,
            services,
            {site_id: zone(site.reminders.time_zone) for site_id, site in runtime.config.sites.items()},
        ),
    )

