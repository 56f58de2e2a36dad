"""All conversation routers combined in one place."""

from __future__ import annotations

from . import common, faq_flow, report, status
from .router import Router


def build_router() -> Router:
    router = Router()
    for feature in (common.router, report.router, status.router, faq_flow.router):
        router.include(feature)
    return router
