"""An opt-in training record after a quiz: the worker's employee number, never asked otherwise.

Offered only on the score screen and only by the worker's choice; declining changes nothing. The
record goes to a table that holds no pseudonym and no link to the chat or to any report, with the
day only (``storage.training``). The typed number waits in the sealed attempt just until the
worker confirms or leaves, then it is dropped from the conversation.
"""

from __future__ import annotations

import re
import unicodedata

from .context import Context
from .conversation import Conversation, State
from .i18n import N_
from .privacy import training_notice
from .quiz.attempt import Attempt
from .quiz_flow import keep_attempt, load_attempt, local_now, quiz_title
from .router import Router

router = Router()
router.reads_text(State.TRAINING_NUMBER, answer=True)
EMPLOYEE_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,23}$")


def employee_number(text: str) -> str | None:
    """An employee number as typed (full-width, spaces, lower case tolerated), or None if it is not one."""
    folded = unicodedata.normalize("NFKC", text).upper()
    number = "".join(folded.split())
    return number if EMPLOYEE_NUMBER.match(number) else None


def _recordable(attempt: Attempt | None) -> Attempt | None:
    return attempt if attempt is not None and attempt.passed is not None and not attempt.recorded else None


@router.asks(State.TRAINING_NUMBER)
async def ask_number(ctx: Context) -> None:
    """Says what a record keeps and for how long, and asks for the employee number (or No thanks)."""
    if _recordable(load_attempt(ctx)) is None:
        await ctx.go(State.QUIZ_RESULT)
        return
    ctx.say(training_notice(ctx), [ctx.choice("training_no", N_("No thanks"))])


@router.on(State.TRAINING_NUMBER)
async def on_number(ctx: Context) -> None:
    """Keeps the typed number (sealed, until confirmed) and asks to confirm; No thanks records nothing."""
    attempt = _recordable(load_attempt(ctx))
    if attempt is None:
        await ctx.go(State.QUIZ_RESULT)
        return
    if ctx.choice_id == "training_no":
        ctx.say(ctx.t("Fine. Nothing was recorded."))
        await ctx.go(State.QUIZ_RESULT)
        return
    number = employee_number(ctx.text) if ctx.text and not ctx.choice_id else None
    if number is None:
        ctx.say(ctx.t("That does not look like an employee number (letters and digits only). Please type it again."))
        await ask_number(ctx)
        return
    attempt.employee = number
    keep_attempt(ctx, attempt)
    await ctx.go(State.TRAINING_CONFIRM)


@router.asks(State.TRAINING_CONFIRM)
async def ask_confirm(ctx: Context) -> None:
    """Shows exactly what would be recorded and asks to confirm."""
    attempt = _recordable(load_attempt(ctx))
    if attempt is None or attempt.employee is None:
        await ctx.go(State.QUIZ_RESULT)
        return
    result = ctx.t("passed") if attempt.passed else ctx.t("not passed")
    ctx.say(
        ctx.t(
            "Record this?\nEmployee number: {number}\nQuiz: {title}\nDate: {day}\nResult: {result}",
            number=attempt.employee,
            title=quiz_title(ctx, attempt),
            day=local_now(ctx).isoformat(),
            result=result,
        ),
        [ctx.choice("training_save", N_("Yes, record it")), ctx.choice("training_no", N_("No, do not record"))],
    )


@router.on(State.TRAINING_CONFIRM)
async def on_confirm(ctx: Context) -> None:
    """Stores the record apart from everything else, or drops the number; then shows the score again."""
    attempt = _recordable(load_attempt(ctx))
    if attempt is None or attempt.employee is None:
        await ctx.go(State.QUIZ_RESULT)
        return
    if ctx.choice_id == "training_save":
        await ctx.services.training.add(
            ctx.session,
            site=attempt.site,
            quiz=attempt.quiz,
            completed_on=local_now(ctx),
            passed=bool(attempt.passed),
            employee_number=attempt.employee,
        )
        attempt.recorded = True
        ctx.say(ctx.t("Recorded. Thank you for keeping your training up to date."))
    elif ctx.choice_id == "training_no":
        ctx.say(ctx.t("Fine. Nothing was recorded."))
    else:
        await ask_confirm(ctx)
        return
    attempt.employee = None
    keep_attempt(ctx, attempt)
    await ctx.go(State.QUIZ_RESULT)


@router.after_message
def forget_unconfirmed_number(conversation: Conversation) -> None:
    """A typed employee number is kept only while its confirmation is asked; leaving drops it."""
    if conversation.state == State.TRAINING_CONFIRM or not (conversation.quiz or {}).get("employee"):
        return
    attempt = Attempt.from_document(conversation.quiz)
    if attempt is not None and attempt.employee is not None:
        attempt.employee = None
        conversation.quiz = attempt.to_document()
