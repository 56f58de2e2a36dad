"""Server-rendered desk pages: Jinja2 templates, autoescaped, in Chinese or English.

Text in templates is written ``{{ t("English source") }}`` and translated through the bot's own
catalog (handlers/locale); ``tests/test_desk_signin.py`` checks that every such string has a
Chinese translation. The language is the visitor's choice (a cookie set by the language link),
else what the browser asks for, else Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from handlers.i18n import Language, Translator

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
LANGUAGE_COOKIE = "hapdesk-lang"


def request_language(request: Request) -> Language:
    """The cookie's language, else the browser's first of zh or en, else zh."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in ("zh", "en"):
        return "zh" if chosen == "zh" else "en"
    ranked: list[tuple[float, int, Language]] = []
    for index, item in enumerate(request.headers.get("accept-language", "").split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        tag = tag.strip().lower()
        if tag.startswith("zh"):
            ranked.append((-quality, index, "zh"))
        elif tag.startswith("en"):
            ranked.append((-quality, index, "en"))
    return min(ranked)[2] if ranked else "zh"


def _linkable(path: str) -> str:
    """The page's path for links back to it (the language switch): never an enrolment token."""
    return "/desk/login" if path.startswith("/desk/enrol/") else path


class Pages:
    """Renders a template with what every desk page uses: ``t``, ``lang``, ``csrf_token``, ``person``."""

    def __init__(self, translators: Mapping[Language, Translator]) -> None:
        self._translators = translators
        self.environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        language = request_language(request)
        context = {
            "t": self._translators[language],
            "lang": language,
            "csrf_token": request.state.csrf_token,
            "person": request.state.person,
            "path": _linkable(request.url.path),
            **values,
        }
        body = self.environment.get_template(template).render(context)
        return HTMLResponse(body, status_code=status_code)
