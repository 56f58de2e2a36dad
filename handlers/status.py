"""Following up a report with its receipt: status, HR's messages, adding information, withdrawing.

The receipt works from any chat or device. Wrong receipts slow down only the worker who sends
them (growing delays keyed by a rate-limit pseudonym), never everyone: a global lockout would let
one attacker stop every worker from reaching their case.
"""

from __future__ import annotations

import re

from storage import audit
from storage.case_index import Audience
from storage.cases import Author, CaseStatus, CaseView, ReceiptMatch, to_hour
from storage.crypto import Purpose
from storage.deadline_rules import OUTCOMES
from storage.receipts import RECEIPT_LENGTH, normalise_receipt

from .context import Context, Services
from .conversation import State
from .events import Alert, AlertAudience, Incoming
from .i18n import N_
from .intents import Intent, Understanding, find_receipt
from .preparation import Preparation
from .report import case_audience, enqueue_alert
from .router import Router

router = Router()
router.reads_text(State.STATUS_RECEIPT)
router.reads_text(State.STATUS_ADD_INFO, story=True)

FREE_ATTEMPTS = 3
BASE_DELAY_SECONDS = 5
MAX_DELAY_SECONDS = 3600
THROTTLE_KEEP_HOURS = 24
REPORTER = "reporter"  # the audit's actor for what a reporter does: never a name or a pseudonym

STATUS_LABELS = {
    CaseStatus.RECEIVED: N_("Received, waiting for HR"),
    CaseStatus.ACKNOWLEDGED: N_("HR has seen it"),
    CaseStatus.INVESTIGATING: N_("Being looked into"),
    CaseStatus.ACTION_TAKEN: N_("Looked into: action has been taken"),
    CaseStatus.NO_CASE_FOUND: N_("Looked into: a breach of the policy could not be established"),
    CaseStatus.CLOSED: N_("Closed"),
    CaseStatus.WITHDRAWN: N_("Withdrawn by you"),
}
OPEN_STATUSES = {CaseStatus.RECEIVED, CaseStatus.ACKNOWLEDGED, CaseStatus.INVESTIGATING}
CLOSED_MEANWHILE = N_(
    "Your report was closed in the meantime, so this was not done. If something new happened, you can "
    "start a new report from the menu."
)


def delay_after(failures: int) -> int:
    """Seconds to wait after ``failures`` wrong receipts: none at first, then doubling to an hour."""
    if failures < FREE_ATTEMPTS:
        return 0
    return int(min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** (failures - FREE_ATTEMPTS)))


def _throttle_key(ctx: Context) -> str:
    return ctx.services.crypto.pseudonym(Purpose.RATE_LIMIT, ctx.incoming.user_key)


def _hour(ctx: Context) -> int:
    return int(ctx.now.timestamp() // 3600)


async def _audience(ctx: Context, case: CaseView) -> AlertAudience:
    """Follow-ups go where the case's first alert went: never to HR when it is about HR or a manager,
    nor once a handler declared themselves involved or conflicted (the case is the board's then)."""
    indexed = await ctx.services.cases.index.locate(ctx.session, case.reference)
    tagged = indexed.audience if indexed is not None else None
    if tagged in (Audience.BOARD, Audience.RECUSED):
        return "board"  # known without opening the report
    return case_audience(tagged, await ctx.services.cases.read_report(ctx.session, case.id))


def receipt_match(services: Services, receipt: str) -> Preparation[ReceiptMatch]:
    """The case a canonical receipt opens: its row found by the keyed index in a short read
    transaction, its argon2id hash verified after that, both before the worker's transaction."""
    return Preparation(f"receipt.match:{receipt}", lambda read: services.cases.match_receipt(read, receipt))


# Letters and digits, ASCII or full-width: a message with fewer than a receipt's 16 holds none.
_SYMBOLS = re.compile(r"[0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_TYPED_ALONE = 64  # longer than any receipt typed on its own, separators included


@router.prepares
def receipts_in(incoming: Incoming, services: Services) -> list[Preparation[ReceiptMatch]]:
    """A message holding a receipt (typed alone, or pasted in a sentence) is checked before its
    transaction. Most messages hold too few letters and digits to contain one, and cost a regex."""
    text = incoming.text or ""
    if len(_SYMBOLS.findall(text)) < RECEIPT_LENGTH:
        return []
    found = {find_receipt(text), normalise_receipt(text) if len(text) <= _TYPED_ALONE else None}
    return [receipt_match(services, receipt) for receipt in sorted(r for r in found if r is not None)]


@router.asks(State.STATUS_RECEIPT)
async def ask_receipt(ctx: Context) -> None:
    """Asks for the receipt."""
    ctx.say(
        ctx.t("Please send your receipt (16 letters and numbers, like K7QX-M2PA-X9TB-4RWE)."),
        [ctx.choice("menu", N_("Back to the menu"))],
    )


@router.on(State.STATUS_RECEIPT)
async def on_receipt(ctx: Context) -> None:
    """Checks the receipt, or returns to the menu."""
    if ctx.choice_id == "menu":
        await ctx.go(State.MENU)
        return
    await check_receipt(ctx, ctx.text or "")


@router.understands(Intent.STATUS)
async def open_from_words(ctx: Context, understood: Understanding) -> None:
    """Opens the case of a receipt pasted anywhere, or asks for the receipt ("查一下我的举报")."""
    ctx.conversation.end_case_session()
    if understood.receipt is None:
        await ctx.go(State.STATUS_RECEIPT)
        return
    ctx.conversation.state = State.STATUS_RECEIPT
    await check_receipt(ctx, understood.receipt)


async def check_receipt(ctx: Context, typed: str) -> None:
    """Checks the receipt (unless the worker must wait) and opens the case on a match."""
    receipt = normalise_receipt(typed)
    if receipt is None:
        ctx.say(ctx.t("That does not look like a receipt. A receipt has 16 letters and numbers in 4 groups."))
        await ask_receipt(ctx)
        return
    services = ctx.services
    key = _throttle_key(ctx)
    throttle = await services.throttles.load(ctx.session, key) or {"failures": 0, "next_at": 0.0}
    wait = int(float(throttle["next_at"]) - ctx.now.timestamp())
    if wait > 0:
        ctx.say(
            ctx.t("Too many wrong receipts. Please wait {seconds} seconds and try again.", seconds=wait),
            keep_offered=True,
        )
        return
    case = await services.cases.open_match(ctx.session, ctx.prepared(receipt_match(services, receipt)))
    if case is None:
        failures = int(throttle["failures"]) + 1
        next_at = ctx.now.timestamp() + delay_after(failures)
        await services.throttles.save(
            ctx.session, key, {"failures": failures, "next_at": next_at}, _hour(ctx) + THROTTLE_KEEP_HOURS
        )
        ctx.say(ctx.t("No report matches that receipt. Please check it and try again."))
        await ask_receipt(ctx)
        return
    await services.throttles.delete(ctx.session, key)
    ctx.conversation.case_session = case.id
    ctx.conversation.case_session_until = (ctx.now + services.settings.status_session_ttl).timestamp()
    checkin = await services.case_deadlines.checkin_open(ctx.session, case, ctx.now)
    await ctx.go(State.STATUS_CHECKIN if checkin else State.STATUS_CASE)


async def _open_case(ctx: Context) -> CaseView | None:
    """The case of the current status session, or None (and back to the receipt) when it ended."""
    case_id = ctx.conversation.case_session
    until = ctx.conversation.case_session_until or 0.0
    case = await ctx.services.cases.get(ctx.session, case_id) if case_id else None
    if case is None or until < ctx.now.timestamp():
        ctx.conversation.end_case_session()
        ctx.say(ctx.t("For your safety, please enter your receipt again."))
        await ctx.go(State.STATUS_RECEIPT)
        return None
    return case


async def _still_open(ctx: Context, case: CaseView) -> bool:
    """Whether the case is still open; if HR closed it while she was at a question (the status
    session lasts minutes), she is told nothing was done and shown where it stands, so a late
    "withdraw" or addition never overwrites HR's outcome or ends the check-ins that follow it."""
    if case.status in OPEN_STATUSES:
        return True
    ctx.say(ctx.t(CLOSED_MEANWHILE))
    await ctx.go(State.STATUS_CASE)
    return False


@router.asks(State.STATUS_CASE)
async def ask_case(ctx: Context) -> None:
    """Shows the case status and HR's messages, then offers to add information or withdraw."""
    case = await _open_case(ctx)
    if case is None:
        return
    services = ctx.services
    lines = [
        ctx.t("Report {reference}", reference=case.reference),
        ctx.t("Status: {status}", status=ctx.t(STATUS_LABELS[case.status])),
        ctx.t("Submitted: {date}", date=case.created_at.date().isoformat()),
    ]
    messages = [m for m in await services.cases.messages(ctx.session, case.id) if m.author is Author.HR]
    if messages:
        lines.append(ctx.t("Messages from HR:"))
        lines.extend(f"— {m.created_at.date().isoformat()}: {m.text}" for m in messages)
        await services.cases.mark_seen_by_reporter(ctx.session, case.id)
    else:
        lines.append(ctx.t("No messages from HR yet."))
    choices = []
    if case.status in OPEN_STATUSES:
        choices += [ctx.choice("add_info", N_("Add information")), ctx.choice("withdraw", N_("Withdraw my report"))]
    choices.append(ctx.choice("menu", N_("Back to the menu")))
    ctx.say("\n".join(lines), choices)


@router.on(State.STATUS_CASE)
async def on_case(ctx: Context) -> None:
    """Opens adding information or withdrawing, or returns to the menu."""
    if ctx.choice_id == "menu":
        ctx.conversation.end_case_session()
        await ctx.go(State.MENU)
    elif ctx.choice_id in ("add_info", "withdraw"):
        case = await _open_case(ctx)
        if case is None:
            return
        if case.status not in OPEN_STATUSES:
            await ask_case(ctx)
            return
        await ctx.go(State.STATUS_ADD_INFO if ctx.choice_id == "add_info" else State.STATUS_WITHDRAW)
    else:
        await ask_case(ctx)


@router.asks(State.STATUS_ADD_INFO)
async def ask_add_info(ctx: Context) -> None:
    """Asks for the information to add."""
    ctx.say(
        ctx.t("Write what you want to add to your report, in one message."),
        [ctx.choice("back", N_("Back"))],
    )


@router.on(State.STATUS_ADD_INFO)
async def on_add_info(ctx: Context) -> None:
    """Adds the message to the case, alerts HR without content (at once when the message raised the
    alarm: "he is outside my room now" added to a case cannot wait for a random delay), and shows
    the case again."""
    if ctx.choice_id == "back":
        await ctx.go(State.STATUS_CASE)
        return
    if not ctx.text:
        await ask_add_info(ctx)
        return
    case = await _open_case(ctx)
    if case is None or not await _still_open(ctx, case):
        return
    await ctx.services.cases.add_message(ctx.session, case.id, Author.REPORTER, ctx.text, ctx.now)
    audience = await _audience(ctx, case)
    urgency = "danger_now" if ctx.alarmed else "normal"
    await enqueue_alert(ctx, Alert(case.site, case.reference, "added_information", urgency, audience))
    ctx.say(ctx.t("Added to your report. Whoever handles your case will see it."))
    await ctx.go(State.STATUS_CASE)


@router.asks(State.STATUS_WITHDRAW)
async def ask_withdraw(ctx: Context) -> None:
    """Asks to confirm withdrawing."""
    ctx.say(
        ctx.t(
            "Withdraw your report? Whoever handles your case will be told it was withdrawn. "
            "You can still report again later."
        ),
        [ctx.choice("withdraw_yes", N_("Yes, withdraw it")), ctx.choice("withdraw_no", N_("No, keep it"))],
    )


@router.on(State.STATUS_WITHDRAW)
async def on_withdraw(ctx: Context) -> None:
    """Marks the case withdrawn on yes and alerts HR without content; otherwise shows the case."""
    if ctx.choice_id == "withdraw_yes":
        case = await _open_case(ctx)
        if case is None or not await _still_open(ctx, case):
            return
        await ctx.services.cases.set_status(ctx.session, case.id, CaseStatus.WITHDRAWN, ctx.now)
        await enqueue_alert(ctx, Alert(case.site, case.reference, "withdrawn", "normal", await _audience(ctx, case)))
        ctx.say(ctx.t("Your report has been withdrawn."))
        await ctx.go(State.STATUS_CASE)
    elif ctx.choice_id == "withdraw_no":
        await ctx.go(State.STATUS_CASE)
    else:
        await ask_withdraw(ctx)


@router.asks(State.STATUS_CHECKIN)
async def ask_checkin(ctx: Context) -> None:
    """Asks the reporter of a closed case whether anything happened to them because of the report."""
    ctx.say(
        ctx.t(
            "Your case is closed. Has anything happened to you because of the report? "
            "For example being moved, punished, threatened or treated worse."
        ),
        [ctx.choice("harm_yes", N_("Yes, something happened")), ctx.choice("harm_no", N_("No"))],
    )


@router.on(State.STATUS_CHECKIN)
async def on_checkin(ctx: Context) -> None:
    """On yes reopens the case as urgent and alerts at once; on no records nothing; then shows the case."""
    if ctx.choice_id not in ("harm_yes", "harm_no"):
        await ask_checkin(ctx)
        return
    case = await _open_case(ctx)
    if case is None:
        return
    if ctx.choice_id == "harm_yes" and case.status.value in OUTCOMES:
        services = ctx.services
        deadlines = services.settings.site(case.site).deadlines
        case = await services.case_deadlines.reopen_urgent(ctx.session, case.id, ctx.now, deadlines)
        audience = await _audience(ctx, case)
        await enqueue_alert(ctx, Alert(case.site, case.reference, "retaliation", "danger_now", audience))
        await audit.record(ctx.session, REPORTER, "reopen:retaliation", case.reference, to_hour(ctx.now))
        ctx.say(
            ctx.t(
                "Thank you for telling us. Your case is open again as urgent, and whoever handles it has been "
                "told now. You can add what happened below."
            )
        )
    elif ctx.choice_id == "harm_no":
        ctx.say(ctx.t("Thank you. If anything happens later, you can tell us here at any time."))
    await ctx.go(State.STATUS_CASE)


@router.expires
def end_expired_session(ctx: Context) -> bool:
    """Ends a status session past its lifetime; True when the worker was reading their case (they
    are asked for the receipt again)."""
    conversation = ctx.conversation
    if not conversation.case_session or (conversation.case_session_until or 0) >= ctx.now.timestamp():
        return False
    conversation.end_case_session()
    if not (conversation.state.startswith("status.") or (conversation.return_to or "").startswith("status.")):
        return False
    conversation.state, conversation.return_to = State.STATUS_RECEIPT, None
    ctx.say(ctx.t("For your safety, please enter your receipt again."))
    return True
