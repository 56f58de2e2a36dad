"""Puts the desk together: the gate around the sign-in routes, the case pages and the static files."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from bot.config import Config
from bot.web.desk.context import Desk, DeskSettings
from bot.web.desk.security import DeskGate
from bot.web.desk.signin import LANDING, signin_routes
from bot.web.desk.templating import STATIC, Pages
from handlers.i18n import Language, Translator
from storage.accounts import Accounts, PasswordHasher
from storage.crypto import Crypto
from storage.database import Database
from storage.web_sessions import LoginThrottles, WebSessions

if TYPE_CHECKING:
    from bot.core import Core


def make_desk(
    config: Config,
    database: Database,
    crypto: Crypto,
    clock: Callable[[], datetime],
    translators: Mapping[Language, Translator],
    hasher: PasswordHasher | None = None,
) -> Desk:
    return Desk(
        database=database,
        crypto=crypto,
        clock=clock,
        accounts=Accounts(crypto),
        sessions=WebSessions(crypto),
        throttles=LoginThrottles(),
        hasher=hasher or PasswordHasher(),
        pages=Pages(translators),
        settings=DeskSettings.from_config(config),
    )


def build_desk(desk: Desk, pages: Sequence[BaseRoute] = ()) -> Mount:
    """``/desk``: the sign-in routes, then ``pages`` (the case pages; their ``/`` replaces the
    placeholder landing page), then ``/desk/static``; every request through :class:`DeskGate`."""
    app = Starlette(
        routes=[*signin_routes(), *pages, LANDING, Mount("/static", app=StaticFiles(directory=STATIC), name="static")]
    )
    app.state.desk = desk
    return Mount("/desk", app=DeskGate(app, desk))


def build_case_desk(runtime: Core, desk: Desk) -> Mount:
    """What ``hapbot run`` serves at ``/desk``: the case pages of :mod:`bot.web.desk.pages` behind
    the gate (session, CSRF, security headers), with the sign-in routes; ``/desk/`` is the case list."""
    from bot.web.desk.pages import build_desk_pages, desk_routes

    return build_desk(desk, desk_routes(build_desk_pages(runtime)))
