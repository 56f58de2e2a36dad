"""All conversation routers combined in one place."""

from __future__ import annotations

from . import common, faq_flow, quiz_flow, reminders, report, status, training
from .router import Router


def build_router() -> Router:
    router = Router()
    features = (
        common.router,
        report.router,
        status.router,
        faq_flow.router,
        quiz_flow.router,
        training.router,
        reminders.router,
    )
    for feature in features:
        router.include(feature)
    return router
