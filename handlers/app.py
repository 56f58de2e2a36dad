"""All conversation routers combined in one place."""

from __future__ import annotations

from . import common, faq_flow, reminders, report, status
from .router import Router


def build_router() -> Router:
    router = Router()
    for feature in (common.router, report.router, status.router, faq_flow.router, reminders.router):
        router.include(feature)
    return router
