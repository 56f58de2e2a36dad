"""A worker's conversation: named state, language, site and draft, stored sealed between messages.

Field names are part of the stored format (``VERSION``); a renamed state would strand workers who
stopped mid-report, so states are strings chosen once, never enum positions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields
from typing import Any

VERSION = 1


class State:
    MENU = "menu"
    LANGUAGE = "language"
    CONFIRM_CANCEL = "confirm_cancel"
    REPORT_RESUME = "report.resume"
    REPORT_NOTICE = "report.notice"
    REPORT_WHAT = "report.what"
    REPORT_CATEGORY = "report.category"
    REPORT_WHEN = "report.when"
    REPORT_WHERE = "report.where"
    REPORT_INVOLVED = "report.involved"
    REPORT_WITNESSES = "report.witnesses"
    REPORT_URGENCY = "report.urgency"
    REPORT_NOTIFY = "report.notify"
    REPORT_REVIEW = "report.review"
    REPORT_EDIT = "report.edit"
    STATUS_RECEIPT = "status.receipt"
    STATUS_CASE = "status.case"
    STATUS_ADD_INFO = "status.add_info"
    STATUS_WITHDRAW = "status.withdraw"
    STATUS_CHECKIN = "status.checkin"
    FAQ_QUESTION = "faq.question"
    FAQ_PICK = "faq.pick"
    QUIZ_PICK = "quiz.pick"
    QUIZ_QUESTION = "quiz.question"
    QUIZ_RESULT = "quiz.result"
    QUIZ_REVIEW = "quiz.review"
    QUIZ_READ = "quiz.read"
    TRAINING_NUMBER = "training.number"
    TRAINING_CONFIRM = "training.confirm"


# The report's questions; a resumed draft continues at the one last asked.
REPORT_QUESTIONS = frozenset(
    {
        State.REPORT_NOTICE,
        State.REPORT_WHAT,
        State.REPORT_CATEGORY,
        State.REPORT_WHEN,
        State.REPORT_WHERE,
        State.REPORT_INVOLVED,
        State.REPORT_WITNESSES,
        State.REPORT_URGENCY,
        State.REPORT_NOTIFY,
        State.REPORT_REVIEW,
    }
)
# States in which the worker is in the middle of something that menu choices must not silently end.
FLOW_STATES = REPORT_QUESTIONS | {
    State.CONFIRM_CANCEL,
    State.REPORT_RESUME,
    State.REPORT_EDIT,
    State.STATUS_ADD_INFO,
    State.STATUS_WITHDRAW,
    State.STATUS_CHECKIN,
}


LINK_FIELDS = (
    "pending_receipt_case",
    "pending_receipt_until",
    "pending_receipt_message",
    "recent_receipt_case",
    "recent_receipt_until",
    "recent_receipt_message",
    "case_session",
    "case_session_until",
)


@dataclass
class Conversation:
    state: str = State.MENU
    language: str | None = None
    reply_language: str | None = None  # the language she last wrote in outside a flow, when not `language`
    site: str | None = None
    draft: dict[str, Any] | None = None
    draft_expires_at: float | None = None
    offered: list[str] = field(default_factory=list)
    offered_labels: dict[str, str] = field(default_factory=dict)
    return_to: str | None = None
    language_return_to: str | None = None
    editing: bool = False
    # Links to a case: kept apart from the conversation (see LINK_FIELDS and storage CaseLink).
    pending_receipt_case: str | None = None
    pending_receipt_until: float | None = None
    pending_receipt_message: str | None = None
    recent_receipt_case: str | None = None
    recent_receipt_until: float | None = None
    recent_receipt_message: str | None = None
    case_session: str | None = None
    case_session_until: float | None = None
    last_seen: float | None = None
    quiz: dict[str, Any] | None = None  # the quiz attempt in progress or just finished (handlers.quiz.attempt)
    quiz_log: dict[str, Any] | None = None  # quizzes finished, groups counted this month (handlers.quiz.attempt)
    had_links: bool = field(default=False, compare=False)  # loaded with a case-link row (not stored)

    def open_draft(self, expires_at: float) -> dict[str, Any]:
        """Her report draft, started when there is none; it now lives until ``expires_at``."""
        if self.draft is None:
            self.draft = {"id": secrets.token_hex(8), "parts": 0}
        self.draft_expires_at = expires_at
        return self.draft

    @property
    def in_flow(self) -> bool:
        return self.state in FLOW_STATES

    @property
    def mid_flow(self) -> bool:
        """In a flow, or at a side question (the language) that returns into one."""
        return self.in_flow or (self.state == State.LANGUAGE and (self.language_return_to or "") in FLOW_STATES)

    def to_document(self) -> dict[str, Any]:
        """The conversation without its case links (those are stored apart, see links_document).

        Values are not copied (``dataclasses.asdict`` deep-copied the draft on every message, a
        seventh of a draft message's time): the document is sealed at once and not kept."""
        return {"v": VERSION, **{name: getattr(self, name) for name in _DOCUMENT_FIELDS}}

    def links_document(self) -> dict[str, Any] | None:
        links = {name: getattr(self, name) for name in LINK_FIELDS}
        linked = links["pending_receipt_case"] or links["recent_receipt_case"] or links["case_session"]
        return links if linked else None

    def links_expire_at(self) -> float:
        """When the last link lapses; the stored row is deleted the hour after."""
        deadlines = [self.pending_receipt_until, self.recent_receipt_until, self.case_session_until]
        return max((d for d in deadlines if d), default=0.0)

    @classmethod
    def from_document(cls, document: dict[str, Any] | None, links: dict[str, Any] | None = None) -> Conversation:
        stored = set(cls.__dataclass_fields__) - {*LINK_FIELDS, "had_links"}
        fields = {k: v for k, v in (document or {}).items() if k in stored}
        if document and document.get("v") != VERSION:
            fields = {}
        fields.update({k: v for k, v in (links or {}).items() if k in LINK_FIELDS})
        return cls(**fields)

    def end_case_session(self) -> None:
        self.case_session = None
        self.case_session_until = None


_DOCUMENT_FIELDS = tuple(f.name for f in fields(Conversation) if f.name not in {*LINK_FIELDS, "had_links"})
