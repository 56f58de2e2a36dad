"""Refresher quizzes in the conversation: pick a quiz, one question at a time with feedback, a score,
a review of what was missed, and another try.

Progress lives in the worker's sealed conversation (``Conversation.quiz``), so a worker may leave at
any moment — the menu, a report, the emergency word — and continue later, after a restart too. The
attempt keeps the fingerprints of its questions: an edit of the quiz file while a worker is mid-quiz
does not change that worker's questions or right answers. HR's figures are counters only
(``QuizTallies``), counted once per worker and month thanks to the worker's own sealed log.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from .commands import normalise
from .context import Context
from .conversation import State
from .events import Choice
from .i18n import N_
from .privacy import quiz_notice
from .quiz.attempt import LETTERS, Attempt, QuizLog
from .quiz.loader import NO, YES
from .quiz.model import LANGS, Question, Quiz
from .quiz.render import PAUSE, READ_MORE, feedback_text, option_labels, question_text
from .router import Router

router = Router()
# A typed answer is the quiz step's to judge (it knows option texts, letters and numbers).
router.reads_text(State.QUIZ_QUESTION, answer=True)
TAKE_PREFIX = "quiz_take:"
_ANSWER_PUNCTUATION = "()（）.．、:：,，。 "


def local_now(ctx: Context) -> date:
    """Today where the site is (days and months of records and figures are local)."""
    return ctx.now.astimezone(ZoneInfo(ctx.services.settings.time_zone)).date()


def load_attempt(ctx: Context) -> Attempt | None:
    return Attempt.from_document(ctx.conversation.quiz)


def keep_attempt(ctx: Context, attempt: Attempt) -> None:
    ctx.conversation.quiz = attempt.to_document()


def quiz_of(ctx: Context, attempt: Attempt) -> Quiz | None:
    return ctx.services.quizzes.snapshot.quiz(attempt.quiz, attempt.site)


def quiz_title(ctx: Context, attempt: Attempt) -> str:
    quiz = quiz_of(ctx, attempt)
    return quiz.title(ctx.language) if quiz is not None else attempt.quiz


async def count(ctx: Context, attempt: Attempt, question: str = "", **counts: int) -> None:
    """Adds to HR's counters for the attempt's site, quiz and month; the worker counts once per group."""
    log = QuizLog.from_document(ctx.conversation.quiz_log)
    group = f"{attempt.site}/{attempt.quiz}/{question}"
    workers = 1 if log.first_time(attempt.month, group) else 0
    await ctx.services.quiz_tallies.add(
        ctx.session, attempt.site, attempt.quiz, attempt.month, question, workers=workers, **counts
    )
    ctx.conversation.quiz_log = log.to_document()


async def start_quiz(ctx: Context, quiz: Quiz) -> None:
    """Starts a fresh attempt (options shuffled anew) and asks its first question."""
    attempt = Attempt.start(quiz, ctx.site.id, f"{local_now(ctx):%Y-%m}", ctx.services.rng)
    keep_attempt(ctx, attempt)
    await count(ctx, attempt, attempts=1)
    ctx.say(
        ctx.t(
            "“{title}”: {count} questions. Choose the answer you think is right; after each one you see why.",
            title=quiz.title(ctx.language),
            count=len(quiz.questions),
        )
    )
    await ctx.go(State.QUIZ_QUESTION)


def _current_question(ctx: Context, attempt: Attempt) -> Question | None:
    """The question being asked; questions whose text is gone (edited, then a restart) are left out."""
    while (item := attempt.current) is not None:
        question = ctx.services.quizzes.question(item.fingerprint)
        if question is not None:
            return question
        attempt.results.append(None)
    return None


@router.asks(State.QUIZ_PICK)
async def ask_pick(ctx: Context) -> None:
    """Offers to continue an unfinished quiz, suggests the next one and lists them all."""
    quizzes = ctx.services.quizzes.snapshot.for_site(ctx.site.id)
    if not quizzes:
        ctx.say(ctx.t("There are no quizzes yet."))
        await ctx.go(State.MENU)
        return
    choices: list[Choice] = []
    attempt = load_attempt(ctx)
    if attempt is not None and not attempt.finished and attempt.results:
        label = ctx.t(
            "▶ Continue “{title}” (question {number} of {total})",
            title=quiz_title(ctx, attempt),
            number=attempt.position + 1,
            total=len(attempt.items),
        )
        choices.append(Choice("quiz_resume", label))
    finished = set(QuizLog.from_document(ctx.conversation.quiz_log).finished)
    suggested = None if choices else next((quiz.id for quiz in quizzes if quiz.id not in finished), None)
    for quiz in quizzes:
        label = ctx.t("{title} ({count} questions)", title=quiz.title(ctx.language), count=len(quiz.questions))
        if quiz.id == suggested:
            label = ctx.t("⭐ Suggested: {quiz}", quiz=label)
        choices.append(Choice(TAKE_PREFIX + quiz.id, label))
    choices.append(ctx.choice("menu", N_("Back to the menu")))
    ctx.say(
        "\n".join([ctx.t("Refresher quizzes: a few questions, a few minutes. Choose a quiz."), quiz_notice(ctx)]),
        choices,
    )


OPEN_PREFIX = "quiz:"
"""A reminder's button (``quiz:<id>``, see handlers.reminders) opens that quiz from anywhere outside a flow."""


@router.opens(OPEN_PREFIX)
async def open_quiz(ctx: Context) -> None:
    """Starts the quiz a reminder's button names, or shows the quiz list when it is not (or no longer) there;
    an answer button of an attempt (``quiz:<tag>:<n>:<letter>``) pressed after the quiz is stale."""
    quiz_id = (ctx.choice_id or "").removeprefix(OPEN_PREFIX)
    if ":" in quiz_id:
        from .common import stale_choice

        await stale_choice(ctx)
        return
    quiz = ctx.services.quizzes.snapshot.quiz(quiz_id, ctx.site.id)
    attempt = load_attempt(ctx)
    if attempt is not None and attempt.quiz == quiz_id and attempt.results and not attempt.finished:
        await ctx.go(State.QUIZ_QUESTION)  # her unfinished attempt of this quiz goes on where it was
    elif quiz is None:
        await ctx.go(State.QUIZ_PICK)
    else:
        await start_quiz(ctx, quiz)


@router.on(State.QUIZ_PICK)
async def on_pick(ctx: Context) -> None:
    """Continues the unfinished quiz, starts the chosen one, or returns to the menu."""
    choice = ctx.choice_id or ""
    quiz = ctx.services.quizzes.snapshot.quiz(choice.removeprefix(TAKE_PREFIX), ctx.site.id)
    if choice == "quiz_resume":
        await ctx.go(State.QUIZ_QUESTION)
    elif choice.startswith(TAKE_PREFIX) and quiz is not None:
        await start_quiz(ctx, quiz)
    elif choice == "menu":
        await ctx.go(State.MENU)
    else:
        await ask_pick(ctx)


@router.asks(State.QUIZ_QUESTION)
async def ask_question(ctx: Context) -> None:
    """Shows the current question with its options in this attempt's order."""
    attempt = load_attempt(ctx)
    if attempt is None:
        await ctx.go(State.QUIZ_PICK)
        return
    question = _current_question(ctx, attempt)
    if question is None:
        await finish(ctx, attempt)
        return
    item = attempt.current
    assert item is not None
    labels = option_labels(question, item.order, ctx.language)
    choices = [Choice(attempt.option_id(shown), label) for shown, label in enumerate(labels)]
    if attempt.more and attempt.results:
        choices.append(ctx.choice("quiz_more", READ_MORE))
    choices.append(ctx.choice("quiz_pause", PAUSE))
    keep_attempt(ctx, attempt)
    ctx.say(question_text(ctx.t, question, attempt.position + 1, len(attempt.items)), choices)


def typed_option(text: str, question: Question, order: list[int]) -> int | None:
    """The shown option a typed answer names: its letter (A-D), its text in either language, or for a
    true-or-false question a word such as 对 / 错 / yes / no. Numbers are read by the intake."""
    word = normalise(text).strip(_ANSWER_PUNCTUATION).removeprefix("选项").removeprefix("选")
    if len(word) == 1 and word in LETTERS[: len(order)]:
        return LETTERS.index(word)
    if question.true_false and (word in YES or word in NO):
        wanted = 0 if word in YES else 1  # the file's order of a true/false question: True, then False
        return order.index(wanted)
    for shown, original in enumerate(order):
        option = question.options[original]
        if word in {normalise(option.text(lang)) for lang in LANGS}:
            return shown
    return None


@router.on(State.QUIZ_QUESTION)
async def on_answer(ctx: Context) -> None:
    """Grades the answer, shows why, and asks the next question (or shows the score); or pauses."""
    attempt = load_attempt(ctx)
    question = _current_question(ctx, attempt) if attempt is not None else None
    if attempt is None or question is None or attempt.current is None:
        await ask_question(ctx)
        return
    if ctx.choice_id == "quiz_pause":
        keep_attempt(ctx, attempt)
        ctx.say(ctx.t("Stopped. Your place is kept: choose the quiz in the menu to continue."))
        await ctx.go(State.MENU)
        return
    if ctx.choice_id == "quiz_more" and attempt.more:
        attempt.back = State.QUIZ_QUESTION
        keep_attempt(ctx, attempt)
        await ctx.go(State.QUIZ_READ)
        return
    order = attempt.current.order
    shown = attempt.shown_index(ctx.choice_id) if ctx.choice_id else None
    if shown is None and ctx.text and not ctx.choice_id:
        shown = typed_option(ctx.text, question, order)
    if shown is None:
        ctx.say(ctx.t("Please answer with the number or the letter of one of the options."))
        await ask_question(ctx)
        return
    right = question.options[order[shown]].correct
    attempt.results.append(right)
    attempt.more = question.teaches
    await count(ctx, attempt, question.id, answered=1, missed=0 if right else 1)
    ctx.say(feedback_text(ctx.t, question, right))
    if attempt.finished:
        await finish(ctx, attempt)
    else:
        keep_attempt(ctx, attempt)
        await ctx.go(State.QUIZ_QUESTION)


def pass_mark(quiz: Quiz | None, attempt: Attempt) -> int:
    """Right answers needed to pass, scaled down when questions were left out."""
    total = len(attempt.items)
    if attempt.pass_mark is not None:
        mark = attempt.pass_mark
    else:
        mark = quiz.pass_mark if quiz is not None and quiz.pass_mark <= total else -(-total * 4 // 5)
    return -(-mark * attempt.answered // total) if total else 0


async def finish(ctx: Context, attempt: Attempt) -> None:
    """Counts the completion for HR's figures (once), notes the quiz as finished, and shows the score."""
    if attempt.passed is not None:
        await ctx.go(State.QUIZ_RESULT)
        return
    attempt.passed = attempt.answered > 0 and attempt.score >= pass_mark(quiz_of(ctx, attempt), attempt)
    await count(
        ctx,
        attempt,
        completions=1,
        passes=int(attempt.passed),
        score_points=attempt.score,
        score_possible=attempt.answered,
    )
    log = QuizLog.from_document(ctx.conversation.quiz_log)
    if attempt.quiz not in log.finished:
        log.finished.append(attempt.quiz)
    ctx.conversation.quiz_log = log.to_document()
    keep_attempt(ctx, attempt)
    await ctx.go(State.QUIZ_RESULT)


@router.asks(State.QUIZ_RESULT)
async def ask_result(ctx: Context) -> None:
    """Shows the score, pass or not, the questions to review, and what to do next."""
    attempt = load_attempt(ctx)
    if attempt is None or not attempt.finished:
        await ctx.go(State.QUIZ_QUESTION if attempt is not None else State.QUIZ_PICK)
        return
    lines = [
        ctx.t(
            "“{title}”: you got {score} of {total} right.",
            title=quiz_title(ctx, attempt),
            score=attempt.score,
            total=attempt.answered,
        )
    ]
    if attempt.passed:
        lines.append(ctx.t("You passed. Well done!"))
    else:
        mark = pass_mark(quiz_of(ctx, attempt), attempt)
        lines.append(ctx.t("To pass you need {mark} right. Try again when you are ready.", mark=mark))
    choices = []
    if attempt.missed:
        numbers = ", ".join(str(position + 1) for position in attempt.missed)
        lines.append(ctx.t("Questions to review: {numbers}.", numbers=numbers))
        choices.append(ctx.choice("quiz_review", N_("Review the ones I missed")))
    choices.append(ctx.choice("quiz_retry", N_("Try this quiz again")))
    if not attempt.recorded:
        choices.append(ctx.choice("training_record", N_("Record my training (employee number)")))
    choices += [ctx.choice("quiz_other", N_("Another quiz")), ctx.choice("menu", N_("Back to the menu"))]
    ctx.say("\n".join(lines), choices)


@router.on(State.QUIZ_RESULT)
async def on_result(ctx: Context) -> None:
    """Starts the review, a new attempt, the training record, another quiz, or the menu."""
    attempt = load_attempt(ctx)
    quiz = quiz_of(ctx, attempt) if attempt is not None else None
    if attempt is None:
        await ctx.go(State.QUIZ_PICK)
    elif ctx.choice_id == "quiz_review" and attempt.missed:
        attempt.review = 0
        keep_attempt(ctx, attempt)
        await ctx.go(State.QUIZ_REVIEW)
    elif ctx.choice_id == "quiz_retry" and quiz is not None:
        await start_quiz(ctx, quiz)
    elif ctx.choice_id == "training_record" and not attempt.recorded:
        await ctx.go(State.TRAINING_NUMBER)
    elif ctx.choice_id in ("quiz_other", "quiz_retry"):
        await ctx.go(State.QUIZ_PICK)
    elif ctx.choice_id == "menu":
        await ctx.go(State.MENU)
    else:
        await ask_result(ctx)


@router.asks(State.QUIZ_REVIEW)
async def ask_review(ctx: Context) -> None:
    """Shows one missed question with its right answer and why; then the next, or the score again."""
    attempt = load_attempt(ctx)
    if attempt is None:
        await ctx.go(State.QUIZ_PICK)
        return
    missed = attempt.missed
    question: Question | None = None
    while question is None and attempt.review < len(missed):
        position = missed[attempt.review]
        question = ctx.services.quizzes.question(attempt.items[position].fingerprint)
        attempt.review += 0 if question is not None else 1
    keep_attempt(ctx, attempt)
    if question is None:
        await ctx.go(State.QUIZ_RESULT)
        return
    attempt.more = question.teaches
    keep_attempt(ctx, attempt)
    last = attempt.review + 1 >= len(missed)
    text = "\n".join(
        [
            ctx.t(
                "Review {number} of {count}: question {position}",
                number=attempt.review + 1,
                count=len(missed),
                position=position + 1,
            ),
            question.text(ctx.language),
            feedback_text(ctx.t, question, right=False),
        ]
    )
    next_choice = ctx.choice("quiz_next", N_("Back to my score") if last else N_("Next"))
    more = ctx.choice("quiz_more", N_("📖 Read more"))
    ctx.say(text, [next_choice, more, ctx.choice("menu", N_("Back to the menu"))])


@router.on(State.QUIZ_REVIEW)
async def on_review(ctx: Context) -> None:
    """Moves to the next missed question, opens the FAQ topic, or returns to the menu."""
    attempt = load_attempt(ctx)
    if attempt is None:
        await ctx.go(State.QUIZ_PICK)
    elif ctx.choice_id == "quiz_next":
        attempt.review += 1
        keep_attempt(ctx, attempt)
        await ctx.go(State.QUIZ_REVIEW)
    elif ctx.choice_id == "quiz_more" and attempt.more:
        attempt.back = State.QUIZ_REVIEW
        keep_attempt(ctx, attempt)
        await ctx.go(State.QUIZ_READ)
    elif ctx.choice_id == "menu":
        await ctx.go(State.MENU)
    else:
        await ask_review(ctx)


@router.asks(State.QUIZ_READ)
async def ask_read(ctx: Context) -> None:
    """Opens the FAQ topic the last question teaches, with a way back to the quiz."""
    attempt = load_attempt(ctx)
    topic = attempt.more if attempt is not None else None
    answer = ctx.faq.entry(topic, ctx.language, ctx.site) if topic else None
    text = answer.text if answer is not None and answer.text else ctx.t("Sorry, that topic cannot be shown now.")
    ctx.say(text, [ctx.choice("quiz_continue", N_("Back to the quiz")), ctx.choice("menu", N_("Back to the menu"))])


@router.on(State.QUIZ_READ)
async def on_read(ctx: Context) -> None:
    """Returns to where the quiz was (question, review or score), or to the menu."""
    attempt = load_attempt(ctx)
    if ctx.choice_id == "quiz_continue":
        back = attempt.back if attempt is not None and attempt.back else State.QUIZ_QUESTION
        await ctx.go(back)
    elif ctx.choice_id == "menu":
        await ctx.go(State.MENU)
    else:
        await ask_read(ctx)
