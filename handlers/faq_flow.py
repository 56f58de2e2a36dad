"""Policy questions in the conversation: answer when the search is sure, otherwise offer the
three best topics and a way to ask HR — never a silent guess."""

from __future__ import annotations

import re

from .context import Context, FaqAnswer
from .conversation import State
from .i18n import N_
from .intents import Intent, Understanding
from .router import Router
from .settings import pick

router = Router()
router.reads_text(State.FAQ_QUESTION, State.FAQ_PICK)
ENTRY_PREFIX = "faq:"
_LIST_NUMBER = re.compile(r"^([ \t]*)(\d{1,2})[.．、)）][ \t]*", re.MULTILINE)
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def unnumbered(answer: str) -> str:
    """The answer with its own numbered list drawn as ①②③: the choices that follow it are numbered
    1, 2, 3 where workers type, and "1" must mean the first choice only."""

    def circled(match: re.Match[str]) -> str:
        number = int(match.group(2))
        mark = _CIRCLED[number - 1] if 1 <= number <= len(_CIRCLED) else f"({number})"
        return f"{match.group(1)}{mark} "

    return _LIST_NUMBER.sub(circled, answer)


def _service_choices(ctx: Context) -> list:  # type: ignore[type-arg]
    return [ctx.choice("ask_hr", N_("Ask HR instead")), ctx.choice("menu", N_("Back to the menu"))]


@router.asks(State.FAQ_QUESTION)
async def ask_question(ctx: Context) -> None:
    """Invites a question in the worker's own words."""
    ctx.say(
        ctx.t("What would you like to know? Write your question in your own words, in Chinese or English."),
        [ctx.choice("menu", N_("Back to the menu"))],
    )


@router.on(State.FAQ_QUESTION)
async def on_question(ctx: Context) -> None:
    """Answers the question, or returns to the menu."""
    if ctx.choice_id == "menu" or not ctx.text:
        await ctx.go(State.MENU)
        return
    await answer_question(ctx, ctx.text)


@router.understands(Intent.QUESTION)
async def answer_in_passing(ctx: Context, understood: Understanding) -> None:
    """Answers a question asked where no question was expected (at a case's status, say)."""
    await answer_question(ctx, ctx.text or "")


async def answer_question(ctx: Context, question: str) -> None:
    """Searches the FAQ and shows the answer with related topics, or the best three topics."""
    result = ctx.faq.answer(question, ctx.language, ctx.site)
    ctx.conversation.state = State.FAQ_PICK
    _show(ctx, result)


def _show(ctx: Context, result: FaqAnswer) -> None:
    if result.text is not None:
        ctx.say(unnumbered(result.text), [*_entry_choices(result.related), *_service_choices(ctx)])
    elif result.suggestions:
        ctx.say(
            ctx.t("I am not sure I understood. Is it one of these?"),
            [*_entry_choices(result.suggestions), *_service_choices(ctx)],
        )
    else:
        ctx.say(ctx.t("Sorry, I have no answer to that yet."), _service_choices(ctx))


def _entry_choices(choices: tuple) -> list:  # type: ignore[type-arg]
    return [type(c)(ENTRY_PREFIX + c.id, c.label) for c in choices]


@router.asks(State.FAQ_PICK)
async def ask_pick(ctx: Context) -> None:
    """Asks for another question after an answer."""
    await ask_question(ctx)


@router.on(State.FAQ_PICK)
async def on_pick(ctx: Context) -> None:
    """Opens a suggested topic, explains how to reach HR, or answers a new question."""
    choice = ctx.choice_id or ""
    if choice.startswith(ENTRY_PREFIX):
        _show(ctx, ctx.faq.entry(choice.removeprefix(ENTRY_PREFIX), ctx.language, ctx.site))
    elif choice == "ask_hr":
        contact = ctx.site.contacts.get("hr")
        text = ctx.t("You can ask HR directly: {contact}", contact=pick(contact, ctx.language)) if contact else ""
        ctx.say(
            "\n".join(
                filter(
                    None,
                    [
                        text,
                        ctx.t(
                            "To tell HR about something that happened, anonymously, choose "
                            "\"Report harassment\" in the menu."
                        ),
                    ],
                )
            )
        )
        await ctx.go(State.MENU)
    elif choice == "menu":
        await ctx.go(State.MENU)
    elif ctx.text:
        await answer_question(ctx, ctx.text)
    else:
        await ask_question(ctx)
