"""Database schema.

Two rules shape every table, and ``tests/test_schema_unlinkability.py`` enforces them:

* A table keyed by a worker pseudonym (a column whose name ends in ``user_key``) holds no
  timestamp finer than an hour and no reference to a case, so nobody with database access can
  join a worker to a report, or line up report times with conversation activity.
* Everything a worker wrote, and everything that describes a report, is a ciphertext
  (``*_ct`` columns) sealed by :mod:`storage.crypto` and bound to its table, column and row.

Row ids are random, never sequential, so insertion order does not leak across tables.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def random_id() -> str:
    """A 128-bit random row id."""
    return secrets.token_hex(16)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SealedDocumentRow:
    """A sealed JSON document keyed by a pseudonym, with a coarse plaintext expiry hour."""

    user_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    state_ct: Mapped[bytes] = mapped_column(LargeBinary)
    expires_hour: Mapped[int] = mapped_column(Integer, index=True)


class Conversation(SealedDocumentRow, Base):
    """A worker's conversation state and draft, sealed; keyed by the conversation pseudonym."""

    __tablename__ = "conversations"


class DraftPart(SealedDocumentRow, Base):
    """One message of a worker's draft account, sealed, so that adding one writes only it. Its key is
    a keyed name derived from the conversation pseudonym, the draft and the part's number
    (:mod:`storage.drafts`): without the keys, parts cannot be joined to a conversation, counted
    per worker or ordered."""

    __tablename__ = "draft_parts"


class StatusThrottle(SealedDocumentRow, Base):
    """Failed receipt attempts of one worker (rate-limit pseudonym); the timing is inside the ciphertext."""

    __tablename__ = "status_throttles"


class Case(Base):
    """One report. The report itself is sealed under the case's own data key (``wrapped_key``)."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    site: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    report_ct: Mapped[bytes] = mapped_column(LargeBinary)
    contact_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Deadlines (storage.case_deadlines): stamped from the site's config when the case opens (or
    # reopens: ``round`` counts the openings), met when HR acknowledges, first writes, resolves.
    # ``next_due`` is the earliest unmet one, kept up to date so the desk can sort by it.
    round: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    acknowledge_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    feedback_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolve_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    first_feedback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What the HR desk's list filters on, as keyed tags (see storage.case_index); NULL until indexed.
    audience_tag: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    category_tag: Mapped[str | None] = mapped_column(String(32), nullable=True)
    urgency_tag: Mapped[str | None] = mapped_column(String(32), nullable=True)
    assignee_tag: Mapped[str | None] = mapped_column(String(32), nullable=True)
    assignee_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    outcome_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (
        # Every column the desk's list filters, counts and orders on: its queries read this index alone.
        Index(
            "ix_cases_desk",
            "audience_tag",
            "site",
            "status",
            "created_at",
            "id",
            "next_due",
            "urgency_tag",
            "category_tag",
            "assignee_tag",
        ),
    )


class CaseEvent(Base):
    """Due work about a case that must happen once: a deadline reminder or escalation, a notice to
    the reporter, a check-in after closing. The key (``"2:escalate:feedback"``, ``"1:checkin:30"``)
    is unique per case, so a second pass or a second replica inserting it fails and does nothing.
    ``state`` is ``done``, or for a check-in ``asked`` until it has been asked for long enough."""

    __tablename__ = "case_events"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseNote(Base):
    """An internal note of HR or the board on a case, sealed under the case's key; the reporter
    never sees notes (no path of the conversation reads this table)."""

    __tablename__ = "case_notes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_ct: Mapped[bytes] = mapped_column(LargeBinary)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseReceipt(Base):
    """A receipt that opens a case: a keyed lookup index, plus an argon2id hash and a keyed tag that
    both cover the case id, so a receipt row moved to another case opens nothing. A case holds at
    most a few (a receipt reissued because the first may not have arrived is added, never swapped
    in); ``number`` counts them from 1 and carries no time."""

    __tablename__ = "case_receipts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    receipt_index: Mapped[str] = mapped_column(String(64), unique=True)
    receipt_hash: Mapped[str] = mapped_column(String(200))
    receipt_tag: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("case_id", "number", name="uq_case_receipts_case_number"),)


class CaseMessage(Base):
    """A message between HR and the reporter, or information the reporter added later."""

    __tablename__ = "case_messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(8))
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_by_reporter: Mapped[bool] = mapped_column(default=False)


class OutboxItem(Base):
    """A push waiting to be delivered (HR alerts now; replies and reminders later); payload sealed.

    A row is claimed for a lease before sending and deleted after; a lease that expires with the
    row still present means a send may have happened without being recorded (``claims`` > 1 then
    counts an in-doubt send). ``kind`` names its :mod:`storage.messages` type. ``set_aside`` holds
    why a row this process could not read is kept out of the way instead of sent (an unknown kind,
    a key it lacks, a malformed payload); ``None`` for every row that may be sent.
    """

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    payload_ct: Mapped[bytes] = mapped_column(LargeBinary)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    set_aside: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (Index("ix_outbox_due", "due_at"),)


class DeliveryCount(Base):
    """Counters of delivery outcomes that are not plain successes, by reason (blocked, in_doubt…)."""

    __tablename__ = "delivery_counts"

    reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ChatMigration(Base):
    """A group that became a supergroup: alerts for the old chat id follow the new one."""

    __tablename__ = "chat_migrations"

    old_chat: Mapped[str] = mapped_column(String(64), primary_key=True)
    new_chat: Mapped[str] = mapped_column(String(64))


class InboundUpdate(Base):
    """The update journal: a platform update committed before it is acknowledged, handled once.

    ``dedup_key`` is a keyed hash of the platform's update id (never the id in plaintext);
    ``sequence`` orders pending rows by arrival. After handling, the payload is erased, the
    sequence zeroed, and the row stays as a tombstone until ``expires_hour`` so a redelivered
    update is recognised and dropped.
    """

    __tablename__ = "inbound_updates"

    dedup_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(BigInteger, index=True)
    payload_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    handled: Mapped[bool] = mapped_column(default=False, index=True)
    expires_hour: Mapped[int] = mapped_column(Integer, index=True)


class DraftFile(Base):
    """A sanitised evidence file received during a draft, sealed until the report is submitted."""

    __tablename__ = "draft_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    mime: Mapped[str] = mapped_column(String(64))
    data_ct: Mapped[bytes] = mapped_column(LargeBinary)
    expires_hour: Mapped[int] = mapped_column(Integer, index=True)


class Evidence(Base):
    """An evidence file of a case, sealed under the case's data key."""

    __tablename__ = "evidence"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    mime: Mapped[str] = mapped_column(String(64))
    data_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChatTrace(SealedDocumentRow, Base):
    """Ids of messages in a worker's private chat that the bot may delete later (Telegram /hide)."""

    __tablename__ = "chat_traces"


class AuditEntry(Base):
    """Who read or changed a case, and when; HR staff are not anonymous, reporters are never named."""

    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    case_reference: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    # The chain (storage.audit): filled in as the entry's transaction commits, in one order for all
    # writers; None only on an entry still pending in its transaction.
    position: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entry_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mac: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditChainHead(Base):
    """The one row (``id`` 1) that every audit append locks: the chain's length, its last entry's
    hash and a MAC of both under the audit key, and the check value of that key. Appends are
    serialised on it, so concurrent writers never fork the chain."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key_check: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PlatformToken(Base):
    """A platform access token shared by every replica (WeChat allows one valid token at a time)."""

    __tablename__ = "platform_tokens"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_ct: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SeenNonce(Base):
    """A keyed hash of a signed request's (timestamp, nonce), kept through the freshness window so
    a replayed request is refused."""

    __tablename__ = "seen_nonces"

    nonce_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_hour: Mapped[int] = mapped_column(Integer, index=True)


class KeyCheckRecord(Base):
    """One row per master key the store has used: the pseudonym keys' fingerprints sealed under that
    master key, written once when the key first seals anything here. A start whose keys do not open
    every row is refused before it writes (wrong, old or incomplete key file); ``hapbot keys retire``
    deletes a key's row once nothing depends on that key."""

    __tablename__ = "key_checks"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    check_ct: Mapped[bytes] = mapped_column(LargeBinary)


class PendingNotice(SealedDocumentRow, Base):
    """Notices waiting for a worker's next message (WeChat forbids most pushes after 48 hours)."""

    __tablename__ = "pending_notices"


class CaseLink(SealedDocumentRow, Base):
    """The only place a worker's pseudonym meets a case, sealed and short-lived: the case whose
    receipt may not have arrived yet (so a fresh one can replace it), and the case a worker opened
    with the receipt minutes ago. ``expires_hour`` is the hour after the last of those deadlines;
    the cleaner deletes the row then even if the worker never writes again."""

    __tablename__ = "case_links"


class QuizTally(Base):
    """Quiz figures for HR: counters by site, quiz, question ("" for the whole quiz) and month.

    Numbers only: no pseudonym, no time finer than the month. ``workers`` counts distinct workers
    without storing who they are: each worker's own sealed conversation remembers, for the month,
    which groups already counted them. Groups of fewer than five workers are never shown.
    """

    __tablename__ = "quiz_tallies"

    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    quiz: Mapped[str] = mapped_column(String(64), primary_key=True)
    question: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    workers: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    completions: Mapped[int] = mapped_column(Integer, default=0)
    passes: Mapped[int] = mapped_column(Integer, default=0)
    score_points: Mapped[int] = mapped_column(Integer, default=0)
    score_possible: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    missed: Mapped[int] = mapped_column(Integer, default=0)


class TrainingRecord(Base):
    """A completion a worker chose to record with their employee number (sealed).

    Deliberately apart from everything else: no pseudonym, no case, no conversation, and the day
    only, never the time, so it cannot be lined up with a worker's chat or a report.
    """

    __tablename__ = "training_records"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    site: Mapped[str] = mapped_column(String(32), index=True)
    quiz: Mapped[str] = mapped_column(String(64))
    completed_on: Mapped[date] = mapped_column(Date, index=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    employee_ct: Mapped[bytes] = mapped_column(LargeBinary)


class ReminderSubscription(SealedDocumentRow, Base):
    """A worker who asked for training reminders: the chat address, site, language, own quiet hours
    and the hour they joined, all sealed. Keyed by the *reminder* pseudonym of the address (a key of
    its own), so the row cannot be joined to a conversation, a held notice or a case. Opting out
    deletes the row; ``expires_hour`` is far away (subscriptions do not lapse by themselves)."""

    __tablename__ = "reminder_subscriptions"


class HeldReminder(SealedDocumentRow, Base):
    """The one reminder waiting for a worker's next message (WeChat outside its 48 hours, the
    console), sealed; it expires with its occasion."""

    __tablename__ = "held_reminders"


class ReminderOccasion(Base):
    """One occasion of a schedule at one site (a training date, a month's refresher quiz, a day's
    onboarding step, an announcement). ``state`` is ``scheduled`` until its workers are planned,
    then ``planned`` (or ``missed`` when the process was down past the grace). An announcement's
    text is sealed in ``content_ct``; the schedules' own texts come from the catalog."""

    __tablename__ = "reminder_occasions"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    schedule: Mapped[str] = mapped_column(String(64), index=True)
    site: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16))
    content_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    expires_hour: Mapped[int] = mapped_column(Integer, index=True)


class ReminderDue(Base):
    """Due work: one row per occasion and worker, so a worker is planned at most once per occasion.

    ``id`` is a keyed hash of (occasion, address): unique per worker and occasion, and equal to
    nothing in any other table. The address is sealed in ``payload_ct`` until the row is settled
    (``queued`` into the outbox, ``held`` for the next message, or ``dropped``), then erased; the
    settled row stays as a tombstone until its occasion is deleted."""

    __tablename__ = "reminder_due"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    occasion_id: Mapped[str] = mapped_column(ForeignKey("reminder_occasions.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16))
    payload_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (Index("ix_reminder_due_state_due", "state", "due_at"),)


class ReminderCount(Base):
    """Outcomes of an occasion by reason (sent, in doubt, held, dropped as blocked...): numbers only."""

    __tablename__ = "reminder_counts"

    occasion_id: Mapped[str] = mapped_column(
        ForeignKey("reminder_occasions.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ReminderPause(Base):
    """A paused schedule or occasion (``hapbot remind pause NAME``): a row, so every running
    process sees it within a pass."""

    __tablename__ = "reminder_pauses"

    name: Mapped[str] = mapped_column(String(96), primary_key=True)


class DigestWeek(Base):
    """A site's weekly digest, queued: one row per site and ISO week (``2026-W09``), inserted in the
    transaction that puts the digest in the outbox, so it goes out once whatever restarts or
    replicas do. Numbers and names only: nothing here points at a case or a worker."""

    __tablename__ = "digest_weeks"

    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    week: Mapped[str] = mapped_column(String(8), primary_key=True)
class DeskAccount(Base):
    """A person who may sign in to the HR desk: a case handler (for ``sites``) or a board member.

    Secrets are never stored as they are: the password as an argon2id hash, the TOTP secret sealed
    to its row, the one-time enrolment token as a SHA-256 hash (it is 256 random bits, so a fast
    hash is enough). ``totp_last_step`` is the last 30-second step a code was accepted for, so a
    code seen over someone's shoulder cannot be used twice. ``sites`` is a JSON list of site ids.
    """

    __tablename__ = "desk_accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    sites: Mapped[str] = mapped_column(String(1024), default="[]")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    totp_secret_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    enrolment_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    enrolment_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeskSession(Base):
    """A signed-in desk session, or an enrolment in progress, keyed by a SHA-256 hash of the token
    in the browser's cookie (the token itself is never stored). ``data_ct`` is sealed: the kind of
    session and, while enrolling, the TOTP secret being set up."""

    __tablename__ = "desk_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("desk_accounts.id", ondelete="CASCADE"), index=True)
    data_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class DeskLoginThrottle(Base):
    """Failed desk sign-ins of one account or one address (a keyed hash of it, never the address):
    a few are free, then each next try must wait a delay that doubles, up to a cap. Only that
    account or address slows down; nobody else is locked out."""

    __tablename__ = "desk_login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
