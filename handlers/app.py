"""All conversation routers combined in one place."""

from __future__ import annotations

from . import common, faq_flow, quiz_flow, report, status, training
from .router import Router


def build_router() -> Router:
    router = Router()
    for feature in (common.router, report.router, status.router, faq_flow.router, quiz_flow.router, training.router):
        router.include(feature)
    return router
